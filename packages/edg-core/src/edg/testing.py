"""Helpers for testing edg and its plugins (pytest is imported only when needed)."""

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


def shared_data_dir() -> Path:
    """``$EDG_SHARED_DATA``, else ``../shared/data`` beside the repository checkout
    (found from this file, or from the working directory for installed copies)."""
    env = os.environ.get("EDG_SHARED_DATA")
    if env:
        return Path(env)
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for parent in start.parents:
            if (parent / "packages" / "edg-core").is_dir():
                return parent.parent / "shared" / "data"
    return Path.cwd() / ".." / "shared" / "data"


def require_shared(relative: str) -> Path:
    """A path inside the shared data for a test: skipped when absent, but a failure when
    ``CI`` is set (CI always has the data beside the clone)."""
    import pytest

    path = shared_data_dir() / relative
    if not path.exists():
        message = f"shared test data not found: {path} (set EDG_SHARED_DATA)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
