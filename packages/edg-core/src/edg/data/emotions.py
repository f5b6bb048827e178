"""Label sets of EmpatheticDialogues.

``EMOTIONS`` keeps the index order used by MoEL, CEM and NEC (emotion classifiers' output
ids and results files depend on it): never reorder it.
"""

from __future__ import annotations

#: The 32 conversation emotions of EmpatheticDialogues, in MoEL/CEM/NEC index order.
EMOTIONS: tuple[str, ...] = (
    "surprised",
    "excited",
    "annoyed",
    "proud",
    "angry",
    "sad",
    "grateful",
    "lonely",
    "impressed",
    "afraid",
    "disgusted",
    "confident",
    "terrified",
    "hopeful",
    "anxious",
    "disappointed",
    "joyful",
    "prepared",
    "guilty",
    "furious",
    "nostalgic",
    "jealous",
    "anticipating",
    "embarrassed",
    "content",
    "devastated",
    "sentimental",
    "caring",
    "trusting",
    "ashamed",
    "apprehensive",
    "faithful",
)

#: Emotion label -> index in ``EMOTIONS``.
EMOTION_TO_ID: dict[str, int] = {label: i for i, label in enumerate(EMOTIONS)}

#: The 9 listener response intents of EmpatheticIntents (Welivita & Pu, 2020).
LISTENER_INTENTS: tuple[str, ...] = (
    "questioning",
    "agreeing",
    "acknowledging",
    "sympathizing",
    "encouraging",
    "consoling",
    "suggesting",
    "wishing",
    "neutral",
)

#: Listener intent -> index in ``LISTENER_INTENTS``.
INTENT_TO_ID: dict[str, int] = {label: i for i, label in enumerate(LISTENER_INTENTS)}

#: All utterance-level labels (``utterance_labels.csv``): 32 emotions then 9 intents (41).
UTTERANCE_LABELS: tuple[str, ...] = EMOTIONS + LISTENER_INTENTS

#: Utterance label -> index in ``UTTERANCE_LABELS``.
UTTERANCE_LABEL_TO_ID: dict[str, int] = {label: i for i, label in enumerate(UTTERANCE_LABELS)}

assert len(EMOTIONS) == 32 and len(set(EMOTIONS)) == 32
assert len(LISTENER_INTENTS) == 9 and not set(EMOTIONS) & set(LISTENER_INTENTS)
