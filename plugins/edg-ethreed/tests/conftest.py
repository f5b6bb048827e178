"""Shared fixtures of edg-ethreed's tests."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def dialogue_tokenizer(monkeypatch):
    """Until the core builds the tokenizer from a dialogue-shaped training split (its
    ``prepare_tokenizer`` reads the per-turn ``context``/``target`` columns), hand it the
    same texts through those columns: every utterance of every training conversation.
    A no-op once the core reads ``utterances`` itself."""
    import edg.pipeline as pipeline

    original = pipeline.prepare_tokenizer

    def prepare_tokenizer(session, splits, run_dir):
        train = splits["train"]
        if "context" not in train.column_names and "utterances" in train.column_names:
            view = train.map(lambda row: {"context": row["utterances"][:-1], "target": row["utterances"][-1]})
            tokenizer = original(session, {**splits, "train": view}, run_dir)
            return tokenizer
        return original(session, splits, run_dir)

    monkeypatch.setattr(pipeline, "prepare_tokenizer", prepare_tokenizer)
