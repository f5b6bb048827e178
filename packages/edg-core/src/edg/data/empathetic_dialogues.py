"""Loaders for EmpatheticDialogues (Rashkin et al., 2019).

``load_splits`` turns the official release (or a JSONL export, or the Hugging Face copy) into
one ``datasets.Dataset`` per split, one row per *listener turn*, following MoEL/CEM:

* every listener turn (even ``utterance_idx``; ``speaker_idx == 2`` in role-based copies) is a
  target and the whole conversation before it is its context; roles alternate
  speaker/listener starting with the speaker (odd ``utterance_idx`` = speaker);
* ``context_window=k`` keeps the last ``k`` utterances of the context;
* text is stripped and ``_comma_`` becomes ``,``; nothing else (no lowercasing).

Sample columns: ``id`` (``"{conv_id}:{turn}"``), ``conv_id``, ``turn`` (utterance_idx of the
target), ``context`` (list[str]), ``roles`` (``"speaker"``/``"listener"`` per context
utterance), ``target``, ``emotion``, ``emotion_id`` (index in ``EMOTIONS``), ``situation``
(the prompt). When an ``utterance_labels.csv`` (``split,conv_id,utterance_idx,role,label``)
lies beside the split CSVs, two more columns are added: ``context_labels`` (list[str], one
per context utterance) and ``target_label``; without that file these columns are absent.
Samples read from the official CSV layout (a directory, the tarball, or the Hugging Face copy,
which is exported to that layout) also carry the release's ``speaker_idx`` (the crowd worker
who wrote each utterance; 1/2 by role in role-based copies): ``context_speakers`` (list[str],
one per context utterance) and ``target_speaker``. Column order: ``SAMPLE_COLUMNS``, then the
label pair, then the speaker pair (``SPEAKER_COLUMNS``). JSONL files may carry either optional
pair; each pair is all-or-nothing and the same on every line of a file.

CSV reading follows the official readers: each line is split on ``,`` (no CSV quoting, quote
characters are kept raw) and fields are used by position. Lines with *more* fields than the
header (un-escaped commas in ``selfeval``/``tags`` in the original release) are kept, using the
leading fields, and counted in one warning. Lines with *fewer* fields, a non-integer
``utterance_idx`` or an unknown emotion label are a ``DataError`` naming file and line.

Preprocessing is cached with ``datasets`` fingerprints under ``cache_dir`` (default
``$EDG_CACHE/datasets`` or ``~/.cache/edg/datasets``): a second call with the same files
(path, size and modification time) and options reuses the Arrow files; the warning about
repaired lines is emitted when the cache is built.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from edg.data.emotions import EMOTION_TO_ID, UTTERANCE_LABELS
from edg.errors import ConfigError, DataError, EdgError, ResourceError
from edg.jsonl import json_objects

logger = logging.getLogger(__name__)

__all__ = [
    "CSV_COLUMNS",
    "HF_DATASET_NAME",
    "SAMPLE_COLUMNS",
    "SAMPLE_DATA_DIR",
    "SPEAKER_COLUMNS",
    "SPLITS",
    "default_cache_dir",
    "load_splits",
    "write_jsonl",
]

#: Split names, in order.
SPLITS: tuple[str, ...] = ("train", "valid", "test")

#: Columns of the official release, in order (``selfeval`` and ``tags`` are optional here).
CSV_COLUMNS: tuple[str, ...] = (
    "conv_id",
    "utterance_idx",
    "context",
    "prompt",
    "speaker_idx",
    "utterance",
    "selfeval",
    "tags",
)
_REQUIRED_CSV_COLUMNS = CSV_COLUMNS[:6]

#: Columns of every sample (``context_labels``/``target_label`` only with utterance labels,
#: ``SPEAKER_COLUMNS`` only from the official CSV layout or a JSONL file that has them).
SAMPLE_COLUMNS: tuple[str, ...] = (
    "id",
    "conv_id",
    "turn",
    "context",
    "roles",
    "target",
    "emotion",
    "emotion_id",
    "situation",
)
_LABEL_COLUMNS = ("context_labels", "target_label")
#: Speaker columns: the ``speaker_idx`` of each context utterance and of the target. Kept
#: because systems with a speaker persona (MoEL's ``model.persona``) need the worker ids,
#: which roles alone do not give.
SPEAKER_COLUMNS: tuple[str, ...] = ("context_speakers", "target_speaker")
_LABELS_FILE = "utterance_labels.csv"
_LABEL_COLUMNS_CSV = ("split", "conv_id", "utterance_idx", "role", "label")

#: The Hugging Face hub copy used by ``source="hf"``.
HF_DATASET_NAME = "facebook/empathetic_dialogues"

#: The small original sample shipped with edg (``edg/resources/sample``).
SAMPLE_DATA_DIR: Path = Path(str(resources.files("edg.resources").joinpath("sample")))

# Bump when the produced tables change in a way the code hash would not reveal.
_PIPELINE_VERSION = 1
_SOURCES = ("auto", "csv", "jsonl", "hf")
_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")


# --------------------------------------------------------------------------- helpers


def default_cache_dir() -> Path:
    """``$EDG_CACHE/datasets`` when ``EDG_CACHE`` is set, else ``~/.cache/edg/datasets``."""
    root = os.environ.get("EDG_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "edg"
    return base / "datasets"


def _clean(text: str) -> str:
    return text.replace("_comma_", ",").strip()


def _role(utterance_idx: int) -> str:
    return "speaker" if utterance_idx % 2 == 1 else "listener"


def _features(with_labels: bool, with_speakers: bool):
    from datasets import Features, List, Value

    spec = {
        "id": Value("string"),
        "conv_id": Value("string"),
        "turn": Value("int64"),
        "context": List(Value("string")),
        "roles": List(Value("string")),
        "target": Value("string"),
        "emotion": Value("string"),
        "emotion_id": Value("int64"),
        "situation": Value("string"),
    }
    if with_labels:
        spec["context_labels"] = List(Value("string"))
        spec["target_label"] = Value("string")
    if with_speakers:
        spec["context_speakers"] = List(Value("string"))
        spec["target_speaker"] = Value("string")
    return Features(spec)


def _conversation_features(with_labels: bool):
    from datasets import Features, List, Value

    spec = {
        "conv_id": Value("string"),
        "emotion": Value("string"),
        "situation": Value("string"),
        "utterance_idx": List(Value("int64")),
        "utterances": List(Value("string")),
        "speakers": List(Value("string")),
    }
    if with_labels:
        spec["labels"] = List(Value("string"))
    return Features(spec)


_code_hash: str | None = None


def _module_hash() -> str:
    global _code_hash
    if _code_hash is None:
        h = hashlib.sha256()
        for mod in (__file__, str(Path(__file__).with_name("emotions.py"))):
            try:
                h.update(Path(mod).read_bytes())
            except OSError:  # pragma: no cover - frozen installs
                h.update(mod.encode())
        _code_hash = h.hexdigest()[:16]
    return _code_hash


def _file_signature(path: Path | None) -> list[Any] | None:
    if path is None:
        return None
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def _fingerprint(**parts: Any) -> str:
    payload = {"version": _PIPELINE_VERSION, "code": _module_hash(), **parts}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _unwrap(exc: BaseException) -> BaseException:
    """The ``EdgError`` a ``datasets`` builder wrapped, if any."""
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, EdgError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return exc


def _from_generator(generator, gen_kwargs: dict, features, cache_dir: Path, fingerprint: str, split: str):
    from datasets import Dataset, NamedSplit

    try:
        return Dataset.from_generator(
            generator,
            features=features,
            gen_kwargs=gen_kwargs,
            cache_dir=str(cache_dir),
            fingerprint=fingerprint,
            split=NamedSplit(split),
        )
    except Exception as e:  # datasets wraps generator errors in DatasetGenerationError
        inner = _unwrap(e)
        if inner is not e:
            raise inner.with_traceback(None) from None
        raise


# --------------------------------------------------------------------------- CSV reading


def _read_lines(path: Path, display: str) -> list[str]:
    try:
        # universal newlines and a split on "\n" only, like the official readers' readlines()
        # (str.splitlines would also break lines at \x1c, \u2028 ... inside utterances)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines
    except FileNotFoundError:
        raise DataError(f"{display}: file not found") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{display}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise DataError(f"{display}: cannot read ({e.strerror or e})") from None


def _header_positions(header: str, required: tuple[str, ...], display: str) -> tuple[dict[str, int], int]:
    names = [h.strip() for h in header.lstrip("\ufeff").split(",")]
    for col in required:
        if col not in names:
            raise DataError(f"{display}: missing required column {col!r} in header line 1 (got {','.join(names)})")
    return {name: i for i, name in enumerate(names)}, len(names)


def _read_labels(path: Path, display: str, split: str) -> dict[tuple[str, int], str]:
    lines = _read_lines(path, display)
    if not lines:
        raise DataError(f"{display}: empty file (expected header {','.join(_LABEL_COLUMNS_CSV)})")
    pos, ncols = _header_positions(lines[0], _LABEL_COLUMNS_CSV, display)
    i_split, i_conv, i_idx, i_label = pos["split"], pos["conv_id"], pos["utterance_idx"], pos["label"]
    wanted = {split} | ({"validation", "dev"} if split == "valid" else set())
    known = set(UTTERANCE_LABELS)
    out: dict[tuple[str, int], str] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < ncols:
            raise DataError(f"{display} line {lineno}: expected {ncols} comma-separated fields, got {len(parts)}")
        if parts[i_split].strip() not in wanted:
            continue
        try:
            idx = int(parts[i_idx])
        except ValueError:
            raise DataError(
                f"{display} line {lineno}: utterance_idx {parts[i_idx]!r} is not an integer"
            ) from None
        label = parts[i_label].strip()
        if label not in known:
            raise DataError(f"{display} line {lineno}: unknown utterance label {label!r}")
        out[(parts[i_conv].strip(), idx)] = label
    return out


def _csv_conversations(
    csv_path: str, display: str, labels_path: str | None, labels_display: str | None, split: str
) -> Iterator[dict[str, Any]]:
    """Yield one row per conversation of an official-layout CSV (the cached raw table)."""
    lines = _read_lines(Path(csv_path), display)
    if not lines:
        raise DataError(f"{display}: empty file (expected header {','.join(CSV_COLUMNS)})")
    pos, ncols = _header_positions(lines[0], _REQUIRED_CSV_COLUMNS, display)
    i_conv, i_idx, i_emo = pos["conv_id"], pos["utterance_idx"], pos["context"]
    i_prompt, i_utt, i_spk = pos["prompt"], pos["utterance"], pos["speaker_idx"]

    convs: dict[str, dict[str, Any]] = {}
    repaired = 0
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < ncols:
            raise DataError(f"{display} line {lineno}: expected {ncols} comma-separated fields, got {len(parts)}")
        if len(parts) > ncols:
            repaired += 1
        conv_id = parts[i_conv].strip()
        if not conv_id:
            raise DataError(f"{display} line {lineno}: empty conv_id")
        try:
            idx = int(parts[i_idx])
        except ValueError:
            raise DataError(
                f"{display} line {lineno}: utterance_idx {parts[i_idx]!r} is not an integer"
            ) from None
        if idx < 1:
            raise DataError(f"{display} line {lineno}: utterance_idx {idx} is not positive")
        emotion = parts[i_emo].strip()
        if emotion not in EMOTION_TO_ID:
            raise DataError(f"{display} line {lineno}: unknown emotion label {emotion!r}")
        conv = convs.get(conv_id)
        if conv is None:
            conv = convs[conv_id] = {
                "emotion": emotion,
                "situation": _clean(parts[i_prompt]),
                "turns": {},
            }
        if idx in conv["turns"]:
            raise DataError(f"{display} line {lineno}: duplicate utterance_idx {idx} in conversation {conv_id}")
        conv["turns"][idx] = (_clean(parts[i_utt]), parts[i_spk].strip())

    if repaired:
        msg = (
            f"{display}: {repaired} line(s) had more than {ncols} comma-separated fields "
            f"(un-escaped commas in selfeval/tags); kept them, using fields by position as the "
            f"official reader does"
        )
        warnings.warn(msg, UserWarning, stacklevel=2)

    labels = _read_labels(Path(labels_path), labels_display or labels_path, split) if labels_path else None
    for conv_id, conv in convs.items():
        idxs = sorted(conv["turns"])
        row = {
            "conv_id": conv_id,
            "emotion": conv["emotion"],
            "situation": conv["situation"],
            "utterance_idx": idxs,
            "utterances": [conv["turns"][i][0] for i in idxs],
            "speakers": [conv["turns"][i][1] for i in idxs],
        }
        if labels is not None:
            try:
                row["labels"] = [labels[(conv_id, i)] for i in idxs]
            except KeyError as e:
                raise DataError(
                    f"{labels_display}: no label for {split} conversation {e.args[0][0]} "
                    f"utterance {e.args[0][1]}"
                ) from None
        yield row


def _conversations_to_samples(batch: dict[str, list], context_window: int | None, with_labels: bool) -> dict:
    out: dict[str, list] = {c: [] for c in SAMPLE_COLUMNS}
    if with_labels:
        out.update({c: [] for c in _LABEL_COLUMNS})
    out.update({c: [] for c in SPEAKER_COLUMNS})  # the official layout always has speaker_idx
    for n, conv_id in enumerate(batch["conv_id"]):
        emotion = batch["emotion"][n]
        situation = batch["situation"][n]
        idxs = batch["utterance_idx"][n]
        utts = batch["utterances"][n]
        speakers = batch["speakers"][n]
        labels = batch["labels"][n] if with_labels else None
        for j, turn in enumerate(idxs):
            if turn % 2:  # speaker turn
                continue
            start = 0 if context_window is None else max(0, j - context_window)
            out["id"].append(f"{conv_id}:{turn}")
            out["conv_id"].append(conv_id)
            out["turn"].append(turn)
            out["context"].append(list(utts[start:j]))
            out["roles"].append([_role(i) for i in idxs[start:j]])
            out["target"].append(utts[j])
            out["emotion"].append(emotion)
            out["emotion_id"].append(EMOTION_TO_ID[emotion])
            out["situation"].append(situation)
            if with_labels:
                out["context_labels"].append(list(labels[start:j]))
                out["target_label"].append(labels[j])
            out["context_speakers"].append(list(speakers[start:j]))
            out["target_speaker"].append(speakers[j])
    return out


def _window_samples(batch: dict[str, list], context_window: int) -> dict:
    batch = dict(batch)
    cols = [c for c in ("context", "roles", "context_labels", "context_speakers") if c in batch]
    for col in cols:
        batch[col] = [values[-context_window:] if context_window else [] for values in batch[col]]
    return batch


# --------------------------------------------------------------------------- JSONL reading

_JSONL_TYPES: dict[str, type] = {
    "id": str,
    "conv_id": str,
    "turn": int,
    "context": list,
    "roles": list,
    "target": str,
    "emotion": str,
    "emotion_id": int,
    "situation": str,
    "context_labels": list,
    "target_label": str,
    "context_speakers": list,
    "target_speaker": str,
}
#: optional pairs of a JSONL sample: (per-context-utterance column, target column)
_OPTIONAL_PAIRS = (_LABEL_COLUMNS, SPEAKER_COLUMNS)


def _validate_sample(obj: Any, where: str, expected: tuple[bool, ...] | None) -> tuple[bool, ...]:
    """Check one JSONL sample; returns which optional pairs (``_OPTIONAL_PAIRS``) it has.
    ``expected`` (the first line's answer) makes every line of a file agree with it."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    keys = set(obj)
    required = set(SAMPLE_COLUMNS)
    missing = sorted(required - keys)
    if missing:
        raise DataError(f"{where}: missing key(s) {', '.join(missing)}")
    optional = {c for pair in _OPTIONAL_PAIRS for c in pair}
    unknown = sorted(keys - required - optional)
    if unknown:
        raise DataError(f"{where}: unknown key(s) {', '.join(unknown)}")
    has = []
    for n, pair in enumerate(_OPTIONAL_PAIRS):
        present = bool(keys & set(pair))
        if present and not set(pair) <= keys:
            raise DataError(f"{where}: {pair[0]} and {pair[1]} must appear together")
        if expected is not None and present != expected[n]:
            raise DataError(
                f"{where}: {pair[0]}/{pair[1]} {'present' if present else 'absent'} "
                f"here but {'absent' if present else 'present'} on the first line"
            )
        has.append(present)
    for key in keys:
        want = _JSONL_TYPES[key]
        val = obj[key]
        if not isinstance(val, want) or (want is int and isinstance(val, bool)):
            raise DataError(f"{where}: {key} must be {want.__name__}, got {type(val).__name__}")
        if want is list and not all(isinstance(v, str) for v in val):
            raise DataError(f"{where}: {key} must be a list of strings")
    n = len(obj["context"])
    for key in ("roles", *(pair[0] for pair in _OPTIONAL_PAIRS if pair[0] in keys)):
        if len(obj[key]) != n:
            raise DataError(
                f"{where}: {key} has {len(obj[key])} item(s) but context has {n} (they must have the same length)"
            )
    bad_roles = sorted(set(obj["roles"]) - {"speaker", "listener"})
    if bad_roles:
        raise DataError(f"{where}: unknown role(s) {', '.join(map(repr, bad_roles))}")
    if obj["emotion"] not in EMOTION_TO_ID:
        raise DataError(f"{where}: unknown emotion label {obj['emotion']!r}")
    if obj["emotion_id"] != EMOTION_TO_ID[obj["emotion"]]:
        raise DataError(
            f"{where}: emotion_id {obj['emotion_id']} does not match emotion {obj['emotion']!r} "
            f"(expected {EMOTION_TO_ID[obj['emotion']]})"
        )
    return tuple(has)


def _jsonl_scan_optional(path: Path, display: str) -> tuple[bool, ...]:
    """Which optional pairs (utterance labels, speakers) the first sample of a JSONL file has."""
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if line.strip():
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise DataError(f"{display} line {lineno}: invalid JSON ({e.msg})") from None
                    return _validate_sample(obj, f"{display} line {lineno}", None)
    except FileNotFoundError:
        raise DataError(f"{display}: file not found") from None
    return tuple(False for _ in _OPTIONAL_PAIRS)


def _jsonl_samples(path: str, display: str, with_labels: bool, with_speakers: bool) -> Iterator[dict[str, Any]]:
    # two flags, not a list: datasets treats list-valued gen_kwargs as shards
    for lineno, obj in json_objects(_read_lines(Path(path), display), lambda n: f"{display} line {n}"):
        _validate_sample(obj, f"{display} line {lineno}", (with_labels, with_speakers))
        yield obj


def write_jsonl(splits: Mapping[str, Any], directory: str | os.PathLike) -> Path:
    """Write ``{split: Dataset}`` as ``directory/{split}.jsonl`` (readable by ``source="jsonl"``);
    every column is written, so the optional label and speaker pairs survive the round trip."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for split, ds in splits.items():
        with open(out / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for row in ds:
                f.write(json.dumps(dict(row), ensure_ascii=False) + "\n")
    return out


# --------------------------------------------------------------------------- sources


def _find_split_files(directory: Path, ext: str) -> dict[str, Path] | None:
    if all((directory / f"{s}.{ext}").is_file() for s in SPLITS):
        return {s: directory / f"{s}.{ext}" for s in SPLITS}
    return None


def _require_split_files(directory: Path, ext: str) -> dict[str, Path]:
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory (expected train.{ext}, valid.{ext}, test.{ext})")
    for s in SPLITS:
        p = directory / f"{s}.{ext}"
        if not p.is_file():
            raise DataError(f"{p}: file not found (a data directory needs train.{ext}, valid.{ext} and test.{ext})")
    return {s: directory / f"{s}.{ext}" for s in SPLITS}


def _is_tar(path: Path) -> bool:
    return path.name.lower().endswith(_TAR_SUFFIXES)


def _extract_tar(tar_path: Path, cache_dir: Path) -> Path:
    """Extract ``{train,valid,test}.csv`` (+ labels) from an official tarball; returns the dir."""
    if not tar_path.is_file():
        raise DataError(f"{tar_path}: file not found")
    key = hashlib.sha256(json.dumps(_file_signature(tar_path)).encode()).hexdigest()[:16]
    dest = cache_dir / "extracted" / f"{tar_path.name}-{key}"
    if _find_split_files(dest, "csv"):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest.parent))
    try:
        try:
            with tarfile.open(tar_path, "r:*") as tf:
                members = {}
                for m in tf.getmembers():
                    if not m.isfile():
                        continue
                    parts = m.name.strip("/").split("/")
                    name = parts[-1]
                    if name in {f"{s}.csv" for s in SPLITS} | {_LABELS_FILE} and len(parts) <= 2:
                        # prefer empatheticdialogues/<file> over other top-level dirs
                        if name not in members or parts[0] == "empatheticdialogues":
                            members[name] = m
                for s in SPLITS:
                    if f"{s}.csv" not in members:
                        raise DataError(f"{tar_path}: no empatheticdialogues/{s}.csv inside the archive")
                for name, m in members.items():
                    src = tf.extractfile(m)
                    assert src is not None
                    with src, open(tmp / name, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise DataError(f"{tar_path}: cannot read archive ({e})") from None
        if dest.exists():
            shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _resolve(path: str | os.PathLike | None, source: str) -> tuple[str, Any]:
    """-> (kind, location): ("csv", dir) | ("tar", file) | ("jsonl", dir) | ("hf", name)."""
    if source not in _SOURCES:
        raise ConfigError(f"data source {source!r} is not one of {', '.join(_SOURCES)}")
    if source == "hf":
        return "hf", str(path) if path is not None else HF_DATASET_NAME
    if path is None:
        if source == "jsonl":
            raise ConfigError("data source 'jsonl' needs a path (the sample ships as CSV)")
        return "csv", SAMPLE_DATA_DIR
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{p}: no such file or directory")
    if p.is_file():
        if source in ("auto", "csv") and _is_tar(p):
            return "tar", p
        raise DataError(
            f"{p}: expected a directory with train/valid/test files"
            + (" or an empatheticdialogues.tar.gz" if source != "jsonl" else "")
        )
    if source == "jsonl":
        return "jsonl", p
    sub = p / "empatheticdialogues"
    if source == "csv":
        if not _find_split_files(p, "csv") and _find_split_files(sub, "csv"):
            return "csv", sub
        if not _find_split_files(p, "csv") and (p / "empatheticdialogues.tar.gz").is_file():
            return "tar", p / "empatheticdialogues.tar.gz"
        return "csv", p
    # auto
    if _find_split_files(p, "csv"):
        return "csv", p
    if _find_split_files(p, "jsonl"):
        return "jsonl", p
    if _find_split_files(sub, "csv"):
        return "csv", sub
    if (p / "empatheticdialogues.tar.gz").is_file():
        return "tar", p / "empatheticdialogues.tar.gz"
    raise DataError(
        f"{p}: found neither train/valid/test .csv nor .jsonl files, nor empatheticdialogues.tar.gz"
    )


def _load_csv_dir(directory: Path, cache_dir: Path, context_window: int | None, display_prefix: str | None):
    files = _require_split_files(directory, "csv")
    labels = directory / _LABELS_FILE
    labels = labels if labels.is_file() else None
    with_labels = labels is not None
    out = {}
    for split, csv_path in files.items():
        display = f"{display_prefix}:{csv_path.name}" if display_prefix else str(csv_path)
        labels_display = (f"{display_prefix}:{_LABELS_FILE}" if display_prefix else str(labels)) if labels else None
        fp = _fingerprint(
            kind="csv-conversations", split=split, csv=_file_signature(csv_path), labels=_file_signature(labels)
        )
        convs = _from_generator(
            _csv_conversations,
            {
                "csv_path": str(csv_path),
                "display": display,
                "labels_path": str(labels) if labels else None,
                "labels_display": labels_display,
                "split": split,
            },
            _conversation_features(with_labels),
            cache_dir,
            fp,
            split,
        )
        out[split] = convs.map(
            _conversations_to_samples,
            batched=True,
            remove_columns=convs.column_names,
            fn_kwargs={"context_window": context_window, "with_labels": with_labels},
            features=_features(with_labels, with_speakers=True),
            new_fingerprint=_fingerprint(kind="samples", parent=fp, context_window=context_window),
            desc=f"EmpatheticDialogues {split} samples",
        )
    return out


def _load_jsonl_dir(directory: Path, cache_dir: Path, context_window: int | None):
    files = _require_split_files(directory, "jsonl")
    out = {}
    for split, path in files.items():
        with_labels, with_speakers = _jsonl_scan_optional(path, str(path))
        fp = _fingerprint(kind="jsonl-samples", split=split, jsonl=_file_signature(path))
        ds = _from_generator(
            _jsonl_samples,
            {"path": str(path), "display": str(path), "with_labels": with_labels, "with_speakers": with_speakers},
            _features(with_labels, with_speakers),
            cache_dir,
            fp,
            split,
        )
        if context_window is not None:
            ds = ds.map(
                _window_samples,
                batched=True,
                fn_kwargs={"context_window": context_window},
                new_fingerprint=_fingerprint(kind="window", parent=fp, context_window=context_window),
                desc=f"context window {split}",
            )
        out[split] = ds
    return out


def _export_hf(name: str, cache_dir: Path) -> Path:
    """Download ``name`` from the hub and write it in the official CSV layout under cache_dir."""
    try:
        import datasets

        hub = datasets.load_dataset(name, cache_dir=str(cache_dir / "hub"))
    except Exception as e:  # offline, missing, auth, script-based ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ResourceError(
            f"cannot load {name!r} from the Hugging Face hub ({type(e).__name__}: {first[:200]}); "
            f"offline? pass the path of a local EmpatheticDialogues copy instead"
        ) from None
    split_names = {"train": "train", "valid": "validation", "test": "test"}
    for ours, theirs in list(split_names.items()):
        if theirs not in hub and ours in hub:
            split_names[ours] = ours
        if split_names[ours] not in hub:
            raise ResourceError(f"{name!r} on the hub has no {theirs!r} split (has {', '.join(hub)})")
    key = _fingerprint(kind="hf-export", name=name, fps=[hub[split_names[s]]._fingerprint for s in SPLITS])
    dest = cache_dir / "hf_export" / key
    if _find_split_files(dest, "csv"):
        return dest
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_dir))
    try:
        for ours in SPLITS:
            ds = hub[split_names[ours]]
            missing = [c for c in _REQUIRED_CSV_COLUMNS if c not in ds.column_names]
            if missing:
                raise ResourceError(f"{name!r} split {split_names[ours]!r} lacks column(s) {', '.join(missing)}")
            with open(tmp / f"{ours}.csv", "w", encoding="utf-8") as f:
                f.write(",".join(CSV_COLUMNS) + "\n")
                for row in ds:
                    fields = [
                        str(row.get(c, "") if row.get(c) is not None else "")
                        .replace(",", "_comma_")
                        .replace("\r", " ")
                        .replace("\n", " ")
                        for c in CSV_COLUMNS
                    ]
                    f.write(",".join(fields) + "\n")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _normalise_max_examples(max_examples: int | Mapping[str, int] | None) -> dict[str, int | None]:
    if max_examples is None:
        return {s: None for s in SPLITS}
    if isinstance(max_examples, bool):
        raise ConfigError(f"max_examples must be an int or a dict of split -> int, got {max_examples!r}")
    if isinstance(max_examples, int):
        limits: dict[str, int | None] = {s: max_examples for s in SPLITS}
    elif isinstance(max_examples, Mapping):
        unknown = sorted(set(max_examples) - set(SPLITS))
        if unknown:
            raise ConfigError(f"max_examples has unknown split(s) {', '.join(unknown)} (splits: {', '.join(SPLITS)})")
        limits = {s: max_examples.get(s) for s in SPLITS}
    else:
        raise ConfigError(f"max_examples must be an int or a dict of split -> int, got {max_examples!r}")
    for s, n in limits.items():
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ConfigError(f"max_examples[{s!r}] must be a non-negative int, got {n!r}")
    return limits


# --------------------------------------------------------------------------- public API


def load_splits(
    path: str | os.PathLike | None = None,
    *,
    source: str = "auto",
    context_window: int | None = None,
    max_examples: int | Mapping[str, int] | None = None,
    cache_dir: str | os.PathLike | None = None,
):
    """Load EmpatheticDialogues as ``{"train", "valid", "test"} -> datasets.Dataset``.

    :param path: ``None`` for the embedded sample (``SAMPLE_DATA_DIR``); a directory holding
        ``{train,valid,test}.csv`` (official layout, optionally with ``utterance_labels.csv``),
        a directory holding ``{train,valid,test}.jsonl`` (samples in the schema above), a
        directory holding ``empatheticdialogues/`` or ``empatheticdialogues.tar.gz``, or the
        path of the official ``empatheticdialogues.tar.gz``. With ``source="hf"``: the hub name
        (default ``facebook/empathetic_dialogues``).
    :param source: ``"auto"`` (by what ``path`` holds; CSV wins over JSONL), ``"csv"``
        (directory or tarball), ``"jsonl"`` or ``"hf"``.
    :param context_window: keep only the last ``k`` context utterances (``None``: all).
    :param max_examples: an int applied to every split, or ``{"train": 200, ...}``; keeps the
        first N samples (deterministic).
    :param cache_dir: where the Arrow caches (and extracted tarballs) go; default
        ``$EDG_CACHE/datasets`` or ``~/.cache/edg/datasets``.
    :returns: a ``datasets.DatasetDict`` (a dict) with keys ``train``, ``valid``, ``test``.
    :raises DataError: missing or malformed files (the message names file and line).
    :raises ConfigError: bad ``source``, ``context_window`` or ``max_examples``.
    :raises ResourceError: ``source="hf"`` when the hub cannot be reached.
    """
    from datasets import DatasetDict

    if context_window is not None and (
        isinstance(context_window, bool) or not isinstance(context_window, int) or context_window < 1
    ):
        raise ConfigError(f"context_window must be a positive int or None, got {context_window!r}")
    limits = _normalise_max_examples(max_examples)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)

    kind, location = _resolve(path, source)
    if kind == "csv":
        splits = _load_csv_dir(location, cache, context_window, None)
    elif kind == "tar":
        extracted = _extract_tar(location, cache)
        splits = _load_csv_dir(extracted, cache, context_window, str(location))
    elif kind == "jsonl":
        splits = _load_jsonl_dir(location, cache, context_window)
    else:
        splits = _load_csv_dir(_export_hf(location, cache), cache, context_window, location)

    for split, limit in limits.items():
        if limit is not None and limit < len(splits[split]):
            splits[split] = splits[split].select(range(limit))
    return DatasetDict({s: splits[s] for s in SPLITS})
