"""The real NRC VAD lexicon from ../shared/data (or $EDG_SHARED_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


def shared_data_dir() -> Path:
    env = os.environ.get("EDG_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def lexicon_path() -> Path:
    """Skipped when absent, except on CI (``CI`` set), where it is a failure."""
    path = shared_data_dir() / "nrc_vad" / "NRC-VAD-Lexicon.txt"
    if not path.is_file():
        message = f"NRC VAD lexicon not found: {path} (set EDG_SHARED_DATA)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
