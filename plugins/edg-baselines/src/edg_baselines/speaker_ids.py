"""Speaker ids of the official EmpatheticDialogues release, for MoEL's optional persona input.

The official CSVs carry ``speaker_idx``, the crowd worker who wrote each utterance; the core's
loader does not keep it (its samples have roles only), so this module reads it back from the
same files by ``(conv_id, utterance_idx)``, splitting lines on ``,`` exactly as the core's
reader and the official readers do (no CSV quoting, fields by header position).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from edg.errors import ConfigError, DataError

SPLITS = ("train", "valid", "test")
REQUIRED = ("conv_id", "utterance_idx", "speaker_idx")


def csv_directory(path: Optional[str]) -> Path:
    """The directory holding ``{train,valid,test}.csv`` for ``data.path``."""
    if path is None:
        raise ConfigError("model.persona needs data.path: a directory of the official ED CSVs (speaker_idx column)")
    p = Path(path).expanduser()
    for candidate in (p, p / "empatheticdialogues"):
        if (candidate / "train.csv").is_file():
            return candidate
    raise ConfigError(f"model.persona needs the official ED CSV files (train.csv with speaker_idx) under "
                      f"data.path={path}")


def read_speaker_ids(csv_path: Path) -> dict[tuple[str, int], str]:
    """``(conv_id, utterance_idx) -> speaker_idx`` of one split file."""
    try:
        lines = csv_path.read_text(encoding="utf-8").split("\n")
    except OSError as e:
        raise DataError(f"{csv_path}: cannot read ({e.strerror or e})") from None
    if not lines or not lines[0].strip():
        raise DataError(f"{csv_path}: empty file")
    names = [h.strip() for h in lines[0].lstrip("\ufeff").split(",")]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise DataError(f"{csv_path}: missing column {missing[0]!r} in header line 1 (model.persona reads speaker_idx)")
    i_conv, i_idx, i_spk = (names.index(c) for c in REQUIRED)
    out: dict[tuple[str, int], str] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < len(names):
            raise DataError(f"{csv_path} line {lineno}: expected {len(names)} comma-separated fields, got {len(parts)}")
        try:
            idx = int(parts[i_idx])
        except ValueError:
            raise DataError(f"{csv_path} line {lineno}: utterance_idx {parts[i_idx]!r} is not an integer") from None
        out[(parts[i_conv].strip(), idx)] = parts[i_spk].strip()
    return out


def speaker_vocabulary(train_speakers: list[str]) -> dict[str, int]:
    """Speaker id -> embedding row, 1..K in sorted order of the training split's speakers
    (row 0 is kept for speakers not seen in training)."""
    return {s: i + 1 for i, s in enumerate(sorted(set(train_speakers)))}
