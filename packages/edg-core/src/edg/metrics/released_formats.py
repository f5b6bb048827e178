"""Read the test outputs that EDG repositories released, each in its own format, as scorer records.

Published outputs come in the format the authors' code happened to print, and the authors'
metric scripts parse them with their own quirks. This module turns each format into the records
:func:`edg.metrics.scoring.score_outputs` scores (``hypothesis``, ``reference``, ``emotion``,
``pred_emotion``, ``nll``, ``tokens``, plus ``context`` and ``system`` where the file has them),
so that one evaluator and its named variants (:mod:`edg.metrics.variants`) can rescore them.

Formats (``format=`` / ``edg score --format``; ``None`` detects the format from the content):

``jsonl``, ``tsv``
    edg's own outputs files (see :mod:`edg.metrics.scoring`).
``mime`` (alias ``cem``)
    MoEL's, MIME's and CEM's test logs: per sample an emotion line (MIME:
    ``emotion:guilty<TAB>vader-score: 0.01<TAB>predicted_emotion: terrified``; CEM:
    ``Emotion: guilty``), ``Context:[...]``, one line per decoding (``Topk:``, ``Beam:``,
    ``Greedy:``) and ``Ref:``, samples separated by dashed lines; an optional header
    ``EVAL<TAB>Loss<TAB>PPL...`` with the figures the authors' code printed. The decodings are the
    systems: ``greedy`` (default), ``beam``, ``topk``.
``moel``
    MoEL's ``generation_result.txt``: per sample ``Emotion: x``, ``Context: [...]``, one
    ``<system>: <response>`` line per system (``trs``, ``trs+multitask``, ``MOE``...) and
    ``ref: <reference>``, samples separated by blank lines. Choose the system with ``system``.
``pred-ref`` (alias ``kemp``)
    KEMP's and EmpDG's prediction files: per sample ``Emotion:x`` (or ``emotion:x``),
    ``Context:[...]``, other annotation lines (``Concept:``, ``Emotion_context:``), ``Pred:<response>``
    and ``Ref:<reference>``.
``empdg-json``
    EmpDG's ``models_result.json``: one JSON object ``{"ref": [references], "<system>":
    [responses], ...}``. Choose the system with ``system``.

A sample is complete at its reference line (``Ref:``/``ref:``); its response is the chosen
system's line since the previous reference. Without ``quirks`` a line's prefix is removed exactly
(``line[len("Pred:"):]``) and the text stripped of surrounding whitespace. ``quirks=True``
reproduces the authors' parsing ``line.strip("Pred:")`` (KEMP's ``cal_metrics.py``, EmpDG's
``result_analysis.py``, CEM's ``evaluate.py`` with ``"Greedy:"``): Python's ``str.strip`` with a
prefix removes every leading (and trailing) character that is *in* the prefix, so ``Pred:dead``
gives ``ad`` and ``Ref:feel`` gives ``l``; the authors' printed figures were computed on those
texts. ``empdg-json`` holds texts already cut that way by the authors' script, so ``quirks``
changes nothing there; a format without a known quirk says so in :attr:`Released.quirks_note`.

Public API (stable; other tools build on it)::

    read_outputs(path, format=None, system=None, quirks=False) -> list[dict]
    read_released(path, format=None, system=None, quirks=False) -> Released
    detect_format(path) -> str

Every malformed line raises :class:`~edg.errors.DataError` naming ``file:line``; a wrong
option (unknown format, unknown or missing system) raises :class:`~edg.errors.ConfigError`.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edg.errors import ConfigError, DataError

#: canonical format names -> what writes them (reports print this)
FORMATS: dict[str, str] = {
    "jsonl": "edg outputs, one JSON object per line",
    "tsv": "edg outputs, tab-separated with a header",
    "mime": "MoEL/MIME/CEM test log: Greedy:/Beam:/Topk: and Ref: lines per sample",
    "moel": "MoEL generation_result.txt: '<system>: response' lines and 'ref:' per sample",
    "pred-ref": "KEMP/EmpDG predictions: Pred: and Ref: lines per sample",
    "empdg-json": "EmpDG models_result.json: {'ref': [...], '<system>': [...]}",
}
#: other names accepted for a format
ALIASES: dict[str, str] = {"cem": "mime", "kemp": "pred-ref"}
#: the decodings of a ``mime`` file: line prefix -> system name
DECODINGS: dict[str, str] = {"Greedy:": "greedy", "Beam:": "beam", "Topk:": "topk"}
#: the system a ``mime`` file is read as when none is chosen (what MoEL/CEM/KEMP report)
DEFAULT_DECODING = "greedy"

_MOEL_LINE = re.compile(r"^([^\s:][^:]*?):\s?(.*)$")
_DASHES = re.compile(r"^-{10,}\s*$")


@dataclass
class Released:
    """An outputs file read as scorer records, with how it was parsed."""

    path: Path
    format: str
    rows: list[tuple[int, dict]]
    """(line number, record) per sample, in file order"""
    system: str | None = None
    """the system/decoding read (``None`` for single-system formats)"""
    systems: tuple[str, ...] = ()
    """every system/decoding the file holds"""
    quirks: bool = False
    quirks_note: str = ""
    """what ``quirks`` did for this format"""
    reported: dict[str, str] = field(default_factory=dict)
    """figures the file's own header printed (``mime``: ``Loss``, ``PPL``, ``Bleu_g``...)"""

    @property
    def records(self) -> list[dict]:
        return [rec for _, rec in self.rows]

    def describe(self) -> str:
        """One line for reports: the format, system and parsing used."""
        parts = [f"read {self.path} as {self.format} ({FORMATS[self.format]})"]
        if self.system is not None:
            parts.append(f"system {self.system!r} of {', '.join(self.systems)}")
        if self.quirks_note:
            parts.append(self.quirks_note)
        if self.reported:
            parts.append("the file reports " + ", ".join(f"{k} {v}" for k, v in self.reported.items()))
        return "; ".join(parts)


def canonical_format(name: str | None) -> str | None:
    """The canonical name of a format (aliases resolved); ``ConfigError`` for an unknown one."""
    if name is None:
        return None
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in FORMATS:
        known = ", ".join([*FORMATS, *ALIASES])
        raise ConfigError(f"unknown outputs format {name!r}; known: {known}")
    return key


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected an outputs file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _lines(text: str) -> list[str]:
    """The file's lines with their ``\\n``, as the authors' ``f.readlines()`` gives them (only
    ``\\n`` ends a line: ``str.splitlines`` would also split at form feeds and the like)."""
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def _detect(path: Path, text: str) -> str:
    """The format of a file from its extension and content."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".tsv", ".tab"):
        return "tsv"
    stripped = text.lstrip()
    if stripped.startswith("{"):
        if _empdg_object(text) is not None:
            return "empdg-json"
        return "jsonl"
    if suffix == ".json":
        return "jsonl"
    starts = {"decoding": False, "Ref:": False, "Pred:": False, "ref:": False, "Context:": False}
    for line in _lines(text)[:2000]:
        if line.startswith(tuple(DECODINGS)):
            starts["decoding"] = True
        for prefix in ("Ref:", "Pred:", "ref:", "Context:"):
            if line.startswith(prefix):
                starts[prefix] = True
    if starts["Ref:"] and starts["decoding"]:
        return "mime"
    if starts["Ref:"] and starts["Pred:"]:
        return "pred-ref"
    if starts["ref:"] and starts["Context:"]:
        return "moel"
    return "tsv"


def detect_format(path: str | Path) -> str:
    """The canonical format of the outputs file at ``path`` (see the module doc)."""
    p = Path(path)
    return _detect(p, _read_text(p))


def _empdg_object(text: str) -> dict | None:
    """The parsed object if ``text`` is one JSON object of lists with a ``ref`` list, else None."""
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("ref"), list) and all(isinstance(v, list) for v in obj.values()):
        return obj
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _label(value: str, path: Path, lineno: int, key: str):
    from edg.metrics.scoring import _check_label

    text = value.strip()
    return _check_label(text, path, lineno, key) if text else None


def _context(text: str) -> Any:
    """The ``Context:`` value: the list of utterances it prints, or the text as it is."""
    text = text.strip()
    if text.startswith("["):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return text


def _after(line: str, prefix: str, quirks: bool) -> str:
    """The text of a ``prefix`` line: the prefix removed exactly, or (``quirks``) as the
    authors' ``line.strip(prefix)`` removes it, then stripped of surrounding whitespace."""
    if quirks:
        return line.strip(prefix).strip()
    return line[len(prefix):].strip()


def _record(hyp: str, ref: str, **extra) -> dict:
    rec = {"hypothesis": hyp, "reference": ref, "emotion": None, "pred_emotion": None, "nll": None, "tokens": None}
    rec.update({k: v for k, v in extra.items() if v is not None})
    return rec


def _pick(path: Path, fmt: str, systems: list[str], system: str | None, default: str | None = None) -> str:
    """The system to read: ``system`` matched case-insensitively, the default, or the only one."""
    if not systems:
        raise DataError(f"{path}: no system responses found in this {fmt} file")
    if system is None:
        if default is not None and default in systems:
            return default
        if len(systems) == 1:
            return systems[0]
        raise ConfigError(f"{path} holds the systems {', '.join(systems)}; choose one with --system NAME "
                          f"(format {fmt})")
    by_lower = {s.lower(): s for s in systems}
    found = by_lower.get(system.strip().lower())
    if found is None:
        raise ConfigError(f"{path} has no system {system!r}; its systems are {', '.join(systems)}")
    return found


def _parse_mime(path: Path, lines: list[str], system: str | None, quirks: bool) -> Released:
    reported: dict[str, str] = {}
    header: list[str] | None = None
    seen: list[str] = []
    for line in lines:
        for prefix, name in DECODINGS.items():
            if line.startswith(prefix) and name not in seen:
                seen.append(name)
    seen = [name for name in DECODINGS.values() if name in seen]
    chosen = _pick(path, "mime", seen, system, DEFAULT_DECODING)
    prefix = next(p for p, n in DECODINGS.items() if n == chosen)
    rows: list[tuple[int, dict]] = []
    hyp = hyp_line = None
    emotion = pred = context = None
    for lineno, line in enumerate(lines, 1):
        if header is not None and line.strip():
            values = line.split()
            if len(values) == len(header) and not _is_number(values[0]):  # MoEL/MIME: "test 3.62 37.5 ..."
                reported = dict(zip(header[1:], values[1:]))
            else:  # CEM writes four numbers under its four column names, shifted by one
                reported = {"header": " ".join(header), "values": " ".join(values)}
            header = None
            continue
        if line.startswith("EVAL\t") or line.startswith("EVAL "):
            header = line.split()
            continue
        if line.startswith(prefix):
            if hyp is not None:
                raise DataError(f"{path}:{lineno}: a second {prefix!r} line before 'Ref:' (the first on line {hyp_line})")
            hyp, hyp_line = _after(line, prefix, quirks), lineno
        elif line.startswith("Ref:"):
            if hyp is None:
                raise DataError(f"{path}:{lineno}: 'Ref:' without a {prefix!r} line since the previous sample")
            rows.append((hyp_line, _record(hyp, _after(line, "Ref:", quirks), emotion=emotion, pred_emotion=pred,
                                           context=context, system=chosen)))
            hyp = emotion = pred = context = None
        elif line[:8].lower() == "emotion:":
            fields = line.rstrip("\n").split("\t")
            emotion = _label(fields[0][len("emotion:"):], path, lineno, "emotion")
            for item in fields[1:]:
                key, _, value = item.partition(":")
                if key.strip() == "predicted_emotion":
                    pred = _label(value, path, lineno, "pred_emotion")
        elif line.startswith("Context:"):
            context = _context(line[len("Context:"):])
    if hyp is not None:
        raise DataError(f"{path}:{hyp_line}: {prefix!r} line without a 'Ref:' line after it (truncated file?)")
    note = (f"quirks on: texts cut as line.strip({prefix!r}) and line.strip('Ref:') (CEM's evaluate.py)"
            if quirks else f"quirks off: the {prefix!r} and 'Ref:' prefixes removed exactly")
    return Released(path, "mime", rows, chosen, tuple(seen), quirks, note, reported)


def _parse_pred_ref(path: Path, lines: list[str], system: str | None, quirks: bool) -> Released:
    if system is not None:
        raise ConfigError(f"{path}: a pred-ref file holds one system; --system does not apply")
    rows: list[tuple[int, dict]] = []
    hyp = hyp_line = None
    emotion = context = None
    for lineno, line in enumerate(lines, 1):
        if line.startswith("Pred:"):
            if hyp is not None:
                raise DataError(f"{path}:{lineno}: a second 'Pred:' line before 'Ref:' (the first on line {hyp_line})")
            hyp, hyp_line = _after(line, "Pred:", quirks), lineno
        elif line.startswith("Ref:"):
            if hyp is None:
                raise DataError(f"{path}:{lineno}: 'Ref:' without a 'Pred:' line since the previous sample")
            rows.append((hyp_line, _record(hyp, _after(line, "Ref:", quirks), emotion=emotion, context=context)))
            hyp = emotion = context = None
        elif line[:8].lower() == "emotion:":
            emotion = _label(line[len("emotion:"):], path, lineno, "emotion")
        elif line.startswith("Context:"):
            context = _context(line[len("Context:"):])
    if hyp is not None:
        raise DataError(f"{path}:{hyp_line}: 'Pred:' line without a 'Ref:' line after it (truncated file?)")
    note = ("quirks on: texts cut as line.strip('Pred:') and line.strip('Ref:') (KEMP's cal_metrics.py, "
            "EmpDG's result_analysis.py)" if quirks else "quirks off: the 'Pred:' and 'Ref:' prefixes removed exactly")
    return Released(path, "pred-ref", rows, None, (), quirks, note)


def _parse_moel(path: Path, lines: list[str], system: str | None, quirks: bool) -> Released:
    seen: list[str] = []
    for line in lines:
        m = _MOEL_LINE.match(line.rstrip("\n"))
        if m and m.group(1) not in ("Emotion", "Context", "ref") and m.group(1) not in seen:
            seen.append(m.group(1))
    chosen = _pick(path, "moel", seen, system)
    rows: list[tuple[int, dict]] = []
    hyp = hyp_line = None
    emotion = context = None
    for lineno, line in enumerate(lines, 1):
        text = line.rstrip("\n")
        if not text.strip():
            continue
        m = _MOEL_LINE.match(text)
        if m is None:
            raise DataError(f"{path}:{lineno}: expected '<name>: <text>' (Emotion, Context, a system or ref), "
                            f"got {text[:60]!r}")
        name, value = m.group(1), m.group(2)
        if name == "Emotion":
            emotion = _label(value, path, lineno, "emotion")
        elif name == "Context":
            context = _context(value)
        elif name == "ref":
            if hyp is None:
                raise DataError(f"{path}:{lineno}: 'ref:' without a {chosen + ':'!r} line since the previous sample")
            rows.append((hyp_line, _record(hyp, value.strip(), emotion=emotion, context=context, system=chosen)))
            hyp = emotion = context = None
        elif name == chosen:
            if hyp is not None:
                raise DataError(f"{path}:{lineno}: a second {chosen + ':'!r} line before 'ref:' (the first on line {hyp_line})")
            hyp, hyp_line = value.strip(), lineno
    if hyp is not None:
        raise DataError(f"{path}:{hyp_line}: {chosen + ':'!r} line without a 'ref:' line after it (truncated file?)")
    note = ("quirks: no effect (no known authors' script parses this format with str.strip)" if quirks
            else "quirks off: each '<name>: ' prefix removed exactly")
    return Released(path, "moel", rows, chosen, tuple(seen), quirks, note)


def _parse_empdg_json(path: Path, text: str, system: str | None, quirks: bool) -> Released:
    obj = _empdg_object(text)
    if obj is None:
        raise DataError(f"{path}:1: not an EmpDG models_result.json (one JSON object of lists with a 'ref' list)")
    systems = [k for k in obj if k != "ref"]
    chosen = _pick(path, "empdg-json", systems, system)
    refs, hyps = obj["ref"], obj[chosen]
    if len(hyps) != len(refs):
        raise DataError(f"{path}:1: system {chosen!r} has {len(hyps)} responses but 'ref' has {len(refs)}")
    rows = []
    for i, (hyp, ref) in enumerate(zip(hyps, refs)):
        if not isinstance(hyp, str) or not isinstance(ref, str):
            raise DataError(f"{path}:1: item {i} of {chosen!r} or 'ref' is not a string")
        rows.append((1, _record(hyp.strip(), ref.strip(), system=chosen, index=i)))
    note = ("quirks: no effect (the texts were already cut by the authors' line.strip('Pred:')/strip('Ref:') "
            "when this file was written)")
    return Released(path, "empdg-json", rows, chosen, tuple(systems), quirks, note)


def read_released(
    path: str | Path,
    format: str | None = None,
    system: str | None = None,
    quirks: bool = False,
    *,
    required: tuple[str, ...] = ("hypothesis", "reference"),
) -> Released:
    """Read an outputs file of any supported format (see the module doc) -> :class:`Released`.

    ``format`` ``None`` detects it from the extension and content. ``system`` chooses the
    system/decoding of a multi-system file (case-insensitive). ``quirks`` reproduces the authors'
    ``line.strip(prefix)`` parsing. ``required`` is what a ``jsonl``/``tsv`` line must carry.
    A file with no samples is a :class:`~edg.errors.DataError`.
    """
    from edg.metrics.scoring import _read_jsonl, _read_tsv

    p = Path(path)
    fmt = canonical_format(format)
    text = _read_text(p)
    if fmt is None:
        fmt = _detect(p, text)
    if fmt in ("jsonl", "tsv"):
        if system is not None:
            raise ConfigError(f"{p}: --system chooses a system of a multi-system released file; a {fmt} file holds one")
        lines = text.splitlines()
        rows = _read_jsonl(p, lines, required) if fmt == "jsonl" else _read_tsv(p, lines, required)
        note = "quirks: no effect on edg's own formats" if quirks else ""
        out = Released(p, fmt, rows, None, (), quirks, note)
    elif fmt == "empdg-json":
        out = _parse_empdg_json(p, text, system, quirks)
    else:
        parse = {"mime": _parse_mime, "pred-ref": _parse_pred_ref, "moel": _parse_moel}[fmt]
        out = parse(p, _lines(text), system, quirks)
    if not out.rows:
        raise DataError(f"{p}: no samples (read as {fmt})")
    return out


def read_outputs(path: str | Path, format: str | None = None, system: str | None = None,
                 quirks: bool = False) -> list[dict]:
    """The records of an outputs file of any supported format: one dict per sample with
    ``hypothesis`` and ``reference`` (str), ``emotion``/``pred_emotion`` (label or ``None``),
    ``nll``/``tokens`` (``None`` unless the file has them), and ``context``/``system`` where the
    file has them. See :func:`read_released` for the options."""
    return read_released(path, format, system, quirks).records
