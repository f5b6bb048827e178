"""The NRC Valence-Arousal-Dominance lexicon v1 (Mohammad, 2018).

A tab-separated file with a header ``Word<TAB>Valence<TAB>Arousal<TAB>Dominance`` and one
word per line, values in [0, 1]. The lexicon is free for research but needs a licence from
NRC for commercial use, so edg does not ship it: download it and configure its path with
the option ``lexicon_path``.

edg-vad ships instead a small **hand-made** lexicon in the same format
(:func:`handmade_lexicon_path`, 284 common emotion words with values its developers wrote
by hand, on a 0.05 grid): original values, *not* NRC's, so that tiny presets and smoke runs
work offline. Use NRC's file for experiments. Lines starting with ``#`` are comments.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from edg.errors import DataError, ResourceError

LEXICON_URL = "https://saifmohammad.com/WebPages/nrc-vad.html"
HANDMADE_LEXICON = "handmade_vad_lexicon.tsv"

Lexicon = dict[str, tuple[float, float, float]]


def missing_lexicon_error(path: str | os.PathLike | None) -> ResourceError:
    where = f"NRC VAD lexicon not found: {path}" if path else "no NRC VAD lexicon configured"
    return ResourceError(
        f"{where}; it is not bundled (commercial use needs a licence from NRC): download "
        f"NRC-VAD-Lexicon.txt from {LEXICON_URL} and set the option lexicon_path to it "
        f"(smoke runs: handmade_lexicon: true uses edg-vad's small hand-made lexicon)"
    )


def handmade_lexicon_path() -> Path:
    """The hand-made lexicon shipped inside edg-vad (package data; not NRC's values)."""
    return Path(__file__).resolve().parent / "data" / HANDMADE_LEXICON


def load_lexicon(path: str | os.PathLike) -> Lexicon:
    """``{word: (valence, arousal, dominance)}``; words are lowercased.

    :raises ResourceError: the file does not exist (the message says where to get it).
    :raises DataError: a malformed line (``file:line``).
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise missing_lexicon_error(file)
    stat = file.stat()
    return dict(_load(str(file), stat.st_size, stat.st_mtime_ns))


@lru_cache(maxsize=4)
def _load(path: str, size: int, mtime_ns: int) -> tuple[tuple[str, tuple[float, float, float]], ...]:
    # cached by (path, size, mtime): several modules and tests read the same 20k-word file
    file = Path(path)
    entries: dict[str, tuple[float, float, float]] = {}
    header_seen = False
    with file.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if not header_seen and not entries and fields[0].strip().lower() == "word":
                header_seen = True
                continue  # header
            if len(fields) != 4:
                raise DataError(
                    f"{file}:{lineno}: expected 4 tab-separated fields "
                    f"(word, valence, arousal, dominance), got {len(fields)}: {line[:60]!r}"
                )
            try:
                values = tuple(float(v) for v in fields[1:])
            except ValueError:
                raise DataError(f"{file}:{lineno}: values must be numbers: {line[:60]!r}") from None
            if not all(0.0 <= v <= 1.0 for v in values):
                raise DataError(f"{file}:{lineno}: values must lie in [0, 1]: {line[:60]!r}")
            entries[fields[0].strip().lower()] = values  # type: ignore[assignment]
    if not entries:
        raise DataError(f"{file}: no entries")
    return tuple(entries.items())
