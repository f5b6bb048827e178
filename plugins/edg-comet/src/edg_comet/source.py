"""What the COMET-backed knowledge sources share: the model, batching and fingerprint.

Every request is ``{"head": str, "relation": str}`` and every answer a list of tails, so
the cache key is (model + decoding settings, head, relation): two sources asking COMET
the same question (e.g. ``comet.social`` and ``comet.imagine`` on one utterance) share
the cached answer.
"""

from __future__ import annotations

from typing import Any

from edg.interfaces.knowledge import KnowledgeSource
from edg_comet.generator import CometGenerator, CometOptions


def clean_text(text: str) -> str:
    """One line, single spaces (COMET heads are short single-line events)."""
    return " ".join(str(text).split())


class CometSource(KnowledgeSource):
    """Base of ``comet.social``, ``comet.entity`` and ``comet.imagine``."""

    Options = CometOptions

    def __init__(self, options: CometOptions) -> None:
        super().__init__(options)
        self.batch_size = options.batch_size
        self.generator = CometGenerator(options)

    def fingerprint(self) -> dict[str, Any]:
        return {"generator": "comet-atomic2020", **self.generator.fingerprint()}

    def compute(self, requests: list[Any]) -> list[Any]:
        return self.generator.generate([(r["head"], r["relation"]) for r in requests])

    def close(self) -> None:
        self.generator.close()
