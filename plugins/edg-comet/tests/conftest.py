"""Fixtures: the real data in ../shared/data and a tiny COMET-shaped BART."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edg.testing import require_shared


@pytest.fixture(scope="session")
def comet_sample() -> Path:
    return require_shared("comet_atomic2020/BART-atomic_2020.generations.jsonl")


@pytest.fixture(scope="session")
def tiny_comet(tmp_path_factory, comet_sample) -> Path:
    """A tiny random BART + word-level tokenizer trained on the sample's heads."""
    from edg_comet.testing import build_tiny_comet

    heads = [json.loads(line)["head"] for line in comet_sample.open()]
    extra = ["I got a new car and my dog loves it", "My friend lost her job at the bank"]
    return build_tiny_comet(tmp_path_factory.mktemp("tiny_comet"), heads + extra)


def make_sample(i: int, context: list[str]) -> dict:
    return {
        "id": f"c{i}:{len(context) + 1}",
        "conv_id": f"c{i}",
        "turn": len(context) + 1,
        "context": context,
        "roles": ["speaker" if j % 2 == 0 else "listener" for j in range(len(context))],
        "target": "That sounds nice.",
        "emotion": "excited",
        "emotion_id": 1,
        "situation": "s",
    }


@pytest.fixture
def samples() -> list[dict]:
    return [
        make_sample(0, ["I got a new car and my dog loves it"]),
        make_sample(1, ["PersonX calls PersonY ambulance", "Oh no, what happened?", "My friend lost her job at the bank"]),
        make_sample(2, ["PersonX takes things for granted"]),
    ]
