"""ATOMIC-2020 relation tokens and the relation sets of the papers edg reproduces."""

from __future__ import annotations

from typing import Iterable

#: The 23 relations of ATOMIC-2020 (Hwang et al., 2021), as written in the knowledge graph
#: and in COMET queries (``"{head} {relation} [GEN]"``).
ATOMIC2020_RELATIONS: tuple[str, ...] = (
    # social-interaction
    "xIntent", "xNeed", "xAttr", "xEffect", "xReact", "xWant", "oEffect", "oReact", "oWant",
    "xReason", "HinderedBy",
    # physical-entity
    "ObjectUse", "AtLocation", "MadeUpOf", "HasProperty", "CapableOf", "Desires", "NotDesires",
    # event-centered
    "Causes", "HasSubEvent", "isAfter", "isBefore", "isFilledBy",
)  # fmt: skip

#: Every relation token the released COMET-ATOMIC 2020 BART tokenizer knows (its
#: ``all_relations``: ATOMIC-2020 plus the ConceptNet relations it was trained with).
COMET_RELATION_TOKENS: tuple[str, ...] = (
    "AtLocation", "CapableOf", "Causes", "CausesDesire", "CreatedBy", "DefinedAs", "DesireOf",
    "Desires", "HasA", "HasFirstSubevent", "HasLastSubevent", "HasPainCharacter",
    "HasPainIntensity", "HasPrerequisite", "HasProperty", "HasSubEvent", "HasSubevent",
    "HinderedBy", "InheritsFrom", "InstanceOf", "IsA", "LocatedNear", "LocationOfAction",
    "MadeOf", "MadeUpOf", "MotivatedByGoal", "NotCapableOf", "NotDesires", "NotHasA",
    "NotHasProperty", "NotIsA", "NotMadeOf", "ObjectUse", "PartOf", "ReceivesAction",
    "RelatedTo", "SymbolOf", "UsedFor", "isAfter", "isBefore", "isFilledBy", "oEffect",
    "oReact", "oWant", "xAttr", "xEffect", "xIntent", "xNeed", "xReact", "xReason", "xWant",
)  # fmt: skip

#: The token COMET-BART expects after the relation.
GEN_TOKEN = "[GEN]"

#: CEM and NEC: social commonsense about the last utterance (order as in CEM).
SOCIAL_RELATIONS: tuple[str, ...] = ("xIntent", "xNeed", "xWant", "xEffect", "xReact")

#: NEC §3.2: commonsense about the entities of the context.
ENTITY_RELATIONS: tuple[str, ...] = ("ObjectUse", "AtLocation", "MadeUpOf", "HasProperty")

#: IMAGINE §3.2.2 / Appendix A: 11 relations in four groups (order as in §3.2.2).
IMAGINE_GROUPS: dict[str, tuple[str, ...]] = {
    "Affect": ("xReact",),
    "Behaviour": ("xIntent", "xNeed", "xWant", "xEffect", "xAttr"),
    "Physical": ("HasProperty", "CapableOf", "Desires"),
    "Events": ("Causes", "xReason"),
}

_BY_LOWER = {r.lower(): r for r in COMET_RELATION_TOKENS}


def unknown_relation_message(relation: str) -> str | None:
    """``None`` for a relation COMET knows, else a one-line message with the right spelling.

    Case must match (``xReact``, not ``XReact`` as IMAGINE writes it): COMET's tokenizer
    only knows the exact tokens.
    """
    if relation in COMET_RELATION_TOKENS:
        return None
    hint = _BY_LOWER.get(str(relation).lower())
    did_you_mean = f" (did you mean '{hint}'?)" if hint else ""
    return (
        f"unknown COMET relation '{relation}'{did_you_mean}; "
        f"ATOMIC-2020 relations: {', '.join(ATOMIC2020_RELATIONS)}"
    )


def check_relations(relations: Iterable[str]) -> list[str]:
    """Validate a configured relation list (raises ``ValueError``: for pydantic validators,
    which turn it into a ``ConfigError`` naming the config key)."""
    out = list(relations)
    if not out:
        raise ValueError("at least one relation is needed")
    for relation in out:
        message = unknown_relation_message(relation)
        if message:
            raise ValueError(message)
    if len(set(out)) != len(out):
        raise ValueError(f"relations are repeated: {out}")
    return out
