"""FittedComponent: a model that must be trained on the data before the main model (an
entity scorer, an emotion-cause detector, a response-emotion labeller).

A system declares its fitted components with
:meth:`edg.interfaces.system.System.fitted_components`; the core (:mod:`edg.fitting`)
fits each one once, stores the result in the cache under a key made of the component's
:meth:`~FittedComponent.fingerprint` and the fingerprints of the data it is fitted on,
loads it back in later runs instead of fitting again, and records in the run directory
(``fitted.json``) which result was used with its metrics. A fit that is interrupted
resumes from what :meth:`~FittedComponent.fit` saved in its work directory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from edg.interfaces.component import Component


class FittedComponent(Component, ABC):
    def __init__(self, options: Any, **dependencies: Any) -> None:
        self.options = options

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """Everything besides the data that changes the fitted result (model name,
        hyper-parameters, seed)."""

    @abstractmethod
    def fit(self, data: dict[str, Any], work_dir: Path) -> dict[str, float]:
        """Train on ``data`` (named ``datasets.Dataset`` objects; evaluate on the
        held-out ones) and return metrics for the record (e.g. test accuracy).
        ``work_dir`` survives an interruption: save progress there to resume."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write the fitted state (safetensors or JSON; never pickles) into ``directory``."""

    @abstractmethod
    def load(self, directory: Path) -> None:
        """Read what :meth:`save` wrote."""


@dataclass
class FitSpec:
    """One fitted component a system needs, the data it is fitted on, and when."""

    name: str
    component: FittedComponent
    data: dict[str, Any] = field(default_factory=dict)
    """Named datasets the component is fitted on (their fingerprints key the cache)."""
    stage: Literal["before_knowledge", "before_prepare"] = "before_prepare"
    """``before_knowledge``: right after the data is loaded (e.g. cause extraction that
    knowledge generation reads); ``before_prepare``: after knowledge and the tokenizer."""
