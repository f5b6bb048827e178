"""Rescore a file of outputs written by any system with edg's one evaluator.

edg's own two formats (chosen by extension: ``.jsonl``/``.json`` -> JSON lines, ``.tsv``/``.tab``
-> TSV; any other extension is sniffed from its first non-blank character, ``{`` meaning JSON
lines), described below. The released outputs of other repositories (MoEL/MIME/CEM test logs,
KEMP/EmpDG ``Pred:``/``Ref:`` files, EmpDG's ``models_result.json``) are read by
:mod:`edg.metrics.released_formats`, which :func:`score_outputs` uses for every file:

* JSON lines: one object per line with string keys ``hypothesis`` and ``reference`` and optional
  ``emotion`` (gold label) and ``pred_emotion`` (predicted label; name or 32-way index). Other
  keys (``id``, ``context``...) are kept. A run's ``test_outputs.jsonl`` is such a file.
* TSV: a header row naming the columns (``hypothesis`` and ``reference`` required, ``emotion`` and
  ``pred_emotion`` optional, other columns kept as strings), then one tab-separated row per sample
  with exactly as many fields as the header. No quoting: fields are split on tabs.

Optional ``nll`` (the sample's summed target-token NLL) and ``tokens`` (its number of target
tokens), as the evaluator writes them, give ``ppl``: exp(sum of nll / sum of tokens).

With a dataset (``data``, as ``edg score FILE --data PATH``), lines need only ``id`` and
``hypothesis``: the references (normalised by :func:`edg.evaluation.metric_text`, as the
evaluator does) and the gold labels come from that split of the dataset, joined by ``id``. This
is how published outputs that hold no dataset text (``edg export``) are rescored.

Blank lines are skipped. Every malformed line raises :class:`~edg.errors.DataError` naming
``file:line``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edg.errors import DataError
from edg.jsonl import json_objects

REQUIRED_KEYS = ("hypothesis", "reference")
#: what a line needs when the references come from a dataset (``data``)
REQUIRED_WITH_DATA = ("id", "hypothesis")
OPTIONAL_KEYS = ("emotion", "pred_emotion")
#: the per-sample perplexity terms written by :func:`edg.evaluation.evaluate`
NLL_KEYS = ("nll", "tokens")


@dataclass(frozen=True)
class Scores:
    """The metrics of an outputs file and how much of the data they cover."""

    metrics: dict[str, float]
    samples: int
    """samples scored (lines of the file)"""
    split_samples: int | None = None
    """samples of the dataset split joined with the file (``None`` without ``data``)"""
    parsing: str = ""
    """how a released file was read (format, system, quirks; :meth:`Released.describe`);
    empty for edg's own JSONL/TSV read with the defaults"""
    variants: tuple[str, ...] = ()
    """the metric variants scored besides the default metrics (:mod:`edg.metrics.variants`)"""

    def coverage(self, path: str | Path, data: str | Path | None = None, split: str = "test") -> str:
        """One line saying how many samples were scored, and of how many in the split."""
        if self.split_samples is None:
            return f"scored {self.samples} samples of {path}"
        if self.samples == self.split_samples:
            return f"scored all {self.samples} samples of the {split} split of {data}"
        return (f"scored {self.samples} of the {self.split_samples} samples of the {split} split of {data}: "
                f"{self.split_samples - self.samples} samples of the split are not in {path}")


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


def _check_nll(rec: dict, path: Path, lineno: int) -> None:
    """``nll`` a finite non-negative number and ``tokens`` a non-negative integer (TSV strings
    are converted), or absent: a wrong value would silently change ``ppl``."""
    nll, tokens = rec.get("nll"), rec.get("tokens")
    if isinstance(nll, str) and nll.strip():
        try:
            nll = float(nll)
        except ValueError:
            pass
    if isinstance(tokens, str) and tokens.strip().isdigit():
        tokens = int(tokens)
    nll = None if nll == "" else nll
    tokens = None if tokens == "" else tokens
    if nll is not None and (isinstance(nll, bool) or not isinstance(nll, (int, float))
                            or not math.isfinite(nll) or nll < 0):
        raise DataError(f"{path}:{lineno}: 'nll' must be a finite non-negative number (the sample's summed "
                        f"target-token NLL), got {rec['nll']!r}")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0):
        raise DataError(f"{path}:{lineno}: 'tokens' must be a non-negative integer (the sample's number of "
                        f"target tokens), got {rec['tokens']!r}")
    if (nll is None) != (tokens is None):
        given, absent = ("nll", "tokens") if tokens is None else ("tokens", "nll")
        raise DataError(f"{path}:{lineno}: {given!r} without {absent!r}; perplexity needs both")
    rec["nll"], rec["tokens"] = nll, tokens


def _hint(key: str) -> str:
    # files written by `edg export` hold no references: they come from the dataset
    return " (give --data PATH to take the references from the dataset, joined by 'id')" if key == "reference" else ""


def _read_jsonl(path: Path, lines: list[str], required: tuple[str, ...]) -> list[tuple[int, dict]]:
    out = []
    for lineno, obj in json_objects(lines, lambda n: f"{path}:{n}"):
        for key in required:
            if key not in obj:
                raise DataError(f"{path}:{lineno}: missing key {key!r}{_hint(key)}")
            if not isinstance(obj[key], str):
                raise DataError(f"{path}:{lineno}: {key!r} must be a string, got {type(obj[key]).__name__}")
        rec = dict(obj)
        for key in OPTIONAL_KEYS:
            rec[key] = _check_label(obj.get(key), path, lineno, key)
        _check_nll(rec, path, lineno)
        out.append((lineno, rec))
    return out


def _read_tsv(path: Path, lines: list[str], required: tuple[str, ...]) -> list[tuple[int, dict]]:
    header_no = next((i for i, ln in enumerate(lines, 1) if ln.strip()), None)
    if header_no is None:
        return []
    header = [h.strip() for h in lines[header_no - 1].rstrip("\r\n").split("\t")]
    for key in required:
        if key not in header:
            raise DataError(
                f"{path}:{header_no}: header must name the columns {', '.join(required)} "
                f"(optional: {', '.join(OPTIONAL_KEYS + NLL_KEYS)}); missing column {key!r}{_hint(key)}"
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
        _check_nll(rec, path, lineno)
        out.append((lineno, rec))
    return out


def _read(path: str | Path, required: tuple[str, ...] = REQUIRED_KEYS) -> tuple[Path, list[tuple[int, dict]]]:
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
    rows = _read_jsonl(p, lines, required) if _is_jsonl(p, lines) else _read_tsv(p, lines, required)
    if not rows:
        raise DataError(f"{p}: no samples")
    return p, rows


def load_outputs(path: str | Path) -> list[dict]:
    """Read an outputs file (JSON lines or TSV, see the module doc) -> one dict per sample.

    Every dict has ``hypothesis`` and ``reference`` (str), ``emotion`` and ``pred_emotion``
    (``None`` when absent), ``nll`` (float) and ``tokens`` (int) (``None`` when absent), plus
    any other keys/columns of the file.
    """
    return [rec for _, rec in _read(path)[1]]


def join_references(path: Path, rows: list[tuple[int, dict]], data: str | Path, split: str = "test") -> int:
    """Fill each row's ``reference`` and gold ``emotion`` (and the gold label of any other
    ``pred_<name>`` the split has a column ``<name>`` for) from the ``split`` of the dataset
    at ``data``, by ``id``; what the rows held under those keys is replaced. The split is
    read as ``edg run --data`` reads it (one sample per listener turn), so the ids are those
    of a run's outputs. Returns the number of samples in the split.

    An id that is not in the split, or one that appears twice, is a
    :class:`~edg.errors.DataError` naming ``file:line`` and the id."""
    from edg.data import SPLITS, load_splits
    from edg.evaluation import metric_text

    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; the splits are {', '.join(SPLITS)}")
    dataset = load_splits(data)[split]
    index = {sample_id: i for i, sample_id in enumerate(dataset["id"])}
    targets, emotions = list(dataset["target"]), list(dataset["emotion"])
    label_columns: dict[str, list[Any]] = {}
    first_line: dict[str, int] = {}
    for lineno, rec in rows:
        sample_id = rec["id"]
        if sample_id in first_line:
            raise DataError(f"{path}:{lineno}: id {sample_id!r} appears twice (first on line {first_line[sample_id]})")
        first_line[sample_id] = lineno
        i = index.get(sample_id)
        if i is None:
            raise DataError(f"{path}:{lineno}: id {sample_id!r} is not in the {split} split of {data} "
                            f"({len(index)} samples); were the outputs generated from other data?")
        rec["reference"] = metric_text(targets[i])
        rec["emotion"] = emotions[i]
        for key in list(rec):
            name = key[len("pred_"):]
            if key.startswith("pred_") and name != "emotion" and name in dataset.column_names:
                if name not in label_columns:
                    label_columns[name] = list(dataset[name])
                rec[name] = label_columns[name][i]
    return len(index)


def _other_heads(rows: list[tuple[int, dict]]) -> list[str]:
    """The label names ``<name>`` of the ``pred_<name>`` keys besides ``pred_emotion``."""
    return sorted({key[len("pred_"):] for _, rec in rows for key in rec
                   if key.startswith("pred_") and key != "pred_emotion"})


def score_outputs(
    path: str | Path,
    names: Iterable[str] | None = None,
    bertscore_model: str | None = None,
    *,
    data: str | Path | None = None,
    split: str = "test",
    allow_all_empty: bool = False,
    format: str | None = None,
    system: str | None = None,
    quirks: bool = False,
    variants: Iterable[str] | None = None,
) -> Scores:
    """Rescore an outputs file with :func:`edg.metrics.compute_metrics`.

    Default metrics: every text metric; ``ppl`` when the lines carry ``nll`` and ``tokens``;
    ``acc`` when they carry ``emotion`` and ``pred_emotion``; ``acc-<name>`` for any other
    ``pred_<name>``, over the lines that carry the gold ``<name>`` (as the evaluator scores
    further named predictions); and ``bertscore`` when ``bertscore_model`` (a local model
    directory) is given. ``ppl`` and ``acc`` need their keys on every line: if only some lines
    carry them, a :class:`~edg.errors.DataError` names the first line without them.

    With ``data`` the references and gold labels come from that ``split`` of the dataset
    (:func:`join_references`); the file may hold only some of the split's samples, and
    :attr:`Scores.split_samples` says how many the split has. A file whose hypotheses are all
    empty is refused unless ``allow_all_empty`` (a run's own outputs, checked as they are).

    ``format``, ``system`` and ``quirks`` read the released outputs of other repositories
    (:func:`edg.metrics.released_formats.read_released`; ``format=None`` detects it);
    :attr:`Scores.parsing` says how such a file was read. ``variants`` adds the named metric
    variants of :mod:`edg.metrics.variants` (keys ``<variant>:<metric>``) after the metrics.
    """
    from edg.errors import ConfigError
    from edg.metrics import compute_metrics
    from edg.metrics.accuracy import accuracy
    from edg.metrics.released_formats import read_released
    from edg.metrics.variants import check_variants, resolve_variants, score_variants

    variant_names = check_variants(variants, "variants") if variants is not None else []
    released = read_released(path, format, system, quirks,
                             required=REQUIRED_WITH_DATA if data is not None else REQUIRED_KEYS)
    if data is not None and released.format not in ("jsonl", "tsv"):
        raise ConfigError(f"--data joins the references by sample id; a {released.format} file has no ids "
                          f"(its references are in the file)")
    p, rows = released.path, released.rows
    plain = released.format in ("jsonl", "tsv") and not quirks
    split_samples = join_references(p, rows, data, split) if data is not None else None
    names = [names] if isinstance(names, str) else (list(names) if names is not None else None)
    heads = _other_heads(rows)
    # acc-<name> metrics are computed here, the rest by the one evaluator
    head_names = [n for n in names if n.startswith("acc-")] if names is not None else [f"acc-{h}" for h in heads]
    unknown = [n for n in head_names if n[len("acc-"):] not in heads]
    if unknown:
        raise DataError(f"{p}: no line has a {', '.join(repr('pred_' + n[len('acc-'):]) for n in unknown)} "
                        f"to score {', '.join(map(repr, unknown))}")
    core_names = [n for n in names if not n.startswith("acc-")] if names is not None else None

    def every_line(keys: tuple[str, ...], metric: str) -> bool:
        """Whether ``metric`` is computed: asked for, or (by default) possible on some line;
        then every line must carry ``keys``."""
        carried = [all(rec.get(k) is not None for k in keys) for _, rec in rows]
        wanted = any(carried) if core_names is None else metric in core_names
        missing = next((ln for (ln, _), ok in zip(rows, carried) if not ok), None)
        if wanted and missing is not None:
            raise DataError(f"{p}:{missing}: {' and '.join(map(repr, keys))} are needed on every line to score {metric!r}")
        return wanted

    gold = pred = nll_sum = num_tokens = None
    if every_line(("emotion", "pred_emotion"), "acc"):
        gold = [rec["emotion"] for _, rec in rows]
        pred = [rec["pred_emotion"] for _, rec in rows]
    if every_line(NLL_KEYS, "ppl"):
        nll_sum = math.fsum(rec["nll"] for _, rec in rows)  # as the evaluator sums them
        num_tokens = sum(rec["tokens"] for _, rec in rows)
    hyps = [rec["hypothesis"] for _, rec in rows]
    refs = [rec["reference"] for _, rec in rows]
    if not allow_all_empty and not any(h.strip() for h in hyps):
        raise DataError(f"{p}: all {len(hyps)} hypotheses are empty; nothing to score")
    try:
        metrics = compute_metrics(
            hyps,
            refs,
            gold_emotions=gold,
            pred_emotions=pred,
            nll_sum=nll_sum,
            num_tokens=num_tokens,
            names=core_names,
            bertscore_model=bertscore_model,
            allow_all_empty=allow_all_empty,
        )
    except DataError as exc:
        raise DataError(f"{p}: {exc}") from None
    for metric in head_names:
        head = metric[len("acc-"):]
        scored = [rec for _, rec in rows if rec.get(head) is not None and rec.get(f"pred_{head}") is not None]
        if scored:
            metrics[metric] = accuracy([r[head] for r in scored], [r[f"pred_{head}"] for r in scored])
        elif names is not None:
            raise DataError(f"{p}: no line has both {head!r} and 'pred_{head}' to score {metric!r}")
    if variant_names:
        variant_names = resolve_variants(variant_names, has_nll=nll_sum is not None, key="variants")
        try:
            metrics.update(score_variants([rec for _, rec in rows], variant_names))
        except DataError as exc:
            raise DataError(f"{p}: {exc}") from None
    return Scores(metrics, len(rows), split_samples, "" if plain else released.describe(), tuple(variant_names))


def score_file(
    path: str | Path,
    names: Iterable[str] | None = None,
    bertscore_model: str | None = None,
    *,
    data: str | Path | None = None,
    split: str = "test",
) -> dict[str, float]:
    """The metrics of :func:`score_outputs`."""
    return score_outputs(path, names, bertscore_model, data=data, split=split).metrics
