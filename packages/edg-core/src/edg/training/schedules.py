"""The built-in learning-rate schedules (registered names ``constant``, ``linear``,
``noam``, ``step``); plugins register more through ``register_schedules``."""

from __future__ import annotations

import math
from typing import Optional

from pydantic import PositiveFloat, PositiveInt

from edg.config import StrictModel
from edg.interfaces.schedule import Schedule


class ConstantSchedule(Schedule):
    """Linear warm-up, then ``train.lr``."""

    def multiplier(self, step: int) -> float:
        return self.warmup(step)


class LinearSchedule(Schedule):
    """Linear warm-up, then linear decay to 0 at ``total_steps``."""

    def multiplier(self, step: int) -> float:
        s, warmup = step + 1, max(self.warmup_steps, 1)
        if s < warmup:
            return s / warmup
        return max(0.0, (self.total_steps - s) / max(self.total_steps - warmup, 1))


class NoamSchedule(Schedule):
    """Vaswani et al.: ``d^-0.5 * min(s^-0.5, s * w^-1.5)``, scaled so the peak (s = w) is
    ``train.lr``."""

    def multiplier(self, step: int) -> float:
        s, warmup = step + 1, max(self.warmup_steps, 1)
        return min(s ** -0.5, s * warmup ** -1.5) * math.sqrt(warmup)


class StepDecayOptions(StrictModel):
    rate: PositiveFloat = 0.3
    """Factor applied at every decay."""
    every_epochs: PositiveInt = 3
    every_steps: Optional[PositiveInt] = None
    """Decay every N optimisation steps instead of every ``every_epochs`` epochs."""


class StepDecaySchedule(Schedule):
    """``rate ** k`` after ``k`` periods of ``every_epochs`` epochs (or ``every_steps``
    steps), after an optional linear warm-up; e.g. ETHREED's ×0.3 every 3 epochs."""

    Options = StepDecayOptions

    def multiplier(self, step: int) -> float:
        o = self.options
        period = o.every_steps or o.every_epochs * self.steps_per_epoch
        return self.warmup(step) * o.rate ** (step // period)
