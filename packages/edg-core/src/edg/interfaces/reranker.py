"""Reranker: rescores the candidates of a batch and returns them best first."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from edg.interfaces.component import Component
from edg.interfaces.types import Candidate, EncoderOutput


class Reranker(Component, ABC):
    def __init__(self, options: Any) -> None:
        self.options = options

    #: set by a reranker that needs ``Candidate.hidden`` (the decoder fills it in a batch)
    needs_hidden: bool = False

    @abstractmethod
    def rerank(
        self,
        candidates: list[list[Candidate]],
        memory: EncoderOutput,
        batch: dict[str, Any],
        model: Any,
    ) -> list[list[Candidate]]:
        """Return each example's candidates sorted best first, with ``score`` updated."""
