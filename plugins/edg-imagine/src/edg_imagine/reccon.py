"""RECCON (Poria et al., 2021) read as Causal Emotion Entailment pairs.

Each RECCON file maps a dialogue id to ``[[turn, ...]]``; a non-neutral turn carries
``expanded emotion cause evidence``, the 1-based turns holding its cause (``"b"``: a cause
outside the conversation). As in RECCON's ``data/classification`` sets, every non-neutral
target utterance U_t is paired with each candidate U_i, i <= t (the target itself
included); the pair is positive when i is in the evidence. The text of a pair is
``emotion, target, candidate, history`` (the history: U_1..U_t), RECCON's
``<emotion> <SEP> <target> <SEP> <candidate> <SEP> <history>`` input. Each pair also carries
the candidate's distance to the target in turns (0: the target itself), which the small
offline detector reads as a pair feature (:mod:`edg_imagine.cause_detector`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from edg.errors import ResourceError

#: the files of the shared copy (declare-lab/RECCON, data/original_annotation)
RECCON_FILES = {
    "train": "dailydialog_train.json",
    "valid": "dailydialog_valid.json",
    "dd_test": "dailydialog_test.json",
    "iemocap_test": "iemocap_test.json",
}


class CausePair(NamedTuple):
    """One (target, candidate) pair: its text segments, its label (1: the candidate is a
    cause of the target's emotion) and the candidate's distance to the target in turns."""

    segments: list[str]
    label: int
    distance: int


def cause_input(emotion: str, utterances: list[str], target: int, candidate: int) -> list[str]:
    """The segments of one (target, candidate) pair; ``target``/``candidate`` 0-based."""
    history = " ".join(u.strip() for u in utterances[: target + 1])
    return [emotion, utterances[target], utterances[candidate], history]


def read_reccon(path: str | Path) -> list[CausePair]:
    """The entailment pairs of one RECCON file (:class:`CausePair`: segments, label, distance)."""
    path = Path(path)
    try:
        dialogues = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResourceError(f"RECCON file not found: {path} (set model.cause_detector.reccon_dir)") from None
    except json.JSONDecodeError as exc:
        raise ResourceError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    pairs: list[CausePair] = []
    for dialogue_id, wrapped in dialogues.items():
        turns: list[dict[str, Any]] = wrapped[0] if wrapped and isinstance(wrapped[0], list) else wrapped
        utterances = [str(turn["utterance"]) for turn in turns]
        for t, turn in enumerate(turns):
            evidence = turn.get("expanded emotion cause evidence")
            if turn.get("emotion", "neutral") == "neutral" or evidence is None:
                continue
            causes = {e - 1 for e in evidence if isinstance(e, int)}  # "b": cause outside the dialogue
            for i in range(t + 1):
                pairs.append(CausePair(cause_input(turn["emotion"], utterances, t, i), int(i in causes), t - i))
    if not pairs:
        raise ResourceError(f"{path}: no annotated non-neutral utterance (is this a RECCON original_annotation file?)")
    return pairs
