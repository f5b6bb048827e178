"""The real NRC VAD lexicon from ../shared/data (or $EDG_SHARED_DATA)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edg.testing import require_shared


@pytest.fixture(scope="session")
def lexicon_path() -> Path:
    return require_shared("nrc_vad/NRC-VAD-Lexicon.txt")
