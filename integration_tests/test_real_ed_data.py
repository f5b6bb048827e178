"""EmpatheticDialogues loaders on the real data in ../shared/data (never shipped with edg).

The data lives beside the repository (``<repo>/../shared/data``), or wherever ``EDG_SHARED_DATA``
points. Without it the tests skip, except under CI (env ``CI`` set) where a missing copy is a
failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edg.testing import require_shared
from edg.data import EMOTION_TO_ID, EMOTIONS, SAMPLE_COLUMNS, UTTERANCE_LABELS, load_splits
from edg.data.empathetic_dialogues import SPEAKER_COLUMNS


# MoEL/CEM listener-turn samples with the shared data's split assignment (see its README)
EXPECTED = {"train": 40290, "valid": 5724, "test": 5249}


@pytest.fixture(scope="module")
def ed_dir() -> Path:
    return require_shared("empatheticdialogues/train.csv").parent


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ed-cache")


@pytest.fixture(scope="module")
def splits(ed_dir, cache):
    return load_splits(ed_dir, cache_dir=cache)


def test_sample_counts(splits):
    assert {k: len(v) for k, v in splits.items()} == EXPECTED


def test_schema_and_content(splits):
    train = splits["train"]
    assert list(train.column_names) == [*SAMPLE_COLUMNS, "context_labels", "target_label", *SPEAKER_COLUMNS]
    first = train[0]
    assert first["id"] == "hit:0_conv:1:2" and first["turn"] == 2
    assert first["emotion"] == "sentimental" and first["emotion_id"] == EMOTION_TO_ID["sentimental"]
    assert first["roles"] == ["speaker"]
    assert first["target"] == "Was this a friend you were in love with, or just a best friend?"
    assert first["situation"].startswith("I remember going to the fireworks with my best friend.")
    assert "," in first["situation"] and "_comma_" not in first["situation"]
    assert set(train["emotion"]) == set(EMOTIONS)
    # every target is a listener turn whose context alternates, starting with the speaker
    for row in train.select(range(0, len(train), 997)):
        assert row["turn"] % 2 == 0 and len(row["context"]) == row["turn"] - 1
        assert row["roles"] == ["speaker" if i % 2 == 0 else "listener" for i in range(len(row["context"]))]
        assert row["target_label"] in UTTERANCE_LABELS  # classifier output: an intent or an emotion
        assert len(row["context_labels"]) == len(row["context"])
        # the shared copy is role-based: speaker_idx 1 = speaker, 2 = listener
        assert row["context_speakers"] == ["1" if r == "speaker" else "2" for r in row["roles"]]
        assert row["target_speaker"] == "2"
    for split in ("valid", "test"):
        assert not set(splits[split]["conv_id"][:200]) & set(train["conv_id"][:200])


def test_context_window_and_cache(ed_dir, cache, splits):
    windowed = load_splits(ed_dir, cache_dir=cache, context_window=2, max_examples={"train": 1000})
    assert len(windowed["train"]) == 1000 and len(windowed["test"]) == EXPECTED["test"]
    assert max(len(c) for c in windowed["train"]["context"]) == 2
    assert [len(s) for s in windowed["train"]["context_speakers"]] == [len(c) for c in windowed["train"]["context"]]
    again = load_splits(ed_dir, cache_dir=cache)
    assert again["train"].cache_files == splits["train"].cache_files
