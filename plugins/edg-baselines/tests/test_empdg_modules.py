"""EmpDG's modules on hand-made inputs: the decoder (emotion-signal start, pointer-generator,
incremental = teacher-forced), the interactive discriminator, the adversarial loss's helpers
and its stage switch with the gradient separation between generator and discriminators."""

from __future__ import annotations

import pytest
import torch

from edg.api import DialogueEmbedding
from edg.interfaces.loss import TrainingContext
from edg.interfaces.types import EncoderOutput
from edg_baselines.empdg_adversarial_loss import (
    AdversarialLoss,
    AdversarialOptions,
    append_token,
    compact,
    stage_of,
    straight_through,
)
from edg_baselines.empdg_decoder import EMOTION_SIGNAL, EmpdgDecoder, EmpdgDecoderOptions
from edg_baselines.empdg_discriminator import InteractiveDiscriminator

V, D, PAD, BOS, EOS = 20, 8, 0, 2, 3


def _decoder(pointer=True, attention_dim=None, feed_forward="linear"):
    torch.manual_seed(0)
    emb = DialogueEmbedding(V, D, PAD, dropout=0.0)
    options = EmpdgDecoderOptions(layers=2, heads=2, ffn_dim=16, pointer=pointer, attention_dim=attention_dim,
                                  feed_forward=feed_forward)
    return EmpdgDecoder(options, d_model=D,
                        embedding=emb, bos_id=BOS, eos_id=EOS, pad_id=PAD).eval()


def _memory(signal=True):
    torch.manual_seed(1)
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    extras = {"input_ids": ids}
    if signal:
        extras[EMOTION_SIGNAL] = torch.randn(2, D)
    return EncoderOutput(torch.randn(2, 4, D), ids.ne(0), extras)


def test_the_emotion_signal_replaces_the_bos_embedding():
    dec = _decoder()
    inputs = torch.tensor([[BOS, 11, 12], [BOS, 13, PAD]])
    with_signal = dec(inputs, _memory()).logits
    plain = dec(inputs, _memory(signal=False)).logits
    assert not torch.allclose(with_signal[:, 0], plain[:, 0])
    other = _memory()
    other.extras[EMOTION_SIGNAL] = torch.randn(2, D)  # (a uniform shift would vanish in the LayerNorms)
    assert not torch.allclose(dec(inputs, other).logits, with_signal)
    # the BOS id itself is ignored when a signal is given
    swapped = inputs.clone()
    swapped[:, 0] = 4
    torch.testing.assert_close(dec(swapped, _memory()).logits, with_signal)


def test_pointer_generator_mixes_a_distribution_and_copies_source_ids():
    dec = _decoder()
    out = dec(torch.tensor([[BOS, 11], [BOS, 13]]), _memory())
    assert out.is_log_probs
    torch.testing.assert_close(out.logits.exp().sum(-1), torch.ones(2, 2))
    with torch.no_grad():  # p_gen -> 0: all mass on the memory's token ids
        dec.p_gen.bias.fill_(-50.0)
    probs = dec(torch.tensor([[BOS, 11], [BOS, 13]]), _memory()).logits.exp()
    assert probs[0, :, [5, 6, 7, 8]].sum(-1).min() > 0.999
    assert probs[1, :, [9, 10]].sum(-1).min() > 0.999  # padding is never copied
    assert dec.out.weight.data_ptr() != dec.embedding.word.weight.data_ptr()  # no weight sharing
    plain = _decoder(pointer=False)(torch.tensor([[BOS, 11]]), _memory().index_select(torch.tensor([0])))
    torch.testing.assert_close(plain.logits.exp().sum(-1), torch.ones(1, 2))


@pytest.mark.parametrize("signal,attention_dim,feed_forward",
                         [(True, None, "linear"), (False, None, "linear"), (True, 4, "linear"),  # 4: narrow
                          (True, 4, "conv"), (False, None, "conv")])
def test_incremental_steps_match_teacher_forcing(signal, attention_dim, feed_forward):
    dec = _decoder(attention_dim=attention_dim, feed_forward=feed_forward)
    memory = _memory(signal)
    inputs = torch.tensor([[BOS, 11, 12, 14], [BOS, 13, 15, 16]])
    full = dec(inputs, memory).logits
    state = dec.start(memory)
    for t in range(inputs.size(1)):
        log_probs, state = dec.step(inputs[:, t], state)
        torch.testing.assert_close(log_probs, full[:, t], atol=1e-5, rtol=1e-4)
    # reordering rows (beams of other examples) carries the signal and the memory along
    state = dec.reorder(dec.start(memory), torch.tensor([1, 1, 0]))
    log_probs, _ = dec.step(torch.tensor([BOS, BOS, BOS]), state)
    torch.testing.assert_close(log_probs[0], full[1, 0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(log_probs[2], full[0, 0], atol=1e-5, rtol=1e-4)
    # reordering mid-response carries each layer's whole cache (with the convolutions' inputs)
    state = dec.start(memory)
    for t in range(2):
        _, state = dec.step(inputs[:, t], state)
    state = dec.reorder(state, torch.tensor([1, 0]))
    log_probs, _ = dec.step(inputs[[1, 0], 2], state)
    torch.testing.assert_close(log_probs, full[[1, 0], 2], atol=1e-5, rtol=1e-4)


def test_the_convolutional_feed_forward_is_causal_and_has_three_times_the_weights():
    from edg.baseline.conv_feed_forward import CausalConvFeedForward

    conv, linear = _decoder(feed_forward="conv"), _decoder()
    assert all(isinstance(layer.ffn, CausalConvFeedForward) for layer in conv.layers)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(conv) - count(linear) == 2 * 2 * (2 * D * 16)  # two layers, two kernel-3 convolutions each
    memory = _memory()
    inputs = torch.tensor([[BOS, 11, 12, 14], [BOS, 13, 15, 16]])
    changed = inputs.clone()
    changed[:, 3] = 17
    torch.testing.assert_close(conv(inputs, memory).logits[:, :3], conv(changed, memory).logits[:, :3])


def _disc():
    torch.manual_seed(0)
    return InteractiveDiscriminator(V, embed_dim=6, hidden=8, condition_dim=D, pad_id=PAD)


def test_discriminator_scores_ids_and_one_hot_rows_alike_and_ignores_padding():
    disc = _disc()
    response = torch.tensor([[4, 5, 6, 0], [7, 8, 0, 0]])
    feedback = torch.tensor([[9, 10, 3], [11, 3, 0]])
    condition = torch.randn(2, D)
    score = disc(response, response.ne(0), feedback, feedback.ne(0), condition)
    assert score.shape == (2,)
    one_hot = torch.nn.functional.one_hot(response, V).float()
    torch.testing.assert_close(disc(one_hot, response.ne(0), feedback, feedback.ne(0), condition), score)
    longer = torch.cat([response, torch.zeros(2, 3, dtype=torch.long)], 1)
    longer_fb = torch.cat([feedback, torch.zeros(2, 2, dtype=torch.long)], 1)
    torch.testing.assert_close(disc(longer, longer.ne(0), longer_fb, longer_fb.ne(0), condition), score)
    # a one-token response still has a window for the width-2 convolution
    single = torch.tensor([[4], [7]])
    assert disc(single, single.ne(0), feedback, feedback.ne(0), condition).isfinite().all()
    # the condition and the feedback matter
    assert not torch.allclose(disc(response, response.ne(0), feedback, feedback.ne(0), condition + 1), score)


def test_compact_and_append_token_keep_order_and_end_with_eos():
    ids = torch.tensor([[4, 5, 6, 7], [8, 9, 0, 0]])
    keep = torch.tensor([[False, True, False, True], [False, False, False, False]])
    values, mask = compact(ids, keep)
    assert values[0].tolist() == [5, 7] and mask.tolist() == [[True, True], [False, False]]
    out, out_mask = append_token(values, mask, EOS, PAD)
    assert out.tolist() == [[5, 7, EOS], [EOS, PAD, PAD]]
    assert out_mask.tolist() == [[True, True, True], [True, False, False]]
    rows = torch.nn.functional.one_hot(ids, V).float()
    r_values, r_mask = append_token(*compact(rows, keep), EOS, PAD)
    assert r_values.argmax(-1)[0].tolist() == [5, 7, EOS] and r_values[1, 0].argmax() == EOS
    assert r_values[1, 1:].abs().sum() == 0 and r_mask.tolist() == out_mask.tolist()


def test_straight_through_forwards_the_greedy_token_and_backpropagates_the_softmax():
    logits = torch.randn(2, 3, V, requires_grad=True)
    log_probs = torch.log_softmax(logits, -1)
    tokens = straight_through(log_probs)
    torch.testing.assert_close(tokens, torch.nn.functional.one_hot(logits.argmax(-1), V).float())
    weights = torch.randn(V)
    (tokens @ weights).sum().backward()
    soft_logits = logits.detach().clone().requires_grad_(True)
    (torch.softmax(soft_logits, -1) @ weights).sum().backward()
    torch.testing.assert_close(logits.grad, soft_logits.grad)


def test_stages_follow_the_step():
    o = AdversarialOptions(generator_steps=10, critic_steps=5, critic_every=3)
    assert [stage_of(s, o) for s in (0, 9, 10, 14, 15, 100)] == ["generator"] * 2 + ["critic"] * 2 + ["joint"] * 2


def _term_inputs(feedback=True):
    """A tiny 'generator' (a linear layer producing the response distribution) and two
    discriminators, wired as EmpDG's model hands them to the loss."""
    from edg.interfaces.types import DecoderOutput, ModelOutput
    from edg_baselines.empdg_adversarial_loss import ADVERSARIAL, AdversarialInputs

    torch.manual_seed(0)
    generator = torch.nn.Linear(D, V)
    context = torch.nn.Parameter(torch.randn(2, D))
    logits = generator(torch.randn(2, 4, D))
    discs = {"semantic": _disc(), "emotional": _disc()}
    flags = torch.zeros(V, dtype=torch.bool)
    flags[[5, 6, 7, 8, 9]] = True
    inputs = AdversarialInputs(discs, context.detach(), context.detach() * 2, flags, PAD, EOS)
    outputs = ModelOutput(DecoderOutput(logits, logits), None, None, {ADVERSARIAL: inputs})
    fb = torch.tensor([[5, 11, EOS], [12, EOS, PAD]]) if feedback else torch.zeros(2, 3, dtype=torch.long)
    batch = {"labels": torch.tensor([[5, 6, 13, EOS], [7, EOS, -100, -100]]), "feedback_ids": fb,
             "feedback_mask": fb.ne(PAD)}
    return generator, discs, outputs, batch


def _grads(module):
    return [p.grad for p in module.parameters()]


@pytest.mark.parametrize("step,critic,generator", [(3, False, False), (11, True, False), (15, True, True),
                                                    (16, False, True)])
def test_each_stage_trains_exactly_its_side(step, critic, generator):
    term = AdversarialLoss(AdversarialOptions(generator_steps=10, critic_steps=5, critic_every=3))
    term.setup(TrainingContext(step=step))
    gen, discs, outputs, batch = _term_inputs()
    value = term.compute(batch, outputs, None)
    if not (critic or generator):
        assert float(value.value) == 0.0 and not value.logs
        return
    value.value.backward()
    disc_grads = [g for d in discs.values() for g in _grads(d)]
    # the critic loss alone trains the discriminators; the generator loss alone the generator
    assert any(g is not None and g.abs().sum() > 0 for g in disc_grads) == critic
    assert (gen.weight.grad is not None and gen.weight.grad.abs().sum() > 0) == generator
    assert ("semantic_wasserstein" in value.logs) == critic and ("emotional_gp" in value.logs) == critic
    assert ("semantic_generator" in value.logs) == generator


def test_no_feedback_and_validation_give_zero():
    term = AdversarialLoss(AdversarialOptions(generator_steps=0, critic_steps=0, critic_every=1))
    context = TrainingContext(step=5)
    term.setup(context)
    _gen, _discs, outputs, batch = _term_inputs(feedback=False)
    assert float(term.compute(batch, outputs, None).value) == 0.0
    _gen, _discs, outputs, batch = _term_inputs()
    assert float(term.compute(batch, outputs, None).value) != 0.0
    context.training = False
    assert float(term.compute(batch, outputs, None).value) == 0.0


def test_the_critic_loss_is_the_wasserstein_estimate_plus_the_penalty():
    term = AdversarialLoss(AdversarialOptions(generator_steps=0, critic_steps=10, gp_lambda=0.0))
    term.setup(TrainingContext(step=0))
    _gen, discs, outputs, batch = _term_inputs()
    value = term.compute(batch, outputs, None)
    expected = -(value.logs["semantic_wasserstein"] + value.logs["emotional_wasserstein"])
    assert float(value.value) == pytest.approx(expected, abs=1e-5)
    # the semantic critic compares the gold response with the greedy tokens at the same positions
    disc = discs["semantic"]
    labels = batch["labels"]
    valid = labels.ne(-100)
    gold = labels.masked_fill(~valid, PAD)
    fake = outputs.decoder.logits.argmax(-1).masked_fill(~valid, PAD)
    condition = outputs.extras["empdg_adversarial"].context_state
    d = disc(fake, valid, batch["feedback_ids"], batch["feedback_mask"], condition) - \
        disc(gold, valid, batch["feedback_ids"], batch["feedback_mask"], condition)
    assert -value.logs["semantic_wasserstein"] == pytest.approx(float(d.mean()), abs=1e-5)
