"""LossTerm ``ethreed.emotion``: L1 of eq. 6, the mean cross-entropy of W_e over every
speaker state (ED's conversation label) plus the mean over every listener state (the
response-emotion labels of §4.1); listener turns without a label are left out."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput


class PartyEmotionOptions(StrictModel):
    pass


class PartyEmotionLoss(LossTerm):
    Options = PartyEmotionOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        logits = outputs.extras["party_emotion_logits"].float()  # [B, K, 32]
        flat = logits.reshape(-1, logits.size(-1))
        value = logits.new_zeros(())
        logs: dict[str, float] = {}
        for party in ("speaker", "listener"):
            labels = batch[f"{party}_emotion_labels"].reshape(-1)
            known = labels.ne(-100)
            if not bool(known.any()):
                continue
            value = value + F.cross_entropy(flat[known], labels[known])
            logs[f"{party}_acc"] = float((flat[known].argmax(-1) == labels[known]).float().mean())
        return LossValue(value, logs)
