"""Helpers for testing edg and its plugins (no test framework imported here)."""

from __future__ import annotations

import os
from pathlib import Path

#: overrides that make the ``transformer`` baseline tiny and fast (CPU tests, smoke runs)
TINY_TRANSFORMER = [
    "model.d_model=32", "model.layers=1", "model.heads=2", "model.ffn_dim=64",
    "train.batch_size=8", "train.eval_batch_size=16", "train.max_steps=12", "train.eval_every=4",
    "train.log_every=2", "train.warmup_steps=4", "train.lr=1e-3", "train.progress=false",
    "eval.batch_size=16", "generation.max_length=12",
]


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the repository (``$EDG_SHARED_DATA`` overrides), or None."""
    if os.environ.get("EDG_SHARED_DATA"):
        path = Path(os.environ["EDG_SHARED_DATA"])
        return path if path.is_dir() else None
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data"
        if (parent / "pyproject.toml").is_file() and (parent / "packages").is_dir() and candidate.is_dir():
            return candidate
    return None
