"""LossTerm: one named term of the training objective.

The total loss is the configured list of terms, ``sum(weight_i * term_i)``; weights come
from the config (``losses: [{name: nll, weight: 1.0}, ...]``), so a term's value is
unweighted. Each term also returns named floats for logging.

A term knows where training stands through its :class:`TrainingContext` (set once by
:meth:`LossTerm.setup` and kept current by the training loop): the optimisation step and
epoch, the micro-batch within gradient accumulation, whether this is a training or a
validation pass, the tokenizer, and the training-split statistics the system computed
(:attr:`edg.interfaces.system.System.statistics`). A term that keeps state across steps
(a memory bank, running averages, a curriculum position) returns it from
:meth:`LossTerm.state_dict`; the loop saves it in every checkpoint and restores it on
resume. A term that switches stages on the validation loss does it in
:meth:`LossTerm.on_validation`, which also tells the loop to restart early stopping. A term never reads model attributes by name: what it needs from the data comes
through the context, what it needs from the network through ``outputs``.
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


@dataclass
class TrainingContext:
    """Where training stands, shared by the loop with every loss term."""

    step: int = 0
    """Optimisation steps completed before the current micro-batch."""
    epoch: int = 0
    micro_step: int = 0
    """Index of the current micro-batch within the gradient accumulation."""
    grad_accum: int = 1
    total_steps: int = 0
    training: bool = True
    """False during validation and evaluation passes."""
    tokenizer: Any = None
    statistics: dict[str, Any] = field(default_factory=dict)
    """Training-split statistics computed by the system (e.g. token frequencies)."""


class LossTerm(Component, ABC):
    def __init__(self, options: Any) -> None:
        self.options = options
        self.context = TrainingContext()

    def setup(self, context: TrainingContext) -> None:
        """Called once before training or validation with the loop's context, which the
        loop keeps current; override to derive what the term needs (call super)."""
        self.context = context

    def state_dict(self) -> dict[str, Any]:
        """Persistent state saved in checkpoints (tensors, numbers, strings, lists, dicts)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        if state:
            raise ValueError(f"loss term '{self.registered_name}' keeps no state but a checkpoint holds {sorted(state)}")

    def on_validation(self, record: dict[str, float]) -> bool:
        """Called by the loop after every validation with its record (``loss`` and each term's
        value on the validation split, at ``self.context.step``), before early stopping is
        decided. Return True when the term changes the training objective from now on (a
        stage switch, e.g. NEC adding its contrastive term once the NLL plateaus): the loop
        then restarts early stopping, because losses of different objectives do not compare.
        Keep whatever decides this in :meth:`state_dict`, so a resumed run decides the same."""
        return False

    def holds_early_stopping(self) -> bool:
        """True while early stopping must not end training (e.g. a first stage whose plateau
        is what starts the second); the loop asks after :meth:`on_validation`."""
        return False

    @abstractmethod
    def compute(self, batch: dict[str, Any], outputs: ModelOutput, model: Any) -> LossValue:
        """Compute the term from the batch, the model outputs and (if needed) the model."""
