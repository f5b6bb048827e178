"""LossTerm ``example.confidence_penalty`` (Pereyra et al. 2017): ``-mean entropy`` of
the predicted distributions at target positions (labels != -100)."""

from __future__ import annotations

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue


class ConfidencePenaltyOptions(StrictModel):
    min_entropy: float = 0.0
    """Entropy (nats) below which the penalty applies in full; 0 penalises all confidence."""


class ConfidencePenalty(LossTerm):
    Options = ConfidencePenaltyOptions

    def compute(self, batch, outputs, model):
        logp = outputs.decoder.log_probs()
        entropy = -(logp.exp() * logp).sum(-1)
        mask = batch["labels"].ne(-100)
        mean_entropy = (entropy * mask).sum() / mask.sum().clamp(min=1)
        value = -(mean_entropy - self.options.min_entropy)
        return LossValue(value, {"entropy": float(mean_entropy.detach())})
