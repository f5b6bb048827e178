"""LossTerm ``imagine.diversity``: the response diversity loss L_div of eq. 20–22 (FACE,
Jiang et al. 2019, in CEM's form): w_i = a · FQ_i + 1 with FQ_i the relative frequency of
token v_i in the training responses and a = −1 / max_j FQ_j, normalised to mean 1 over the
vocabulary; L_div = Σ_t w[y_t] · (−log P(y_t)), divided by the number of target tokens as
L_gen. The weights are computed once from the training split by the IMAGINE system's
``prepare`` (training statistic ``face_token_weights``)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput

STATISTIC = "face_token_weights"


def face_weights(frequencies: Tensor) -> Tensor:
    """Eq. 20–21 and the mean-1 normalisation: ``frequencies`` [V] (counts) -> weights [V]."""
    f = frequencies.double()
    if f.sum() <= 0:
        return torch.ones_like(f, dtype=torch.float32)
    fq = f / f.sum()  # eq. 21
    w = -(1.0 / fq.max()) * fq + 1.0  # eq. 20, in [0, 1]
    if w.sum() <= 0:  # every token equally frequent
        return torch.ones_like(f, dtype=torch.float32)
    return (w / w.mean()).float()


def weighted_token_nll(log_probs: Tensor, labels: Tensor, weights: Tensor) -> Tensor:
    """Eq. 22 per target token: Σ_t w[y_t] (−log P(y_t)) / #tokens (labels −100 ignored)."""
    v = log_probs.size(-1)
    total = F.nll_loss(log_probs.reshape(-1, v).float(), labels.reshape(-1), weight=weights.float(),
                       ignore_index=-100, reduction="sum")
    return total / labels.ne(-100).sum().clamp(min=1)


class DiversityOptions(StrictModel):
    pass


class DiversityLoss(LossTerm):
    Options = DiversityOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        weights = self.context.statistics.get(STATISTIC)
        if weights is None:
            raise ValueError(f"loss 'imagine.diversity' needs the training statistic '{STATISTIC}' "
                             f"(computed by the imagine system's prepare)")
        log_probs = outputs.decoder.log_probs()
        w = torch.as_tensor(weights, dtype=torch.float32, device=log_probs.device)[: log_probs.size(-1)]
        value = weighted_token_nll(log_probs, batch["labels"], w)
        return LossValue(value, {"div": float(value.detach())})
