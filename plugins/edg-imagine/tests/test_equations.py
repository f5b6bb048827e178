"""Each module of §3 on hand-made inputs: shapes and values of eq. 1–22."""

from __future__ import annotations

import pytest
import torch

from edg.api import DialogueEmbedding
from edg_imagine.cause_encoder import CauseEncoder
from edg_imagine.communication_heads import MECHANISMS, CommunicationHeads
from edg_imagine.diversity_loss import face_weights, weighted_token_nll
from edg_imagine.emotion_perception import EmotionPerception
from edg_imagine.knowledge_encoder import KnowledgeEncoder, masked_mean
from edg_imagine.knowledge_refinement import GatedMlp, KnowledgeRefinement, fused_memory
from edg_imagine.mechanism_loss import mechanism_nll
from edg_imagine.sequence_encoder import SequenceEncoder

D = 8


def encoder(input_dim=None):
    torch.manual_seed(0)
    return SequenceEncoder(D, layers=1, heads=2, ffn_dim=16, dropout=0.0, input_dim=input_dim).eval()


def embedding():
    torch.manual_seed(1)
    return DialogueEmbedding(20, D, 0, max_len=64, dropout=0.0).eval()


def test_emotion_perception_reads_the_cls_state():  # eq. 1-2
    module = EmotionPerception(encoder(), D, num_emotions=32).eval()
    x, mask = torch.randn(2, 5, D), torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    states, logits = module(x, mask)
    assert states.shape == (2, 5, D) and logits.shape == (2, 32)
    assert torch.allclose(logits, states[:, 0] @ module.classifier.weight.t() + module.classifier.bias)
    # padding does not reach the [CLS] state
    x2 = x.clone()
    x2[0, 3:] = 100.0
    assert torch.allclose(module(x2, mask)[1][0], logits[0], atol=1e-5)


def test_cause_tokens_sum_word_position_and_state():  # eq. 4-5
    emb = embedding()
    ids, roles = torch.tensor([[5, 6, 7]]), torch.tensor([[0, 1, 1]])
    expected = emb.word(ids) * emb.scale + emb.positions[:3] + emb.state(roles)
    assert torch.allclose(emb(ids, roles), expected)
    assert emb.positions.shape == (64, D) and emb.state.weight.shape == (2, D)  # E_P, E_S
    module = CauseEncoder(emb, encoder())
    states, summary = module(ids, roles, torch.ones(1, 3, dtype=torch.bool))
    assert states.shape == (1, 3, D) and torch.equal(summary, states[:, 0])  # h_c = H_C[0]
    # the dialogue state changes the encoding
    assert not torch.allclose(module(ids, torch.zeros_like(roles), torch.ones(1, 3, dtype=torch.bool))[0], states)


def test_mechanism_signal_is_the_probability_weighted_sum():  # eq. 6-9
    heads = CommunicationHeads(D)
    with torch.no_grad():
        for i, m in enumerate(MECHANISMS):
            heads.heads[m].weight.zero_()
            heads.heads[m].bias.copy_(torch.tensor([0.0, float(i)]))  # P̂_cmi(yes) = sigmoid(i)
            heads.degrees[m].weight.copy_(torch.arange(2 * D, dtype=torch.float).view(2, D) * (i + 1))
    logits, signal = heads(torch.randn(3, D))
    assert logits.shape == (3, 3, 2) and signal.shape == (3, D)
    expected = torch.zeros(D)
    for i, m in enumerate(MECHANISMS):
        p = torch.softmax(torch.tensor([0.0, float(i)]), -1)
        expected += p[0] * heads.degrees[m].weight[0] + p[1] * heads.degrees[m].weight[1]
    assert torch.allclose(signal[0], expected, atol=1e-5) and torch.allclose(signal[2], expected, atol=1e-5)


def test_mechanism_loss_sums_the_three_heads():  # eq. 8
    logits = torch.tensor([[[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]]])
    labels = torch.tensor([[1, 0, 1]])
    expected = -(torch.log(torch.tensor(0.5)) + torch.log_softmax(torch.tensor([2.0, 0.0]), -1)[0]
                 + torch.log_softmax(torch.tensor([0.0, 1.0]), -1)[1])
    assert torch.allclose(mechanism_nll(logits, labels), expected)


def test_knowledge_summaries_cls_and_affect_mean():  # eq. 10-12
    emb = embedding()
    module = KnowledgeEncoder(emb, encoder()).eval()
    ids = torch.tensor([[4, 5, 6, 0], [4, 7, 0, 0]])
    mask = ids.ne(0)
    out = module({"Affect": (ids, mask), "Behaviour": (ids, mask)})
    states = module.encoder(emb(ids), mask)
    assert torch.allclose(out["Behaviour"], states[:, 0])  # eq. 11
    assert torch.allclose(out["Affect"][1], states[1, :2].mean(0), atol=1e-6)  # eq. 12, real tokens only
    assert torch.allclose(masked_mean(torch.ones(1, 3, 2), torch.tensor([[True, False, False]])), torch.ones(1, 2))


def test_gated_mlp_is_eq16():
    mlp = GatedMlp(D)
    x = torch.randn(2, 3, 2 * D)
    expected = torch.relu((torch.sigmoid(x) * x) @ mlp.hidden.weight.t()) @ mlp.out.weight.t()
    assert torch.allclose(mlp(x), expected, atol=1e-6)
    assert mlp.hidden.bias is None and mlp.out.bias is None


def test_refinement_and_fused_memory_shapes():  # eq. 13-17
    module = KnowledgeRefinement(D, encoder(2 * D)).eval()
    causes, mask = torch.randn(2, 5, D), torch.ones(2, 5, dtype=torch.bool)
    summaries = {g: torch.randn(2, D) for g in ("Affect", "Behaviour", "Physical", "Events")}
    parts = module(causes, mask, summaries)
    assert [p.shape for p in parts] == [(2, 5, D)] * 3
    # eq. 13: the summary is concatenated to every token, so it changes every token's refinement
    changed = dict(summaries, Behaviour=torch.randn(2, D))
    assert not torch.allclose(module(causes, mask, changed)[0], parts[0])
    assert torch.allclose(module(causes, mask, changed)[1], parts[1])  # Physical does not read Behaviour
    # eq. 15: the Affect refinement enters every cognitive group
    affect = dict(summaries, Affect=torch.randn(2, D))
    assert all(not torch.allclose(a, b) for a, b in zip(module(causes, mask, affect), parts))
    signal = torch.randn(2, D)
    memory = fused_memory(parts, signal)
    assert memory.shape == (2, 5, 4 * D)  # Ĥ_C ∈ R^{L×4d}
    assert torch.equal(memory[:, 3, 3 * D:], signal) and torch.equal(memory[:, :, :D], parts[0])
    assert fused_memory(parts, None).shape == (2, 5, 3 * D)


def test_face_weights_on_a_known_frequency_table():  # eq. 20-21, mean 1
    weights = face_weights(torch.tensor([0.0, 1.0, 3.0]))
    # FQ = [0, 1/4, 3/4], a = -4/3, w = [1, 2/3, 0], mean 5/9
    assert torch.allclose(weights, torch.tensor([1.8, 1.2, 0.0]), atol=1e-6)
    assert torch.allclose(weights.mean(), torch.tensor(1.0))
    assert torch.equal(face_weights(torch.zeros(4)), torch.ones(4))


def test_diversity_loss_weights_each_target_token():  # eq. 22
    log_probs = torch.log_softmax(torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [3.0, 1.0, 0.0]]]), -1)
    labels = torch.tensor([[2, 1, -100]])
    weights = torch.tensor([1.8, 1.2, 0.0])
    expected = -(0.0 * log_probs[0, 0, 2] + 1.2 * log_probs[0, 1, 1]) / 2
    assert torch.allclose(weighted_token_nll(log_probs, labels, weights), expected)


@pytest.mark.parametrize("memory_dim", [4 * D, 2 * D])
def test_decoder_starts_from_the_emotion_signal_and_steps_like_teacher_forcing(memory_dim):  # eq. 18
    from edg.interfaces.types import EncoderOutput
    from edg_imagine.emotion_first_decoder import EmotionFirstDecoder, EmotionFirstDecoderOptions

    torch.manual_seed(2)
    emb = embedding()
    decoder = EmotionFirstDecoder(EmotionFirstDecoderOptions(layers=2, heads=2, ffn_dim=16, dropout=0.0), d_model=D,
                                  memory_dim=memory_dim, embedding=emb, bos_id=2, eos_id=3, pad_id=0).eval()
    memory = EncoderOutput(torch.randn(2, 4, memory_dim), torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool),
                           {"first_input": torch.randn(2, D)})
    ids = torch.tensor([[2, 5, 6, 7], [2, 8, 9, 0]])
    logits = decoder(ids, memory).logits
    assert logits.shape == (2, 4, 20)
    # the [BOS] token is not read: y_0 is ê_emo
    assert torch.allclose(decoder(torch.tensor([[9, 5, 6, 7], [2, 8, 9, 0]]), memory).logits, logits, atol=1e-5)
    other = EncoderOutput(memory.hidden, memory.mask, {"first_input": torch.randn(2, D)})
    assert not torch.allclose(decoder(ids, other).logits, logits)
    # the incremental state gives the teacher-forced log-probabilities position by position
    state = decoder.start(memory)
    for t in range(3):
        step, state = decoder.step(ids[:, t], state)
        assert torch.allclose(step, torch.log_softmax(logits[:, t], -1), atol=1e-4)
    # reordering rows (beams of the second example) keeps each row on its example
    state = decoder.reorder(state, torch.tensor([1, 1]))
    step, _ = decoder.step(torch.tensor([9, 9]), state)
    assert torch.allclose(step[0], step[1], atol=1e-6)
