"""Hand-computed values of CTSM's equations (no data needed)."""

from __future__ import annotations

import math

import pytest
import torch

from edg.interfaces.types import DecoderOutput, EmotionOutput, EncoderOutput, ModelOutput


# -- V_cos (eq. 5–7) -------------------------------------------------------------------
def test_cosine_inclination_hand_values():
    from edg_ctsm.state_emotion import cosine_inclination

    context = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]]])  # [1, 3, 2]
    emotions = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]])  # [3, 2]
    r = 1 / math.sqrt(2)
    expected = torch.tensor([[[1.0, 0.0, 0.6],
                              [r, r, 7 / (5 * math.sqrt(2))],
                              [0.0, -1.0, -0.8]]])
    assert torch.allclose(cosine_inclination(context, emotions), expected, atol=1e-6)


def test_state_module_builds_v_s_from_v_cos_idf_and_compressed_semantics():
    from edg.data.statistics import IdfTable
    from edg_ctsm.state_emotion import StateEmotion, StateEmotionOptions

    opts = StateEmotionOptions(d_cs=2, projection_dim=2, logit_temperature=0.5, dropout=0.0)
    idf = IdfTable({"happy": 0.5, "sad": 1.5}, default=2.0, num_documents=7)
    m = StateEmotion(opts, d_model=2, num_emotions=3, vocab=["[PAD]", "happy", "sad", "zebra"], idf=idf)
    with torch.no_grad():  # W_1 = W_2 = I, b = 0: Ẽ = E
        for lin in (m.w1, m.w2):
            lin.weight.copy_(torch.eye(2))
            lin.bias.zero_()
    e_c = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]]])
    e_e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]])
    ids = torch.tensor([[1, 2, 3]])
    mask = torch.tensor([[True, True, False]])
    hidden = torch.randn(1, 3, 2)
    out = m(hidden, mask, input_ids=ids, context_embedding=e_c, emotion_embedding=e_e)
    v_s = out.extras["embedding"]
    assert v_s.shape == (1, 3, 3 + 1 + 2) and out.extras["hidden"].shape == (1, 3, 6)
    r = 1 / math.sqrt(2)
    assert torch.allclose(v_s[0, :, :3], torch.tensor([[1, 0, 0.6], [r, r, 0.7 * math.sqrt(2)], [0, -1, -0.8]]),
                          atol=1e-6)
    # IDF divided by the vocabulary's largest value (unseen words: the table's default log N)
    assert v_s[0, :, 3].tolist() == [0.25, 0.75, 1.0]
    assert torch.allclose(v_s[0, :, 4:], m.compress(hidden)[0], atol=1e-6)
    # logits: masked mean of V_cos over the real tokens / temperature
    mean = torch.tensor([(1 + r) / 2, r / 2, (0.6 + 0.7 * math.sqrt(2)) / 2])
    assert torch.allclose(out.logits[0], mean / 0.5, atol=1e-5)


# -- intensity weighting (eq. 10–11) ------------------------------------------------------
def test_kemp_emotion_intensity():
    from edg_ctsm.emotion_guidance import emotion_intensity

    vad = torch.tensor([[0.5, 0.0, 0.3], [1.0, 1.0, 0.0], [0.0, 0.5, 0.0]])
    in_lexicon = torch.tensor([True, True, False])
    got = emotion_intensity(vad, in_lexicon)
    # (‖[V − 0.5, A/2]‖ − 0.06467) / 0.607468
    expected = [(0.0 - 0.06467) / 0.607468, (math.sqrt(0.5) - 0.06467) / 0.607468, 0.0]
    assert torch.allclose(got, torch.tensor(expected), atol=1e-6)


def test_intensity_weighting_is_a_softmax_over_real_tokens():
    from edg_ctsm.emotion_guidance import intensity_pool, intensity_weights

    intensity = torch.tensor([[0.0, math.log(2.0), 5.0]])
    mask = torch.tensor([[True, True, False]])
    assert torch.allclose(intensity_weights(intensity, mask), torch.tensor([[1 / 3, 2 / 3, 0.0]]), atol=1e-6)
    v = torch.tensor([[[3.0, 0.0], [0.0, 3.0], [100.0, 100.0]]])
    # C = Σ softmax(I)_l V_l = 1/3·[3, 0] + 2/3·[0, 3]
    assert torch.allclose(intensity_pool(v, intensity, mask), torch.tensor([[1.0, 2.0]]), atol=1e-6)


def test_guidance_head_eq_12_to_14():
    from edg_ctsm.emotion_guidance import GuidanceHead

    head = GuidanceHead(2, 1, 2, num_emotions=2)
    with torch.no_grad():
        head.w3_c.weight.zero_()
        head.w3_c.bias.fill_(math.atanh(0.5))  # tanh(W_3^c C + b_3) = 0.5
        head.w3_s.weight.copy_(torch.tensor([[0.0], [2 * math.log(3.0)]]))  # scores [0, ln 3]
        head.w4.weight.copy_(torch.eye(2))
        head.w4.bias.zero_()
        head.out.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
        head.out.bias.copy_(torch.tensor([0.0, 1.0]))
    c = torch.tensor([[2.0, 4.0]])
    # eq. 12: S = softmax([0, ln 3]) = [1/4, 3/4], a distribution over the D = 2 features
    assert torch.allclose(head.attention(c), torch.tensor([[0.25, 0.75]]))
    # eq. 13: C_tchr S = D · S ⊙ C = 2 · [1/4, 3/4] ⊙ [2, 4] = [1, 6]; S' = tanh([1, 6])
    assert torch.allclose(head.attend(c), torch.tensor([[1.0, 6.0]]))
    # eq. 14: logits = W_out S' + b_out
    expected = torch.tensor([[math.tanh(1.0), 2 * math.tanh(6.0) + 1]])
    assert torch.allclose(head(c), expected, atol=1e-6)
    # uniform attention (W_3^s = 0) leaves C as it is: S re-weights features, never shrinks them
    with torch.no_grad():
        head.w3_s.weight.zero_()
    assert torch.allclose(head.attend(c), c)


def test_guidance_head_logits_follow_its_input_at_ctsm_width():
    """At CTSM's width (D = 300 + 14 + 43 = 357) the head's logits vary with C as much as
    they do without the attention S (S averages 1/D, so an unscaled S ⊙ C made them ~357
    times flatter and the teacher predicted one class for every dialogue)."""
    from edg_ctsm.emotion_guidance import GuidanceHead

    torch.manual_seed(0)
    head = GuidanceHead(357, 300, 300)
    c = torch.randn(64, 357)
    logits = head(c)
    without_s = head.out(torch.tanh(head.w4(c)))
    spread, reference = logits.std(0).mean().item(), without_s.std(0).mean().item()
    assert spread > 0.5 * reference > 0
    assert logits.argmax(-1).unique().numel() > 1  # not one class for every input
    # and the gradient reaches C at the same scale
    c.requires_grad_(True)
    head(c).logsumexp(-1).sum().backward()
    grad_with_s = c.grad.norm().item()
    c.grad = None
    head.out(torch.tanh(head.w4(c))).logsumexp(-1).sum().backward()
    assert grad_with_s > 0.3 * c.grad.norm().item()


# -- soft labels (eq. 15–19) ---------------------------------------------------------------
def test_soft_label_loss_hand_values():
    from edg_ctsm.guidance_loss import soft_label_loss

    teacher = torch.tensor([[0.0, math.log(3.0)]])  # P_tchr = [1/4, 3/4]
    student = torch.tensor([[0.0, 0.0]])  # P_stu = [1/2, 1/2]
    # −Σ P_tchr log P_stu = log 2 (T = 1, the paper's plain softmax)
    assert soft_label_loss(student, teacher).item() == pytest.approx(math.log(2), abs=1e-6)
    student = torch.tensor([[math.log(1.0), math.log(4.0)]])  # P_stu = [1/5, 4/5]
    assert soft_label_loss(student, teacher).item() == pytest.approx(
        -(0.25 * math.log(0.2) + 0.75 * math.log(0.8)), abs=1e-6)
    # T = 2: targets softmax([0, log 3]/2) = [1, √3]/(1 + √3), uniform student, × T²
    assert soft_label_loss(torch.zeros(1, 2), teacher, 2.0).item() == pytest.approx(4 * math.log(2), abs=1e-6)


def _outputs(teacher, student):
    dec = DecoderOutput(torch.zeros(1, 1, 2), torch.zeros(1, 1, 2), is_log_probs=True)
    return ModelOutput(dec, None, EmotionOutput(student, student),
                       {"guidance": {"teacher_logits": teacher, "student_logits": student}})


def test_emotion_and_guidance_terms_sum_to_l_e():
    from edg_ctsm.emotion_loss import EmotionLoss
    from edg_ctsm.guidance_loss import GuidanceLoss, GuidanceOptions

    teacher = torch.tensor([[0.0, math.log(3.0)]], requires_grad=True)
    student = torch.tensor([[0.0, 0.0]], requires_grad=True)
    batch = {"emotion_id": torch.tensor([1])}
    out = _outputs(teacher, student)
    l_tchr = EmotionLoss(None).compute(batch, out, None)
    l_stu = GuidanceLoss(GuidanceOptions()).compute(batch, out, None)
    assert l_tchr.value.item() == pytest.approx(-math.log(0.75), abs=1e-6)  # eq. 15
    assert l_stu.value.item() == pytest.approx(math.log(2), abs=1e-6)  # eq. 18
    (l_tchr.value + l_stu.value).backward()  # eq. 19
    # the teacher learns from the gold label only: its gradient is that of eq. 15
    assert torch.allclose(teacher.grad, torch.tensor([[0.25, -0.25]]), atol=1e-6)
    # the student's: softmax(s) − P_tchr
    assert torch.allclose(student.grad, torch.tensor([[0.25, -0.25]]), atol=1e-6)


def test_guidance_term_needs_the_guidance_module():
    from edg_ctsm.guidance_loss import GuidanceLoss, GuidanceOptions

    out = _outputs(None, torch.zeros(1, 2))
    with pytest.raises(ValueError, match="use_guidance"):
        GuidanceLoss(GuidanceOptions()).compute({"emotion_id": torch.tensor([0])}, out, None)


# -- cross-contrastive InfoNCE (eq. 22–24) -------------------------------------------------
def test_info_nce_hand_values():
    from edg_ctsm.cross_contrastive_loss import info_nce

    h_p = 0.07 * torch.eye(2)
    h_q = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    # scores = h_p h_q^T / 0.07 = [[1, 0], [0, 0]]
    row0, row1 = math.log(1 + math.exp(-1)), math.log(2)
    assert info_nce(h_p, h_q, 0.07).item() == pytest.approx((row0 + row1) / 2, abs=1e-6)
    # negatives only in the denominator: row0 0 − 1, row1 0 − 0
    assert info_nce(h_p, h_q, 0.07, include_positive=False).item() == pytest.approx(-0.5, abs=1e-6)
    # normalised (cosine): h_q row 1 is the zero vector -> scores [[1/τ, 0], [0, 0]]
    expected = (math.log(1 + math.exp(-1 / 0.07)) + math.log(2)) / 2
    assert info_nce(h_p, h_q, 0.07, normalize=True).item() == pytest.approx(expected, abs=1e-6)


def test_five_pair_cross_contrastive_loss_hand_values():
    from edg_ctsm.cross_contrastive_loss import POSITIVE_PAIRS, CrossContrastiveLoss, CrossContrastiveOptions

    assert len(POSITIVE_PAIRS) == 5
    assert ("context", "emotion") not in POSITIVE_PAIRS and ("emotion", "context") not in POSITIVE_PAIRS
    a = 0.07 * torch.eye(2)
    reps = {"context": a, "response": a, "emotion": a, "generated": torch.tensor([[1.0, 0.0], [0.0, 0.0]])}
    same = math.log(1 + math.exp(-0.07))  # scores 0.07·I
    mixed = (math.log(1 + math.exp(-1)) + math.log(2)) / 2  # scores [[1, 0], [0, 0]]
    # pairs: (Y, ts) same, (C, P) mixed, (C, Y) same, (ts, P) mixed, (Y, P) mixed
    expected = (2 * same + 3 * mixed) / 5
    out = ModelOutput(DecoderOutput(torch.zeros(2, 1, 2), torch.zeros(2, 1, 2)), extras={"ccl": reps})
    term = CrossContrastiveLoss(CrossContrastiveOptions(normalize=False))
    value = term.compute({}, out, None)
    assert value.value.item() == pytest.approx(expected, abs=1e-6)
    assert value.logs["ccl[context~generated]"] == pytest.approx(mixed, abs=1e-6)
    assert CrossContrastiveOptions().temperature == 0.07


# -- pointer-generator (eq. 20) ----------------------------------------------------------
def test_pointer_generator_mixture_hand_values():
    from edg_ctsm.pointer_generator_decoder import pointer_generator_mixture

    vocab_logits = torch.log(torch.tensor([[[0.1, 0.2, 0.3, 0.4]]]))
    attention = torch.tensor([[[0.25, 0.75]]])
    source = torch.tensor([[3, 1]])
    p_gen = torch.tensor([[[0.8]]])
    # 0.8·[.1 .2 .3 .4] + 0.2·[0 .75 0 .25]
    expected = torch.tensor([0.08, 0.31, 0.24, 0.37])
    got = pointer_generator_mixture(vocab_logits, attention, source, p_gen).exp()[0, 0]
    assert torch.allclose(got, expected, atol=1e-6)
    # a token repeated in the source accumulates its attention
    got = pointer_generator_mixture(vocab_logits, attention, torch.tensor([[2, 2]]), torch.tensor([[[0.0]]]))
    assert torch.allclose(got.exp()[0, 0], torch.tensor([0.0, 0.0, 1.0, 0.0]), atol=1e-6)


def test_pointer_generator_decoder_returns_normalised_log_probs():
    from edg.baseline.dialogue_embedding import DialogueEmbedding
    from edg_ctsm.pointer_generator_decoder import PointerGeneratorDecoder, PointerGeneratorOptions

    torch.manual_seed(0)
    emb = DialogueEmbedding(10, 8, 0, dropout=0.0)
    dec = PointerGeneratorDecoder(PointerGeneratorOptions(heads=2, ffn_dim=16, dropout=0.0), d_model=8,
                                  embedding=emb, bos_id=2, eos_id=3, pad_id=0)
    memory = EncoderOutput(torch.randn(2, 4, 8), torch.tensor([[True] * 4, [True, True, False, False]]),
                           {"input_ids": torch.tensor([[5, 6, 7, 8], [9, 9, 0, 0]])})
    out = dec(torch.tensor([[2, 4, 5], [2, 6, 0]]), memory)
    assert out.is_log_probs and out.logits.shape == (2, 3, 10)
    assert torch.allclose(out.logits.exp().sum(-1), torch.ones(2, 3), atol=1e-5)
    attn = out.extras["copy_attention"]
    assert torch.allclose(attn[1, :, 2:], torch.zeros(3, 2))  # padding is never copied
    p_gen = out.extras["p_gen"]
    vocab = torch.softmax(out.hidden @ emb.word.weight.t(), -1)
    # token 9 (only in the source of row 1) gets p_gen·P_vocab + (1 − p_gen)·(all attention)
    expected = p_gen[1, :, 0] * vocab[1, :, 9] + (1 - p_gen[1, :, 0]) * attn[1, :, :2].sum(-1)
    assert torch.allclose(out.logits.exp()[1, :, 9], expected, atol=1e-5)
    step = dec.next_token(torch.tensor([[2], [2]]), memory)
    assert step.shape == (2, 10)
    prefix = torch.tensor([[2, 4, 5], [2, 6, 7]])
    torch.testing.assert_close(dec.next_token(prefix, memory), dec(prefix, memory).logits[:, -1],
                               rtol=1e-5, atol=1e-6)  # the last-position shortcut is exact
