"""LossTerm ``nll``: token-level negative log-likelihood of the reference response."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import DecoderOutput, ModelOutput


def token_nll(decoder: DecoderOutput, labels: Tensor) -> tuple[Tensor, int]:
    """Sum of target-token NLL and the number of target tokens (labels == -100 ignored)."""
    logp = decoder.log_probs()
    total = F.nll_loss(logp.reshape(-1, logp.size(-1)), labels.reshape(-1), ignore_index=-100, reduction="sum")
    return total, int(labels.ne(-100).sum())


def token_nll_per_row(decoder: DecoderOutput, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Per sample of the batch: the summed target-token NLL ([B], float64, so that sums over
    a whole split stay exact to float precision) and the number of target tokens ([B], int64);
    labels == -100 are ignored. Summed over the rows they are :func:`token_nll`'s pair."""
    logp = decoder.log_probs()
    per_token = F.nll_loss(logp.reshape(-1, logp.size(-1)), labels.reshape(-1), ignore_index=-100,
                           reduction="none")
    rows = labels.size(0)
    return per_token.double().reshape(rows, -1).sum(1), labels.ne(-100).reshape(rows, -1).sum(1)


class NllOptions(StrictModel):
    label_smoothing: float = 0.0
    reduction: Literal["mean", "sum"] = "mean"
    """``mean``: per target token. ``sum``: summed over the batch's target tokens, as the
    MoEL-family code (``KLDivLoss(reduction='sum')``): the other terms' weights are then
    relative to a batch's whole response loss, not to one token's."""


class NllLoss(LossTerm):
    """NLL of the target tokens, their mean or their sum (optionally label-smoothed); logs
    the unsmoothed per-token NLL and its perplexity."""

    Options = NllOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        labels = batch["labels"]
        total, count = token_nll(outputs.decoder, labels)
        value = total
        if self.options.label_smoothing > 0:
            logp = outputs.decoder.log_probs()
            smooth = -(logp.mean(-1) * labels.ne(-100)).sum()
            eps = self.options.label_smoothing
            value = (1 - eps) * total + eps * smooth
        if self.options.reduction == "mean":
            value = value / max(count, 1)
        nll = total.detach() / max(count, 1)
        return LossValue(value, {"nll": float(nll), "ppl": float(torch.exp(nll.clamp(max=50)))})
