"""``comet.entity``: context-aware commonsense about the entities of the context (NEC §3.2).

NEC's COMET input is ``U ⊕ "in this case" ⊕ ent_j ⊕ [rel_i]`` (its eq. 2), with ``U`` the
whole dialogue history, ``ent_j`` each entity of the context and ``rel_i`` one of
ObjectUse, AtLocation, MadeUpOf and HasProperty. The sample gets the list of all
triplets ``{"entity", "relation", "tail"}`` (NEC's ``K_all``; its selection of the top
triplets by a trained scorer is the NEC system's job).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import field_validator

from edg_comet.entities import DEFAULT_WORDNET_DIR, make_extractor
from edg_comet.generator import CometOptions
from edg_comet.relations import ENTITY_RELATIONS, check_relations
from edg_comet.source import CometSource, clean_text

#: NEC's prompt ``P_c`` between the context and the entity.
NEC_PROMPT = "in this case"


class EntityOptions(CometOptions):
    relations: list[str] = list(ENTITY_RELATIONS)
    entity_extractor: Literal["auto", "nltk", "pattern", "wordnet"] = "auto"
    """``auto``: NLTK's tagger (the paper's) when its data is installed, else ``pattern``;
    ``nltk``: nouns by NLTK POS tag (needs its tagger data); ``pattern``: TextBlob's Pattern
    tagger (data inside the textblob wheel, offline); ``wordnet``: WordNet's noun index in
    ``wordnet_dir``. The extractor used is recorded in the fingerprint."""
    wordnet_dir: str = DEFAULT_WORDNET_DIR
    max_entities: Optional[int] = None
    """Keep only the first N entities of a context (``None``: all, as NEC)."""
    prompt: str = NEC_PROMPT

    @field_validator("relations")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return check_relations(value)


class EntityKnowledge(CometSource):
    Options = EntityOptions

    def __init__(self, options: EntityOptions) -> None:
        super().__init__(options)
        # built now so a missing tagger or WordNet fails before any work is done
        self.extract_entities = make_extractor(options.entity_extractor, options.wordnet_dir)

    def fingerprint(self) -> dict[str, Any]:
        # the extractor decides which entities (hence which knowledge) a sample gets
        return {**super().fingerprint(), **self.extract_entities.describe()}

    def entities(self, sample: dict[str, Any]) -> list[str]:
        found = self.extract_entities(" ".join(sample["context"]))
        limit = self.options.max_entities
        return found if limit is None else found[:limit]

    def requests(self, sample: dict[str, Any]) -> list[dict[str, str]]:
        context = clean_text(" ".join(sample["context"]))
        out = []
        for entity in self.entities(sample):
            head = f"{context} {self.options.prompt} {entity}"
            for relation in self.options.relations:
                out.append({"head": head, "relation": relation, "entity": entity})
        return out

    def attach(self, sample: dict[str, Any], requests: list[Any], answers: list[Any]) -> list[dict[str, str]]:
        return [
            {"entity": request["entity"], "relation": request["relation"], "tail": tail}
            for request, answer in zip(requests, answers)
            for tail in answer
        ]
