import math

import pytest
import torch

from edg.config import GenerationConfig
from edg.generation import search
from edg.interfaces.types import EncoderOutput

PAD, BOS, EOS, A, B = range(5)
# next-token probabilities given the last token: greedy takes "a" (0.6) and loops on it;
# the most probable complete response is "b" (0.4 * 0.9 = 0.36).
TABLE = {
    BOS: {A: 0.6, B: 0.4},
    A: {A: 0.4, B: 0.3, EOS: 0.3},
    B: {EOS: 0.9, A: 0.05, B: 0.05},
}


def step(prefix, memory):
    rows = []
    for last in prefix[:, -1].tolist():
        p = torch.full((5,), 1e-9)
        for tok, prob in TABLE[last].items():
            p[tok] = prob
        rows.append(p.log())
    return torch.stack(rows)


def memory(batch=2):
    return EncoderOutput(torch.zeros(batch, 1, 4), torch.ones(batch, 1, dtype=torch.bool))


def run(**kw):
    cfg = GenerationConfig(**{"max_length": 3, "min_length": 0, "length_penalty": 0.0, **kw})
    return search(step, memory(), cfg, bos_id=BOS, eos_id=EOS, banned_ids=(PAD, BOS))


def test_greedy_follows_the_local_maximum():
    cands = run(strategy="greedy")
    assert [c[0].token_ids for c in cands] == [[A, A, A]] * 2
    assert cands[0][0].logprob == pytest.approx(math.log(0.6 * 0.4 * 0.4), abs=1e-5)


def test_beam_finds_the_most_probable_response():
    cands = run(strategy="beam", beam_size=2, num_return=2)
    best = cands[0][0]
    assert best.token_ids == [B]
    assert best.logprob == pytest.approx(math.log(0.36), abs=1e-5)
    assert len(cands[0]) == 2 and cands[0][0].score >= cands[0][1].score
    assert cands[0][1].token_ids == [A]  # 0.6 * 0.3 = 0.18, the runner-up


def test_length_penalty_normalises_scores():
    cands = run(strategy="beam", beam_size=2, num_return=1, length_penalty=1.0)
    c = cands[0][0]
    assert c.score == pytest.approx(c.logprob / (len(c.token_ids) + 1), abs=1e-5)


def test_min_length_blocks_early_end():
    cands = run(strategy="beam", beam_size=2, min_length=2)
    assert all(len(c.token_ids) >= 2 for c in cands[0])


def test_top_k_one_sampling_is_greedy():
    torch.manual_seed(0)
    cands = run(strategy="sample", top_k=1, num_return=3)
    assert all(c.token_ids == [A, A, A] for c in cands[0])
    assert len(cands[0]) == 3


def test_sampling_follows_the_distribution():
    torch.manual_seed(0)
    cfg = GenerationConfig(strategy="sample", max_length=1, min_length=0, num_return=400)
    cands = search(step, memory(1), cfg, bos_id=BOS, eos_id=EOS)
    share_a = sum(c.token_ids == [A] for c in cands[0]) / 400
    assert 0.5 < share_a < 0.7  # P(a | BOS) = 0.6


def test_banned_tokens_never_appear():
    def prefers_pad(prefix, mem):
        lp = step(prefix, mem)
        lp[:, PAD] = 0.0
        return lp

    cfg = GenerationConfig(strategy="greedy", max_length=3, min_length=0)
    cands = search(prefers_pad, memory(), cfg, bos_id=BOS, eos_id=EOS, banned_ids=(PAD,))
    assert PAD not in cands[0][0].token_ids


def test_transformer_decoder_next_token_matches_full_forward():
    from edg.baseline.transformer_decoder import TransformerDecoder, TransformerDecoderOptions
    from edg.baseline.dialogue_embedding import DialogueEmbedding

    torch.manual_seed(0)
    emb = DialogueEmbedding(20, 16, 0, dropout=0.0)
    dec = TransformerDecoder(TransformerDecoderOptions(layers=2, heads=2, ffn_dim=32, dropout=0.0),
                             d_model=16, embedding=emb, bos_id=1, eos_id=2, pad_id=0).eval()
    mem = EncoderOutput(torch.randn(3, 5, 16), torch.ones(3, 5, dtype=torch.bool))
    prefix = torch.tensor([[1, 4, 5], [1, 6, 7], [1, 8, 9]])
    full = dec(prefix, mem).log_probs()[:, -1]
    torch.testing.assert_close(dec.next_token(prefix, mem), full, rtol=1e-5, atol=1e-5)


def test_metric_text_makes_references_and_responses_comparable():
    from edg.evaluation import metric_text

    assert metric_text("That's it, I PROMISE!") == "that ' s it , i promise !"
    assert metric_text("that ' s it , i promise !") == metric_text("That's it, I PROMISE!")
    assert metric_text("  ") == ""
