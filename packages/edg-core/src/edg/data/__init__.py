"""Data pipeline: EmpatheticDialogues loaders, label sets and training-split statistics.

>>> from edg.data import load_splits
>>> splits = load_splits()          # the small original sample shipped with edg
>>> sorted(splits)
['test', 'train', 'valid']
"""

from edg.data.emotions import (
    EMOTION_TO_ID,
    EMOTIONS,
    INTENT_TO_ID,
    LISTENER_INTENTS,
    UTTERANCE_LABEL_TO_ID,
    UTTERANCE_LABELS,
)
from edg.data.empathetic_dialogues import (
    CSV_COLUMNS,
    HF_DATASET_NAME,
    SAMPLE_COLUMNS,
    SPEAKER_COLUMNS,
    SAMPLE_DATA_DIR,
    SPLITS,
    default_cache_dir,
    load_splits,
    write_jsonl,
)
from edg.data.statistics import frequency_weights, frequent_responses, idf, token_frequencies

__all__ = [
    "CSV_COLUMNS",
    "EMOTIONS",
    "EMOTION_TO_ID",
    "HF_DATASET_NAME",
    "INTENT_TO_ID",
    "LISTENER_INTENTS",
    "SAMPLE_COLUMNS",
    "SPEAKER_COLUMNS",
    "SAMPLE_DATA_DIR",
    "SPLITS",
    "UTTERANCE_LABELS",
    "UTTERANCE_LABEL_TO_ID",
    "default_cache_dir",
    "frequency_weights",
    "frequent_responses",
    "idf",
    "load_splits",
    "token_frequencies",
    "write_jsonl",
]
