"""Rescore a file of outputs written by any system with edg's one evaluator.

Two formats (chosen by extension: ``.jsonl``/``.json`` -> JSON lines, ``.tsv``/``.tab`` -> TSV;
any other extension is sniffed from its first non-blank character, ``{`` meaning JSON lines):

* JSON lines: one object per line with string keys ``hypothesis`` and ``reference`` and optional
  ``emotion`` (gold label) and ``pred_emotion`` (predicted label; name or 32-way index). Other
  keys (``id``, ``context``...) are kept. A run's ``test_outputs.jsonl`` is such a file.
* TSV: a header row naming the columns (``hypothesis`` and ``reference`` required, ``emotion`` and
  ``pred_emotion`` optional, other columns kept as strings), then one tab-separated row per sample
  with exactly as many fields as the header. No quoting: fields are split on tabs.

Blank lines are skipped. Every malformed line raises :class:`~edg.errors.DataError` naming
``file:line``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from edg.errors import DataError
from edg.jsonl import json_objects

REQUIRED_KEYS = ("hypothesis", "reference")
OPTIONAL_KEYS = ("emotion", "pred_emotion")


def _is_jsonl(path: Path, lines: list[str]) -> bool:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return True
    if suffix in (".tsv", ".tab"):
        return False
    first = next((ln for ln in lines if ln.strip()), "")
    return first.lstrip().startswith("{")


def _check_label(value, path: Path, lineno: int, key: str):
    """``value`` if it is one of the 32 emotion labels (a name, any case, or an index);
    a misspelt label would otherwise count as a correct or wrong prediction silently."""
    from edg.metrics.accuracy import emotion_labels

    if value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{path}:{lineno}: {key!r} must be an emotion name or index, got {value!r}")
    labels = emotion_labels()
    text = str(value).strip()
    if text.isdigit() and int(text) < len(labels):
        return value
    if not text.isdigit() and text.lower() in labels:
        return value
    raise DataError(f"{path}:{lineno}: unknown emotion label {value!r} in {key!r} (expected one of the "
                    f"{len(labels)} EmpatheticDialogues emotions, e.g. {labels[0]!r}, or an index 0-{len(labels) - 1})")


def _read_jsonl(path: Path, lines: list[str]) -> list[tuple[int, dict]]:
    out = []
    for lineno, obj in json_objects(lines, lambda n: f"{path}:{n}"):
        for key in REQUIRED_KEYS:
            if key not in obj:
                raise DataError(f"{path}:{lineno}: missing key {key!r}")
            if not isinstance(obj[key], str):
                raise DataError(f"{path}:{lineno}: {key!r} must be a string, got {type(obj[key]).__name__}")
        rec = dict(obj)
        for key in OPTIONAL_KEYS:
            rec[key] = _check_label(obj.get(key), path, lineno, key)
        out.append((lineno, rec))
    return out


def _read_tsv(path: Path, lines: list[str]) -> list[tuple[int, dict]]:
    header_no = next((i for i, ln in enumerate(lines, 1) if ln.strip()), None)
    if header_no is None:
        return []
    header = [h.strip() for h in lines[header_no - 1].rstrip("\r\n").split("\t")]
    for key in REQUIRED_KEYS:
        if key not in header:
            raise DataError(
                f"{path}:{header_no}: header must name the columns {', '.join(REQUIRED_KEYS)} "
                f"(optional: {', '.join(OPTIONAL_KEYS)}); missing column {key!r}"
            )
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise DataError(f"{path}:{header_no}: duplicate column(s) {', '.join(dup)}")
    out = []
    for lineno in range(header_no + 1, len(lines) + 1):
        line = lines[lineno - 1].rstrip("\r\n")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError(f"{path}:{lineno}: expected {len(header)} tab-separated columns, got {len(fields)}")
        rec: dict = dict(zip(header, fields))
        for key in OPTIONAL_KEYS:
            value = rec.get(key)
            rec[key] = _check_label(value if value not in (None, "") else None, path, lineno, key)
        out.append((lineno, rec))
    return out


def _read(path: str | Path) -> tuple[Path, list[tuple[int, dict]]]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{p}: is a directory, expected an outputs file (.jsonl or .tsv)") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = text.splitlines()
    rows = _read_jsonl(p, lines) if _is_jsonl(p, lines) else _read_tsv(p, lines)
    if not rows:
        raise DataError(f"{p}: no samples")
    return p, rows


def load_outputs(path: str | Path) -> list[dict]:
    """Read an outputs file (JSON lines or TSV, see the module doc) -> one dict per sample.

    Every dict has ``hypothesis`` and ``reference`` (str) and ``emotion`` and ``pred_emotion``
    (``None`` when absent), plus any other keys/columns of the file.
    """
    return [rec for _, rec in _read(path)[1]]


def score_file(
    path: str | Path,
    names: Iterable[str] | None = None,
    bertscore_model: str | None = None,
) -> dict[str, float]:
    """Rescore an outputs file with :func:`edg.metrics.compute_metrics`.

    Default metrics: every text metric, ``acc`` when every sample has both ``emotion`` and
    ``pred_emotion``, and ``bertscore`` when ``bertscore_model`` (a local model directory) is
    given. ``ppl`` cannot be computed from a file (it needs the model's NLLs). If only some
    samples carry both labels, ``acc`` raises :class:`~edg.errors.DataError` naming the first
    line without them.
    """
    from edg.metrics import compute_metrics

    p, rows = _read(path)
    names = [names] if isinstance(names, str) else (list(names) if names is not None else None)
    if names is not None and "ppl" in names:
        raise DataError(f"{p}: 'ppl' cannot be computed from an outputs file (it needs the model's token NLLs)")
    labelled = [rec["emotion"] is not None and rec["pred_emotion"] is not None for _, rec in rows]
    want_acc = any(labelled) if names is None else "acc" in names
    gold = pred = None
    if want_acc:
        missing = next((ln for (ln, _), ok in zip(rows, labelled) if not ok), None)
        if missing is not None:
            raise DataError(f"{p}:{missing}: 'emotion' and 'pred_emotion' are needed on every line to score 'acc'")
        gold = [rec["emotion"] for _, rec in rows]
        pred = [rec["pred_emotion"] for _, rec in rows]
    hyps = [rec["hypothesis"] for _, rec in rows]
    refs = [rec["reference"] for _, rec in rows]
    if not any(h.strip() for h in hyps):
        raise DataError(f"{p}: all {len(hyps)} hypotheses are empty; nothing to score")
    try:
        return compute_metrics(
            hyps,
            refs,
            gold_emotions=gold,
            pred_emotions=pred,
            names=names,
            bertscore_model=bertscore_model,
        )
    except DataError as exc:
        raise DataError(f"{p}: {exc}") from None
