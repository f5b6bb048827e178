"""LossTerm ``mime.kl``: the KL divergence between MIME's posterior and prior emotion latents
(the authors' ``KLLoss``), read from ``outputs.extras["mime_kl"]`` (the batch mean of each
conversation's KL, summed over the latent dimensions and the two groups)."""

from __future__ import annotations

from typing import Any, Literal

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput

KL_KEY = "mime_kl"


class KlOptions(StrictModel):
    reduction: Literal["mean", "sum"] = "mean"
    """``mean``: per conversation. ``sum``: summed over the batch's conversations, as the
    authors' ``kl_div`` (``torch.sum`` over the batch), beside a summed generation loss."""


class KlLoss(LossTerm):
    Options = KlOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        kl = outputs.extras.get(KL_KEY)
        if kl is None:
            raise ValueError("loss 'mime.kl' needs MIME with model.stochastic: true (use the preset wo-stochastic "
                             "without it)")
        mean = kl.detach()
        value = kl * batch["labels"].size(0) if self.options.reduction == "sum" else kl
        return LossValue(value, {"kl": float(mean)})
