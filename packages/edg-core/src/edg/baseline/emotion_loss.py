"""LossTerm ``emotion``: cross-entropy of the 32-way emotion prediction against the
conversation's emotion label (Multi-TRS, MoEL, CEM...)."""

from __future__ import annotations

from typing import Any, Literal

import torch.nn.functional as F

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput


class EmotionOptions(StrictModel):
    reduction: Literal["mean", "sum"] = "mean"
    """``mean``: per conversation. ``sum``: summed over the batch's conversations, as KEMP's
    ``CrossEntropyLoss(reduction='sum')`` beside its summed generation loss."""


class EmotionLoss(LossTerm):
    Options = EmotionOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        if outputs.emotion is None:
            raise ValueError("loss 'emotion' needs a system with an emotion module")
        logits, gold = outputs.emotion.logits, batch["emotion_id"]
        loss = F.cross_entropy(logits.float(), gold, reduction=self.options.reduction)
        acc = float((logits.argmax(-1) == gold).float().mean())
        return LossValue(loss, {"emotion_acc": acc})
