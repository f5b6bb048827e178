"""Dialogue-level samples: one per conversation, with every turn, role and label."""

from __future__ import annotations

import pytest

from edg.data import load_splits
from edg.data.dialogues import to_dialogues
from edg.errors import ConfigError


def test_dialogues_hold_every_turn_and_every_target(tmp_path):
    turns = load_splits(cache_dir=tmp_path)["train"]
    dialogues = to_dialogues(turns)
    assert len(dialogues) == len(set(turns["conv_id"]))
    first = dialogues[0]
    samples = [s for s in turns if s["conv_id"] == first["conv_id"]]
    assert first["turn_ids"] == [s["id"] for s in samples]
    for sample, index in zip(samples, first["target_turns"]):
        assert first["utterances"][:index] == sample["context"]
        assert first["utterances"][index] == sample["target"]
        assert first["roles"][index] == "listener"
    assert first["roles"][0] == "speaker" and first["emotion"] == samples[0]["emotion"]
    if "context_labels" in turns.column_names:
        assert first["utterance_labels"][: len(samples[-1]["context_labels"])] == samples[-1]["context_labels"]
    # speaker_idx travels with every utterance (the sample is role-based: 1 = speaker, 2 = listener)
    assert len(first["utterance_speakers"]) == len(first["utterances"])
    for sample, index in zip(samples, first["target_turns"]):
        assert first["utterance_speakers"][:index] == sample["context_speakers"]
        assert first["utterance_speakers"][index] == sample["target_speaker"]
    assert first["utterance_speakers"] == ["1" if r == "speaker" else "2" for r in first["roles"]]
    assert sum(len(d["target_turns"]) for d in dialogues) == len(turns)


def test_dialogue_shape_through_the_config_counts_conversations(tmp_path, monkeypatch):
    from edg.pipeline import load_data, open_session

    monkeypatch.setenv("EDG_CACHE", str(tmp_path))
    session = open_session("transformer", None, ["data.shape=dialogue", "data.max_train=3"])
    splits = load_data(session.config)
    assert len(splits["train"]) == 3 and "utterances" in splits["train"].column_names
    assert "utterances" in splits["valid"].column_names
    assert "target" in splits["test"].column_names  # evaluated per listener turn


def test_a_context_window_cannot_make_dialogues(tmp_path):
    turns = load_splits(cache_dir=tmp_path, context_window=1)["train"]
    with pytest.raises(ConfigError, match="unset data.context_window"):
        to_dialogues(turns)
