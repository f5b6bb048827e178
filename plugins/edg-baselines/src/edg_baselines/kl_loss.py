"""LossTerm ``mime.kl``: the KL divergence between MIME's posterior and prior emotion latents
(the authors' ``KLLoss``), read from ``outputs.extras["mime_kl"]``."""

from __future__ import annotations

from typing import Any

from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput

KL_KEY = "mime_kl"


class KlLoss(LossTerm):
    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        kl = outputs.extras.get(KL_KEY)
        if kl is None:
            raise ValueError("loss 'mime.kl' needs MIME with model.stochastic: true (use the preset wo-stochastic "
                             "without it)")
        return LossValue(kl, {"kl": float(kl.detach())})
