"""LossTerm ``ctsm.guidance``: the student's soft-label loss of the emotion guidance module
(CTSM eq. 18), ``L_stu = −Σ_e P_e^tchr(e) · log P_e^stu(e)``.

The student is trained on the teacher's distribution (its "dark knowledge", Hinton et al.
2015). The paper names no temperature, so ``temperature`` defaults to 1 (both
distributions are plain softmaxes, as in eq. 14); with ``T ≠ 1`` both logits are divided
by ``T`` and the loss is multiplied by ``T²`` (Hinton et al.). The teacher's distribution
is a fixed target (``detach_teacher``): the teacher learns from the gold label only
(eq. 15, ``ctsm.emotion``).

CTSM's ``L_e = L_tchr + L_stu`` (eq. 19) is ``ctsm.emotion`` + ``ctsm.guidance``, both
with weight γ1.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from edg.config import StrictModel
from edg.interfaces.loss import LossTerm, LossValue
from edg.interfaces.types import ModelOutput


def soft_label_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Mean over the batch of ``−Σ_e softmax(t/T)_e · log softmax(s/T)_e`` (× T²)."""
    t = float(temperature)
    target = torch.softmax(teacher_logits.float() / t, dim=-1)
    log_student = torch.log_softmax(student_logits.float() / t, dim=-1)
    return -(target * log_student).sum(-1).mean() * (t * t)


class GuidanceOptions(StrictModel):
    temperature: float = 1.0
    detach_teacher: bool = True


def guidance_outputs(outputs: ModelOutput, term: str) -> dict[str, Any]:
    guidance = outputs.extras.get("guidance")
    if guidance is None or guidance.get("teacher_logits") is None:
        raise ValueError(f"loss '{term}' needs CTSM's emotion guidance module (model.use_guidance: true)")
    return guidance


class GuidanceLoss(LossTerm):
    Options = GuidanceOptions

    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        g = guidance_outputs(outputs, "ctsm.guidance")
        teacher = g["teacher_logits"]
        if self.options.detach_teacher:
            teacher = teacher.detach()
        loss = soft_label_loss(g["student_logits"], teacher, self.options.temperature)
        return LossValue(loss, {"guidance_stu": float(loss.detach())})
