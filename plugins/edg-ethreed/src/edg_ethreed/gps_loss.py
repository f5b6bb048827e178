"""LossTerm ``ethreed.gps``: L2 of the constraint-based guided policy search (eq. 12–14),
KL(q || p) between q = softmax(W_e R̂_e_t), the emotion distribution of the policy's
sample, and p = softmax(W_e R_e_t), that of the listener representation tracked from the
real response: the constraint the policy is guided to. p is the target: no gradient flows
into it through this term (the tracker learns it through L1)."""

from __future__ import annotations

from typing import Any

import torch

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput


def policy_kl(policy_logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    """Mean over targets of KL(softmax(policy) || softmax(target))."""
    log_q = torch.log_softmax(policy_logits.float(), -1)
    log_p = torch.log_softmax(target_logits.float(), -1)
    return (log_q.exp() * (log_q - log_p)).sum(-1).mean()


class GuidedPolicySearchOptions(StrictModel):
    pass


class GuidedPolicySearchLoss(LossTerm):
    Options = GuidedPolicySearchOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        extras = outputs.extras
        if "policy_emotion_logits" not in extras:
            raise KeyError("loss 'ethreed.gps' needs the empathetic policy (model.use_policy: true)")
        value = policy_kl(extras["policy_emotion_logits"], extras["tracked_listener_logits"].detach())
        return LossValue(value, {"kl": float(value.detach())})
