"""``comet.file``: precomputed COMET knowledge served from a JSONL file.

For users who ran COMET elsewhere. Each line is an object with ``head``, ``relation`` and
a list of tails, e.g. ``{"head": "PersonX calls PersonY ambulance", "relation": "xNeed",
"tails": ["to get a phone", "none"]}``. The list is read from ``tails_field``
(default ``tails``), so the AI2 system-evaluation file ``BART-atomic_2020.generations.jsonl``
works as is: ``tails`` holds the gold ATOMIC tails and ``generations`` COMET-BART's beams.
Tails are normalised like the model's (strip, drop ``none``, dedupe); lines repeating a
(head, relation) add their tails.

Samples are looked up like ``comet.social``: the head is the last utterance (or the whole
context), and the sample gets ``{relation: [tails...]}`` for the configured relations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator

from edg.config import StrictModel
from edg.errors import ConfigError, DataError
from edg.interfaces.knowledge import KnowledgeSource
from edg.jsonl import json_objects
from edg_comet.generator import normalise_tails
from edg_comet.relations import SOCIAL_RELATIONS, check_relations, unknown_relation_message
from edg_comet.source import clean_text


class FileOptions(StrictModel):
    path: str
    """JSONL file of ``{"head", "relation", <tails_field>: [...]}`` objects."""
    tails_field: str = "tails"
    relations: list[str] = list(SOCIAL_RELATIONS)
    head: Literal["last_utterance", "context"] = "last_utterance"
    on_missing: Literal["error", "empty"] = "error"
    """A (head, relation) absent from the file: ``error`` (default) or no tails."""
    batch_size: int = 1024

    @field_validator("relations")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return check_relations(value)


def read_knowledge_file(path: Path, tails_field: str = "tails") -> dict[tuple[str, str], list[str]]:
    """``{(head, relation): tails}`` from a JSONL file; ``DataError`` names file and line."""
    if not path.is_file():
        raise DataError(f"knowledge file not found: {path} (option 'path' of comet.file)")
    table: dict[tuple[str, str], list[str]] = {}
    with path.open(encoding="utf-8") as handle:
        for lineno, row in json_objects(handle, lambda n: f"{path}:{n}"):
            where = f"{path}:{lineno}"
            head, relation, tails = row.get("head"), row.get("relation"), row.get(tails_field)
            if not isinstance(head, str) or not isinstance(relation, str):
                raise DataError(f"{where}: 'head' and 'relation' must be strings")
            if not isinstance(tails, list) or not all(isinstance(t, str) for t in tails):
                raise DataError(f"{where}: '{tails_field}' must be a list of strings")
            key = (clean_text(head), relation)
            table[key] = normalise_tails([*table.get(key, []), *tails])
    return table


class FileKnowledge(KnowledgeSource):
    Options = FileOptions

    def __init__(self, options: FileOptions) -> None:
        super().__init__(options)
        self.batch_size = options.batch_size
        self.path = Path(options.path).expanduser()
        self.table = read_knowledge_file(self.path, options.tails_field)
        self.file_relations = sorted({relation for _, relation in self.table})
        absent = [r for r in options.relations if r not in self.file_relations]
        if absent:
            raise DataError(
                f"{self.path} has no entries for relation(s) {', '.join(absent)} "
                f"(relations in the file: {', '.join(self.file_relations) or 'none'})"
            )

    def fingerprint(self) -> dict[str, Any]:
        stat = self.path.stat()
        return {
            "file": str(self.path.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "tails_field": self.options.tails_field,
            "on_missing": self.options.on_missing,
        }

    def lookup(self, head: str, relation: str) -> list[str]:
        """The tails of (head, relation), or an error that says what is wrong."""
        message = unknown_relation_message(relation)
        if message:
            raise ConfigError(f"comet.file: {message}")
        if relation not in self.file_relations:
            raise DataError(
                f"{self.path} has no '{relation}' entries "
                f"(relations in the file: {', '.join(self.file_relations)})"
            )
        key = (clean_text(head), relation)
        if key in self.table:
            return list(self.table[key])
        if self.options.on_missing == "empty":
            return []
        raise DataError(
            f"{self.path}: no '{relation}' entry for head {key[0]!r} "
            f"(set the option on_missing: empty to allow missing knowledge)"
        )

    def requests(self, sample: dict[str, Any]) -> list[dict[str, str]]:
        if self.options.head == "last_utterance":
            head = clean_text(sample["context"][-1])
        else:
            head = clean_text(" ".join(sample["context"]))
        return [{"head": head, "relation": relation} for relation in self.options.relations]

    def compute(self, requests: list[Any]) -> list[Any]:
        return [self.lookup(r["head"], r["relation"]) for r in requests]

    def attach(self, sample: dict[str, Any], requests: list[Any], answers: list[Any]) -> dict[str, list[str]]:
        return {request["relation"]: list(answer) for request, answer in zip(requests, answers)}
