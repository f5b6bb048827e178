"""The ``nll`` loss term: its value against a hand computation, per-token mean or batch sum,
with and without label smoothing, and the per-token NLL it logs either way."""

from __future__ import annotations

import math

import pytest
import torch

from edg.baseline.nll_loss import NllLoss, NllOptions
from edg.interfaces.types import DecoderOutput, ModelOutput


def outputs_and_batch():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 5)
    labels = torch.tensor([[1, 4, -100], [0, 2, 3]])  # 5 target tokens
    return ModelOutput(DecoderOutput(logits, None), None, None), {"labels": labels}, logits, labels


def by_hand(logits, labels, eps):
    logp = torch.log_softmax(logits, -1)
    total = 0.0
    for b in range(labels.size(0)):
        for t in range(labels.size(1)):
            y = int(labels[b, t])
            if y == -100:
                continue
            total += (1 - eps) * -float(logp[b, t, y]) + eps * -float(logp[b, t].mean())
    return total


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_mean_is_per_target_token_and_sum_is_over_the_batch(eps):
    outputs, batch, logits, labels = outputs_and_batch()
    expected_sum = by_hand(logits, labels, eps)
    mean = NllLoss(NllOptions(label_smoothing=eps)).compute(batch, outputs, None)
    total = NllLoss(NllOptions(label_smoothing=eps, reduction="sum")).compute(batch, outputs, None)
    assert float(total.value) == pytest.approx(expected_sum, rel=1e-5)
    assert float(mean.value) == pytest.approx(expected_sum / 5, rel=1e-5)
    # the logged NLL is the unsmoothed per-token mean whatever the reduction
    plain = by_hand(logits, labels, 0.0) / 5
    for value in (mean, total):
        assert value.logs["nll"] == pytest.approx(plain, rel=1e-5)
        assert value.logs["ppl"] == pytest.approx(math.exp(plain), rel=1e-5)


def test_sum_scales_the_gradient_by_the_token_count():
    outputs, batch, logits, labels = outputs_and_batch()
    grads = []
    for reduction in ("mean", "sum"):
        x = logits.clone().requires_grad_(True)
        out = ModelOutput(DecoderOutput(x, None), None, None)
        NllLoss(NllOptions(label_smoothing=0.1, reduction=reduction)).compute(batch, out, None).value.backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[1], grads[0] * 5)


def test_an_unknown_reduction_is_rejected():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        NllOptions(reduction="max")


def test_label_smoothing_shares_one_log_softmax_with_the_nll(monkeypatch):
    """The smoothed NLL reads the decoder's log-probabilities twice; they are computed once,
    so the step pays one log-softmax and one backward through it, with the same gradient."""
    outputs, batch, logits, labels = outputs_and_batch()
    x = logits.clone().requires_grad_(True)
    decoder = DecoderOutput(x, None)
    calls = []
    real = torch.log_softmax

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "log_softmax", counting)
    value = NllLoss(NllOptions(label_smoothing=0.1, reduction="sum")).compute(batch, ModelOutput(decoder, None, None), None)
    monkeypatch.undo()
    assert calls == [x.shape]
    assert decoder.log_probs() is decoder.log_probs()
    value.value.backward()
    y = logits.clone().requires_grad_(True)
    logp = torch.log_softmax(y, -1)
    mask = labels.ne(-100)
    expected = -(0.9 * logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0] + 0.1 * logp.mean(-1))[mask].sum()
    expected.backward()
    torch.testing.assert_close(x.grad, y.grad)
