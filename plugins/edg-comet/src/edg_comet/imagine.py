"""``comet.imagine``: IMAGINE's 11 relations in four groups (§3.2.2, Appendix A).

Affect (xReact), Behaviour (xIntent, xNeed, xWant, xEffect, xAttr), Physical
(HasProperty, CapableOf, Desires) and Events (Causes, xReason). COMET generates five
tails per relation for the input sequence ``C`` (by default the whole context, one line);
the sample gets ``{group: {relation: [tails...]}}``, the same keys for every sample.
IMAGINE's concatenation of a group's tails into ``S_Affect``... is left to the system.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from edg_comet.generator import CometOptions
from edg_comet.relations import IMAGINE_GROUPS, check_relations
from edg_comet.source import CometSource, clean_text


class ImagineOptions(CometOptions):
    groups: dict[str, list[str]] = {group: list(rels) for group, rels in IMAGINE_GROUPS.items()}
    head: Literal["context", "last_utterance"] = "context"
    """COMET's input: the whole context joined (IMAGINE's ``C``) or only its last utterance."""

    @field_validator("groups")
    @classmethod
    def _known(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if not value:
            raise ValueError("at least one group is needed")
        check_relations([r for rels in value.values() for r in rels])  # also rejects repeats
        return value


class ImagineKnowledge(CometSource):
    Options = ImagineOptions

    def head(self, sample: dict[str, Any]) -> str:
        if self.options.head == "last_utterance":
            return clean_text(sample["context"][-1])
        return clean_text(" ".join(sample["context"]))

    def requests(self, sample: dict[str, Any]) -> list[dict[str, str]]:
        head = self.head(sample)
        return [
            {"head": head, "relation": relation}
            for relations in self.options.groups.values()
            for relation in relations
        ]

    def attach(self, sample: dict[str, Any], requests: list[Any], answers: list[Any]) -> dict[str, dict[str, list[str]]]:
        by_relation = {request["relation"]: list(answer) for request, answer in zip(requests, answers)}
        return {
            group: {relation: by_relation[relation] for relation in relations}
            for group, relations in self.options.groups.items()
        }
