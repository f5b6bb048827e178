"""Schedule: the learning rate of each optimisation step, as a multiplier of ``train.lr``.

Built as ``cls(options, warmup_steps=..., total_steps=..., steps_per_epoch=...)`` from
``train.schedule`` (a registered name) and ``train.schedule_options``; the training loop
drives it through ``torch.optim.lr_scheduler.LambdaLR``, so it must be a pure function of
the step (a resumed run gets the same learning rates).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from edg.interfaces.component import Component


class Schedule(Component, ABC):
    def __init__(self, options: Any, *, warmup_steps: int, total_steps: int, steps_per_epoch: int) -> None:
        self.options = options
        self.warmup_steps = max(warmup_steps, 0)
        self.total_steps = total_steps
        self.steps_per_epoch = max(steps_per_epoch, 1)

    @abstractmethod
    def multiplier(self, step: int) -> float:
        """Multiplier of ``train.lr`` for optimisation step ``step`` (0-based)."""

    def warmup(self, step: int) -> float:
        """Linear warm-up over ``warmup_steps`` (1 after it, or without warm-up)."""
        return min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0

    def __call__(self, step: int) -> float:
        return self.multiplier(step)
