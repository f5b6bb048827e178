"""LossTerm: one named term of the training objective.

The total loss is the configured list of terms, ``sum(weight_i * term_i)``; weights come
from the config (``losses: [{name: nll, weight: 1.0}, ...]``), so a term's value is
unweighted. Each term also returns named floats for logging.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from edg.interfaces.component import Component
from edg.interfaces.types import ModelOutput


@dataclass
class LossValue:
    value: Tensor
    """A scalar tensor with gradient."""
    logs: dict[str, float] = field(default_factory=dict)
    """Named values for the training log (e.g. ``{"acc": 0.41}``)."""


class LossTerm(Component, ABC):
    def __init__(self, options: Any) -> None:
        self.options = options

    @abstractmethod
    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        """Compute the term from the batch, the model outputs and (if needed) the model."""
