"""Emotion accuracy."""

from __future__ import annotations

from collections.abc import Sequence

from edg.errors import DataError

DEFINITION = "emotion accuracy: argmax of the system's 32-way prediction vs the gold emotion label, x100"

# Local copy of the 32-label order used by MoEL/CEM/NEC (from ../shared/data/README.md). Used only
# when ``edg.data.EMOTIONS`` cannot be imported; ``edg.data`` is the authoritative source.
_EMOTIONS_FALLBACK = (
    "surprised", "excited", "annoyed", "proud", "angry", "sad", "grateful", "lonely",
    "impressed", "afraid", "disgusted", "confident", "terrified", "hopeful", "anxious",
    "disappointed", "joyful", "prepared", "guilty", "furious", "nostalgic", "jealous",
    "anticipating", "embarrassed", "content", "devastated", "sentimental", "caring",
    "trusting", "ashamed", "apprehensive", "faithful",
)


def emotion_labels() -> tuple[str, ...]:
    """The 32 emotion labels in index order: ``edg.data.EMOTIONS`` if importable, else a local copy."""
    try:
        from edg.data import EMOTIONS  # type: ignore[attr-defined]

        labels = tuple(str(e) for e in EMOTIONS)
        if len(labels) == 32:
            return labels
    except Exception:  # noqa: BLE001 - edg.data may be missing or mid-edit; fall back
        pass
    return _EMOTIONS_FALLBACK


def normalize_label(value: int | str, labels: Sequence[str] | None = None) -> str:
    """Map a label to its lowercase name: an int (or a string of digits) is an index into
    :func:`emotion_labels`; a string is stripped and lowercased."""
    if isinstance(value, bool):
        raise DataError(f"emotion label must be an int index or a name, got {value!r}")
    if isinstance(value, str):
        s = value.strip()
        if not s.isdigit():
            return s.lower()
        value = int(s)
    try:
        idx = int(value)
    except (TypeError, ValueError):
        raise DataError(f"emotion label must be an int index or a name, got {value!r}") from None
    labels = emotion_labels() if labels is None else labels
    if not 0 <= idx < len(labels):
        raise DataError(f"emotion index {idx} out of range 0..{len(labels) - 1}")
    return labels[idx]


def accuracy(gold: Sequence[int | str], pred: Sequence[int | str]) -> float:
    """Emotion accuracy (``acc``), x100.

    Definition: the share of samples whose predicted emotion (the argmax of the system's 32-way
    prediction) equals the gold emotion label, times 100. Labels may be given as names
    (case-insensitive) or as indices into the 32-label order of ``edg.data.EMOTIONS``
    (MoEL/CEM/NEC order); both sides are mapped to names before comparison.
    Raises :class:`~edg.errors.DataError` when the lists differ in length or are empty.
    """
    if len(gold) != len(pred):
        raise DataError(f"accuracy: {len(gold)} gold labels but {len(pred)} predictions; the counts must match")
    if not gold:
        raise DataError("accuracy: no labels to score")
    labels = None
    if any(not isinstance(v, str) or v.strip().isdigit() for v in (*gold, *pred)):
        labels = emotion_labels()
    correct = sum(normalize_label(g, labels) == normalize_label(p, labels) for g, p in zip(gold, pred))
    return 100.0 * correct / len(gold)
