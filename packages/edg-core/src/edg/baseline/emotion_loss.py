"""LossTerm ``emotion``: cross-entropy of the 32-way emotion prediction against the
conversation's emotion label (Multi-TRS, MoEL, CEM...)."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F

from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput


class EmotionLoss(LossTerm):
    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        if outputs.emotion is None:
            raise ValueError("loss 'emotion' needs a system with an emotion module")
        logits, gold = outputs.emotion.logits, batch["emotion_id"]
        loss = F.cross_entropy(logits.float(), gold)
        acc = float((logits.argmax(-1) == gold).float().mean())
        return LossValue(loss, {"emotion_acc": acc})
