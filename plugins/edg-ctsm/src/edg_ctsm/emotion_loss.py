"""LossTerm ``ctsm.emotion``: the teacher's cross-entropy against the gold emotion
(CTSM eq. 15, ``L_tchr = −log P_e^tchr(e*)``).

Without the emotion guidance module (the w/o EGM ablation) there is no teacher: the term is
the cross-entropy of the student head (same intensity pooling and eq. 12–14 head) against the
gold emotion. Logged: ``emotion_acc`` (of the prediction the evaluation uses, the student's)
and ``teacher_acc``.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F

from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput


class EmotionLoss(LossTerm):
    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        if outputs.emotion is None:
            raise ValueError("loss 'ctsm.emotion' needs a model that predicts emotion")
        gold = batch["emotion_id"]
        guidance = outputs.extras.get("guidance") or {}
        teacher = guidance.get("teacher_logits")
        logits = teacher if teacher is not None else outputs.emotion.logits
        loss = F.cross_entropy(logits.float(), gold)
        logs = {"emotion_acc": float((outputs.emotion.logits.argmax(-1) == gold).float().mean())}
        if teacher is not None:
            logs["teacher_acc"] = float((teacher.argmax(-1) == gold).float().mean())
        return LossValue(loss, logs)
