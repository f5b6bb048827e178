"""EPITOME (Sharma et al., 2020) communication-mechanism annotations as binary examples.

One CSV per mechanism (``sp_id,rp_id,seeker_post,response_post,level,rationales``, quoted
CSV); level 0 is "no", levels 1 (weak) and 2 (strong) are merged into "yes" (§3.2.1). The
corpus ships no split: a seeded ``test_fraction`` of the rows is held out for the accuracy
the fit stage reports.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from edg.errors import ResourceError

#: mechanism -> file of the shared copy (behavioral-data/Empathy-Mental-Health, dataset/)
EPITOME_FILES = {
    "er": "emotional-reactions-reddit.csv",
    "ip": "interpretations-reddit.csv",
    "ex": "explorations-reddit.csv",
}
MECHANISMS = tuple(EPITOME_FILES)


def read_epitome(path: str | Path) -> list[tuple[list[str], int]]:
    """(segments [seeker post, response post], label) rows; label 1 when level is 1 or 2."""
    path = Path(path)
    if not path.is_file():
        raise ResourceError(f"EPITOME file not found: {path} (set model.mechanism_classifier.epitome_dir)")
    rows: list[tuple[list[str], int]] = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"seeker_post", "response_post", "level"} - set(reader.fieldnames or [])
        if missing:
            raise ResourceError(f"{path} line 1: missing columns {sorted(missing)}")
        for row in reader:
            try:
                level = int(row["level"])
            except ValueError:
                raise ResourceError(f"{path} line {reader.line_num}: level '{row['level']}' is not 0, 1 or 2") from None
            if level not in (0, 1, 2):
                raise ResourceError(f"{path} line {reader.line_num}: level {level} is not 0, 1 or 2")
            rows.append(([row["seeker_post"], row["response_post"]], int(level > 0)))
    return rows


def split_rows(rows: list, test_fraction: float, seed: int) -> tuple[list, list]:
    """A seeded (train, test) split of ``rows``."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    cut = int(round(len(rows) * test_fraction))
    return [rows[i] for i in sorted(order[cut:])], [rows[i] for i in sorted(order[:cut])]
