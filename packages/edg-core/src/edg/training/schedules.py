"""Learning-rate schedules as multipliers of ``train.lr`` (for ``LambdaLR``)."""

from __future__ import annotations

import math


def lr_multiplier(schedule: str, warmup: int, total: int):
    warmup = max(warmup, 1)

    def constant(step: int) -> float:
        return min(1.0, (step + 1) / warmup)

    def linear(step: int) -> float:
        s = step + 1
        if s < warmup:
            return s / warmup
        return max(0.0, (total - s) / max(total - warmup, 1))

    def noam(step: int) -> float:
        # Vaswani et al.: d^-0.5 * min(s^-0.5, s * w^-1.5), scaled so the peak (s = w) is 1
        s = step + 1
        return min(s ** -0.5, s * warmup ** -1.5) * math.sqrt(warmup)

    return {"constant": constant, "linear": linear, "noam": noam}[schedule]
