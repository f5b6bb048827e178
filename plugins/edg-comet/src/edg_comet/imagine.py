"""``comet.imagine``: IMAGINE's 11 relations in four groups (§3.2.2, Appendix A).

Affect (xReact), Behaviour (xIntent, xNeed, xWant, xEffect, xAttr), Physical
(HasProperty, CapableOf, Desires) and Events (Causes, xReason). COMET generates five
tails per relation for the input sequence ``C``: the whole context, its last utterance, or
(``head: column``) the utterances a sample column holds, e.g. the emotion causes another
knowledge source extracted (IMAGINE's ``C = c_0 + c_1 + ... + c_u``, joined with spaces into
one line); the sample gets ``{group: {relation: [tails...]}}``, the same keys for every sample.
IMAGINE's concatenation of a group's tails into ``S_Affect``... is left to the system.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import field_validator, model_validator

from edg.errors import DataError
from edg_comet.generator import CometOptions
from edg_comet.relations import IMAGINE_GROUPS, check_relations
from edg_comet.source import CometSource, clean_text


class ImagineOptions(CometOptions):
    groups: dict[str, list[str]] = {group: list(rels) for group, rels in IMAGINE_GROUPS.items()}
    head: Literal["context", "last_utterance", "column"] = "context"
    """COMET's input: the whole context joined, only its last utterance, or the utterances
    of the sample column ``column`` joined (IMAGINE's causes ``C``)."""
    column: Optional[str] = None
    """With ``head: column``: the sample column holding the list of utterances COMET reads
    (written by a knowledge source annotated before this one, e.g. ``imagine_causes``)."""

    @field_validator("groups")
    @classmethod
    def _known(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if not value:
            raise ValueError("at least one group is needed")
        check_relations([r for rels in value.values() for r in rels])  # also rejects repeats
        return value

    @model_validator(mode="after")
    def _column_with_head(self) -> "ImagineOptions":
        if self.head == "column" and not self.column:
            raise ValueError("head: column needs the option column (the sample column of utterances to read)")
        if self.head != "column" and self.column is not None:
            raise ValueError(f"column is read only with head: column (head is {self.head})")
        return self


class ImagineKnowledge(CometSource):
    Options = ImagineOptions

    @property
    def reads(self) -> tuple[str, ...]:
        """With ``head: column``, the column another source writes: annotated after it."""
        return (self.options.column,) if self.options.head == "column" else ()

    def head(self, sample: dict[str, Any]) -> str:
        if self.options.head == "last_utterance":
            return clean_text(sample["context"][-1])
        if self.options.head == "column":
            column = self.options.column
            if column not in sample:
                raise DataError(f"comet.imagine: head: column reads the sample column '{column}', which the samples "
                                f"do not have (annotate the knowledge source that writes it before comet.imagine)")
            value = sample[column]
            if not isinstance(value, (list, tuple)) or not all(isinstance(u, str) for u in value):
                raise DataError(f"comet.imagine: the sample column '{column}' must hold a list of utterances "
                                f"(strings), not {type(value).__name__}")
            return clean_text(" ".join(value))
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
