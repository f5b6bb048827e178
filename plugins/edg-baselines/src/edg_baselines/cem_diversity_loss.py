"""LossTerm ``cem.diversity``: CEM's frequency-based diversity loss ``L_div`` (Sabour et al.,
2022; ``Sahandfer/CEM src/models/CEM/model.py``: ``clean_preds``, ``update_frequency``,
``calc_weight`` and the weighted ``criterion``). CEM weighs it 1.5; CTSM uses it as the
γ4 = 1.5 term of its eq. 25.

``L_div = Σ_t w[y_t] · (−log P(y_t)) / #target tokens`` with CEM's token weights
``w = 1 − f / max f``, normalised to mean 1 over the vocabulary (the same formula as the
core's :func:`edg.data.statistics.frequency_weights`), so frequent tokens count less.
Frequencies ``f`` (option ``frequencies``):

* ``predictions`` (default, CEM's code): running counts of the model's own greedy
  predictions at the teacher-forced target positions (cut after the first EOS; EOS is not
  counted), updated on every training batch before the weights are computed. The counts
  are the term's state (:meth:`DiversityLoss.state_dict`), so they are checkpointed and a
  resumed run continues with them; validation batches do not count.
* ``train``: fixed token frequencies of the training split's responses, which the system's
  ``prepare`` stores in its training statistics under ``target_token_frequencies`` (the
  ``cem`` and ``ctsm`` systems do).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput

#: key of the training statistics holding the responses' token frequencies
TARGET_TOKEN_FREQUENCIES = "target_token_frequencies"


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

    #: key of the training statistics holding the responses' token frequencies
    STATISTIC = TARGET_TOKEN_FREQUENCIES

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.counts: Tensor | None = None  # running prediction counts ("predictions")

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        log_probs, labels = outputs.decoder.log_probs(), batch["labels"]
        vocab = log_probs.size(-1)
        if self.options.frequencies == "train":
            train = self.context.statistics.get(self.STATISTIC)
            if train is None:
                raise ValueError(f"{self.registered_name or 'cem.diversity'} with frequencies: train needs the "
                                 f"training statistic '{self.STATISTIC}' (computed by the system's prepare)")
            freq = torch.as_tensor(train, dtype=torch.float32)
        else:
            if self.counts is None or self.counts.numel() != vocab:
                self.counts = torch.zeros(vocab, dtype=torch.float64)
            if self.context.training:
                eos = self.context.tokenizer.eos_token_id if self.context.tokenizer is not None else -1
                with torch.no_grad():
                    self.counts += prediction_counts(log_probs.detach(), labels, eos, vocab).cpu().double()
            freq = self.counts
        weights = cem_weights(freq[:vocab].to(log_probs.device))
        loss = weighted_nll(log_probs, labels, weights)
        return LossValue(loss, {"div": float(loss.detach())})

    def state_dict(self) -> dict[str, Any]:
        return {} if self.counts is None else {"counts": self.counts.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.counts = state["counts"].double().clone() if state.get("counts") is not None else None
