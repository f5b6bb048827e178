"""LossTerm ``ctsm.diversity``: CEM's frequency-weighted diversity loss ``L_div``
(Sabour et al., 2022), the γ4 = 1.5 term of CTSM's eq. 25.

``L_div = Σ_t w[y_t] · (−log P(y_t)) / #target tokens`` with CEM's token weights
``w = 1 − f / max f``, normalised to mean 1 over the vocabulary
(:func:`edg.data.statistics.frequency_weights`, same formula), so frequent tokens count
less. Frequencies ``f`` (option ``frequencies``):

* ``predictions`` (default, CEM's code): running counts of the model's own greedy
  predictions at the teacher-forced target positions (cut after the first EOS; EOS is not
  counted), updated on every training batch before the weights are computed. The counts
  live in the model's ``diversity_counts`` buffer, so they are checkpointed and a resumed
  run continues with them.
* ``train``: fixed token frequencies of the training split's responses, computed by
  ``CtsmSystem.prepare`` (model buffer ``train_frequencies``).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput


def cem_weights(frequencies: Tensor) -> Tensor:
    """CEM's ``calc_weight``: ``1 − f/max f`` normalised to mean 1 (all ones if ``f`` is 0)."""
    f = frequencies.double()
    if f.sum() <= 0:
        return torch.ones_like(f, dtype=torch.float32)
    weight = 1.0 - f / f.max()
    if weight.sum() <= 0:
        return torch.ones_like(f, dtype=torch.float32)
    return (weight / weight.sum() * f.numel()).float()


def prediction_counts(log_probs: Tensor, labels: Tensor, eos_id: int, vocab_size: int) -> Tensor:
    """Counts of the greedy predictions at target positions, each row cut after its first
    EOS, EOS itself not counted (CEM's ``clean_preds`` + ``update_frequency``)."""
    preds = log_probs.argmax(-1)
    valid = labels.ne(-100)
    is_eos = preds.eq(eos_id) & valid
    # positions after the first predicted EOS are dropped
    after_eos = (is_eos.long().cumsum(-1) - is_eos.long()) > 0
    keep = valid & ~after_eos & ~is_eos
    return torch.bincount(preds[keep].flatten(), minlength=vocab_size)[:vocab_size]


def weighted_nll(log_probs: Tensor, labels: Tensor, weights: Tensor) -> Tensor:
    """``Σ w[y]·(−log p(y)) / #tokens`` (CEM: NLLLoss(weight, reduction=sum) / tokens)."""
    v = log_probs.size(-1)
    total = F.nll_loss(log_probs.reshape(-1, v).float(), labels.reshape(-1), weight=weights.float(),
                       ignore_index=-100, reduction="sum")
    return total / labels.ne(-100).sum().clamp(min=1)


class DiversityOptions(StrictModel):
    frequencies: Literal["predictions", "train"] = "predictions"


class DiversityLoss(LossTerm):
    Options = DiversityOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        log_probs, labels = outputs.decoder.log_probs(), batch["labels"]
        vocab = log_probs.size(-1)
        if self.options.frequencies == "train":
            freq = getattr(model, "train_frequencies", None)
            if freq is None:
                raise ValueError("ctsm.diversity with frequencies: train needs the model's train_frequencies")
        else:
            freq = getattr(model, "diversity_counts", None)
            if freq is None:
                raise ValueError("ctsm.diversity needs a model with a 'diversity_counts' buffer (CTSM)")
            if model.training:
                with torch.no_grad():
                    freq += prediction_counts(log_probs.detach(), labels, model.decoder.eos_id, vocab).to(freq)
        weights = cem_weights(freq[:vocab].to(log_probs.device))
        loss = weighted_nll(log_probs, labels, weights)
        return LossValue(loss, {"div": float(loss.detach())})
