import math

import pytest
import torch

from edg.interfaces.types import Candidate, EncoderOutput
from edg_nec.similarity_reranker import SimilarityOptions, SimilarityReranker, lm_score


def _reranker(**kw):
    r = SimilarityReranker(SimilarityOptions(**kw))
    r.registered_name = "nec.similarity"
    return r


class MeanFeatures:
    """A model whose contrastive projection is the identity: features = masked mean."""

    @staticmethod
    def features(hidden, mask):
        m = mask.unsqueeze(-1).float()
        return (hidden.float() * m).sum(1) / m.sum(1).clamp(min=1)


MODEL = MeanFeatures()


def _memory():
    # z_x = mean over the two unmasked positions = [1, 0]; the padded position must be ignored
    hidden = torch.tensor([[[1.0, 1.0], [1.0, -1.0], [-50.0, 50.0]]])
    return EncoderOutput(hidden, torch.tensor([[True, True, False]]))


def test_picks_argmax_of_alpha_sim_plus_lm():
    # A: most likely, orthogonal to z_x; B: less likely, aligned with z_x
    a = Candidate([5, 6, 7], logprob=-0.3, score=-0.075, hidden=torch.tensor([0.0, 1.0]))
    b = Candidate([8, 9, 10], logprob=-4.0, score=-1.0, hidden=torch.tensor([2.0, 0.0]))
    out = _reranker(alpha=0.7).rerank([[a, b]], _memory(), {}, MODEL)
    s_a = 0.7 * 0.0 + 0.3 * math.exp(-0.3 / 4)
    s_b = 0.7 * 1.0 + 0.3 * math.exp(-4.0 / 4)
    assert s_b > s_a
    assert out[0][0].token_ids == [8, 9, 10]
    assert out[0][0].score == pytest.approx(s_b, abs=1e-6)
    assert out[0][1].score == pytest.approx(s_a, abs=1e-6)
    assert out[0][0].extras["s_sim"] == pytest.approx(1.0)


def test_alpha_zero_is_language_model_order():
    a = Candidate([5], logprob=-0.3, score=-0.15, hidden=torch.tensor([0.0, 1.0]))
    b = Candidate([8], logprob=-4.0, score=-2.0, hidden=torch.tensor([2.0, 0.0]))
    out = _reranker(alpha=0.0).rerank([[b, a]], _memory(), {}, MODEL)
    assert out[0][0].token_ids == [5]


def test_lm_score_variants():
    c = Candidate([1, 2, 3], logprob=-2.0, score=-0.5)
    assert lm_score(c, "product") == pytest.approx(math.exp(-2.0))
    assert lm_score(c, "geometric_mean") == pytest.approx(math.exp(-0.5))
    assert lm_score(c, "logprob") == -0.5


def test_product_literal_eq14_changes_the_choice():
    # with the literal product, S_lm of a 10-token answer is tiny: similarity decides
    long_likely = Candidate(list(range(10)), logprob=-5.0, score=-0.45, hidden=torch.tensor([0.6, 0.8]))
    short_aligned = Candidate([1], logprob=-3.0, score=-1.5, hidden=torch.tensor([1.0, 0.0]))
    geo = _reranker(alpha=0.7, lm_score="geometric_mean").rerank([[long_likely, short_aligned]], _memory(), {}, MODEL)
    prod = _reranker(alpha=0.7, lm_score="product").rerank([[long_likely, short_aligned]], _memory(), {}, MODEL)
    # geometric: 0.7*0.6+0.3*exp(-5/11)=0.610 vs 0.7+0.3*exp(-1.5)=0.767 -> short; product: 0.42+0.002 vs 0.7+0.015
    assert geo[0][0].token_ids == [1] and prod[0][0].token_ids == [1]
    far = Candidate([1], logprob=-0.01, score=-0.005, hidden=torch.tensor([0.0, 1.0]))
    geo = _reranker(alpha=0.5, lm_score="geometric_mean").rerank([[long_likely, far]], _memory(), {}, MODEL)
    prod = _reranker(alpha=0.5, lm_score="product").rerank([[long_likely, far]], _memory(), {}, MODEL)
    # geometric: 0.5*0.6+0.5*0.635=0.617 vs 0+0.5*0.995=0.497; product: 0.3+0.003 vs 0.495
    assert geo[0][0].token_ids == list(range(10))
    assert prod[0][0].token_ids == [1]


def test_similarity_uses_the_learned_projection_of_the_contrastive_loss(word_tokenizer, nec):
    """Eq. 13 compares the representations the contrastive loss trains (CoNT's projection):
    S_sim = cos(model.features(encoder states), model.features(decoder states of [BOS] y))
    with the decoder states teacher forced, not the raw mean states."""
    import torch.nn.functional as F

    from edg.config import GenerationConfig

    system, model, splits = nec.build_tiny(word_tokenizer)
    model.eval()
    batch = system.collate([splits["test"][i] for i in range(3)])
    cfg = GenerationConfig(strategy="beam", beam_size=3, num_return=3, max_length=6)
    with torch.no_grad():
        # a projection far from the identity, so raw and projected similarities differ
        torch.manual_seed(1)
        model.contrastive_head.weight.normal_(0, 1.0)
        model.contrastive_head.bias.normal_(0, 1.0)
        memory = model.encode(batch)
        candidates = model.decoder.generate(memory, cfg, return_hidden=True)
        out = _reranker(alpha=0.7).rerank(candidates, memory, batch, model)
        z_x = model.features(memory.hidden, memory.mask)
        raw_x = MeanFeatures.features(memory.hidden, memory.mask)
        differs = 0
        for i, cands in enumerate(out):
            for c in cands:
                seq = torch.tensor([[model.decoder.bos_id, *c.token_ids]])
                states = model.decoder.hidden_states(seq, memory.index_select(torch.tensor([i])))
                z_y = model.features(states, torch.ones_like(seq, dtype=torch.bool))
                expected = float(F.cosine_similarity(z_x[i : i + 1], z_y)[0])
                assert c.extras["s_sim"] == pytest.approx(expected, abs=1e-4)
                raw = float(F.cosine_similarity(raw_x[i : i + 1], states.mean(1))[0])
                differs += abs(raw - expected) > 1e-3
    assert differs > 0
