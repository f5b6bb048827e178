"""LossTerm ``ethreed.coverage``: L4 of eq. 25, Σ_j min(cover_ij, γ_ij) summed over the
decoding steps of every target and divided by the number of target words (as L3, eq. 24)."""

from __future__ import annotations

from typing import Any

import torch

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput


def coverage_penalty(attention: torch.Tensor, coverage: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``attention``/``coverage`` [N, T, m], ``labels`` [N, T] (-100: no target word)."""
    steps = labels.ne(-100)
    per_step = torch.minimum(attention, coverage).sum(-1)
    return (per_step * steps).sum() / steps.sum().clamp(min=1)


class CoverageOptions(StrictModel):
    pass


class CoverageLoss(LossTerm):
    Options = CoverageOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        value = coverage_penalty(outputs.extras["attention"].float(), outputs.extras["coverage"].float(),
                                 batch["labels"])
        return LossValue(value, {"coverage": float(value.detach())})
