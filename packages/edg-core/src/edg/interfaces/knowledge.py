"""KnowledgeSource: annotates dialogue samples with knowledge before training.

A source turns each sample into a list of *requests* (JSON-serialisable, e.g.
``{"head": "...", "relation": "xIntent"}``), answers requests in batches with
:meth:`compute`, and attaches the answers to the sample. The core
(:func:`edg.knowledge_cache.annotate`) does the batching, the progress bar and the disk cache:
every answer is stored under a key made of :meth:`fingerprint` (the source's identity:
model, relation set, decoding settings) and the request, so a second run recomputes
nothing and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from edg.interfaces.component import Component


class KnowledgeSource(Component, ABC):
    #: requests answered per :meth:`compute` call
    batch_size: int = 32
    #: registered names of the knowledge sources whose columns this one reads (e.g.
    #: COMET on extracted causes after cause extraction): the core annotates them first
    requires: tuple[str, ...] = ()

    def __init__(self, options: Any) -> None:
        self.options = options

    @property
    def field(self) -> str:
        """Sample column the knowledge goes into (default: name with ``.`` -> ``_``)."""
        return self.registered_name.replace(".", "_")

    @property
    def reads(self) -> tuple[str, ...]:
        """Sample columns this source reads that may be written by other knowledge sources,
        as its options say (``comet.imagine`` with ``head: column`` reads its ``column``): the
        core annotates the sources whose :attr:`field` is one of them first."""
        return ()

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """Everything that changes the answers (model name, relations, beams...)."""

    @abstractmethod
    def requests(self, sample: dict[str, Any]) -> list[Any]:
        """The JSON-serialisable requests this sample needs answered."""

    @abstractmethod
    def compute(self, requests: list[Any]) -> list[Any]:
        """Answer a batch of requests; one JSON-serialisable answer per request."""

    def attach(self, sample: dict[str, Any], requests: list[Any], answers: list[Any]) -> Any:
        """The value stored in ``sample[self.field]`` (default: the list of answers).

        Values must have the same structure for every sample (they become a dataset column).
        """
        return answers

    def close(self) -> None:
        """Release models or files (called after annotation)."""
