"""``comet.social``: social commonsense about the last utterance (CEM; NEC §3.3).

For each sample, COMET is asked ``"{last utterance} {relation} [GEN]"`` for xIntent,
xNeed, xWant, xEffect and xReact. The sample gets ``{relation: [tails...]}`` with the same
keys for every sample.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from edg_comet.generator import CometOptions
from edg_comet.relations import SOCIAL_RELATIONS, check_relations
from edg_comet.source import CometSource, clean_text


class SocialOptions(CometOptions):
    relations: list[str] = list(SOCIAL_RELATIONS)

    @field_validator("relations")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return check_relations(value)


class SocialKnowledge(CometSource):
    Options = SocialOptions

    def requests(self, sample: dict[str, Any]) -> list[dict[str, str]]:
        head = clean_text(sample["context"][-1])
        return [{"head": head, "relation": relation} for relation in self.options.relations]

    def attach(self, sample: dict[str, Any], requests: list[Any], answers: list[Any]) -> dict[str, list[str]]:
        return {request["relation"]: list(answer) for request, answer in zip(requests, answers)}
