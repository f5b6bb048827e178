"""LossTerm ``imagine.mechanisms``: L_cm of eq. 8, the NLL of each communication-mechanism
head against the EPITOME classifiers' label of the reference response, summed over the
three mechanisms (each averaged over the batch); logs each head's accuracy."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput
from edg_imagine.epitome import MECHANISMS


def mechanism_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``logits`` [B, 3, 2], ``labels`` [B, 3] (0/1) -> Σ_i mean_b −log P̂_cmi(label)."""
    return sum(F.cross_entropy(logits[:, i].float(), labels[:, i]) for i in range(logits.size(1)))


class MechanismLossOptions(StrictModel):
    pass


class MechanismLoss(LossTerm):
    Options = MechanismLossOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        logits = outputs.extras.get("mechanism_logits")
        if logits is None:
            raise ValueError("loss 'imagine.mechanisms' needs the communication-mechanism heads "
                             "(model.use_mechanisms: true; the preset wo-cm removes both)")
        labels = batch["mechanism_labels"]
        value = mechanism_nll(logits, labels)
        correct = logits.argmax(-1).eq(labels).float().mean(0)
        return LossValue(value, {f"{m}_acc": float(correct[i]) for i, m in enumerate(MECHANISMS)})
