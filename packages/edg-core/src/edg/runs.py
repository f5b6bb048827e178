"""Run directories: ``runs/<name>/<timestamp>/`` with everything a run produced.

Layout::

    config.yaml          resolved config (enough to rebuild the run)
    env.json             versions, git SHA, plugins, device
    metrics.jsonl        one JSON object per logged train/valid step
    summary.json         best step, test metrics, tokenizer kind ...
    fingerprints.json    SHA-256 of the tokenizer and of each data split the run used
    tokenizer/           the tokenizer the model was trained with
    checkpoints/         step-N/ (atomic), LATEST, BEST
    test_outputs.jsonl   per test sample: id, context, reference, hypothesis, emotions, nll, tokens
    evaluations/KEY/     evaluations with settings other than config.yaml's
    .lock                held (flock) by the one process writing the directory
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from edg.config import RunConfig, dump_yaml, read_yaml, validate
from edg.errors import CheckpointError, DataError

log = logging.getLogger("edg")

#: temporary names of atomic writes: ``.NAME.tmp-XXXX`` files and ``.tmp-*`` directories
TEMP_MARK = ".tmp-"
FINGERPRINTS_FILE = "fingerprints.json"
LOCK_FILE = ".lock"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and ``os.replace`` so readers never see half a file.

    The file gets the permissions of any other file (``0666`` less the umask), not the
    ``0600`` of ``mkstemp``. On failure (a full disk) the temporary file is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{TEMP_MARK}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a full disk: name the file being written, not the temporary
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_run_dir(config: RunConfig, files: dict[str, str] | None = None) -> Path:
    """A fresh ``output_dir/name/timestamp`` holding ``files`` (name -> text) from the
    moment it appears: it is filled under a temporary name and renamed into place, so a
    run directory always has its ``config.yaml``."""
    name = config.name or config.system
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(config.output_dir) / name
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=base, prefix=f"{TEMP_MARK}{stamp}-"))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        for file, text in (files or {}).items():
            atomic_write_text(tmp / file, text)
        n = 1
        while True:
            path = base / (stamp if n == 1 else f"{stamp}-{n}")
            try:
                os.rename(tmp, path)  # fails if the directory exists and is not empty
                return path
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) and not path.exists():
                    raise
                n += 1  # two runs in the same second
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise


class RunLock:
    """An exclusive ``flock`` on ``RUN_DIR/.lock`` while this process writes the run
    directory: a second writer (two ``--resume`` of one run, an ``evaluate`` during
    training) fails at once with one line instead of interleaving records. The kernel
    drops the lock when the process dies, so a killed run never leaves it held.
    Re-entrant within one process (``edg run`` evaluates inside its own lock)."""

    _held: dict[Path, list] = {}  # resolved run dir -> [file object, depth]

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.key = self.run_dir.resolve()

    def __enter__(self) -> "RunLock":
        held = RunLock._held.get(self.key)
        if held is not None:
            held[1] += 1
            return self
        path = self.run_dir / LOCK_FILE
        f = open(path, "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            owner = f.read().strip() or "?"
            f.close()
            raise CheckpointError(f"{self.run_dir} is in use by another edg process (pid {owner}); "
                                  f"wait for it to finish") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        RunLock._held[self.key] = [f, 1]
        return self

    def __exit__(self, *exc) -> None:
        held = RunLock._held[self.key]
        held[1] -= 1
        if held[1] == 0:
            del RunLock._held[self.key]
            held[0].close()  # closing the file releases the flock


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete what atomic writes of a killed process left behind (``.NAME.tmp-*`` files,
    ``.tmp-step-*`` and ``.tokenizer.tmp-*`` directories). Call only under :class:`RunLock`:
    then no other process is writing them."""
    import shutil

    removed = []
    for folder in (run_dir, run_dir / "checkpoints", *sorted((run_dir / "evaluations").glob("*"))):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if not (path.name.startswith(".") and TEMP_MARK in path.name):
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


# -- fingerprints -------------------------------------------------------------------------
def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def directory_digest(directory: Path) -> str:
    """SHA-256 over the names and contents of the files in ``directory`` (sorted)."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
        h.update(path.relative_to(directory).as_posix().encode() + b"\0" + file_digest(path).encode() + b"\n")
    return h.hexdigest()


#: the columns that define a split's content (the rest is derived from them)
DATA_COLUMNS = ("id", "context", "target", "emotion", "situation")


def split_digest(dataset) -> str:
    """SHA-256 of a split's samples (ids, contexts, targets, emotions, situations) in
    order: equal for equal data whatever file or cache it was loaded from."""
    columns = [c for c in DATA_COLUMNS if c in dataset.column_names]
    h = hashlib.sha256(json.dumps(columns).encode())
    for batch in dataset.select_columns(columns).iter(batch_size=1000):
        for row in zip(*(batch[c] for c in columns)):
            h.update(json.dumps(row, ensure_ascii=False, default=str).encode() + b"\n")
    return h.hexdigest()


def read_fingerprints(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / FINGERPRINTS_FILE
    return read_json(path) if path.is_file() else {}


def record_fingerprints(run_dir: Path, **entries: Any) -> dict[str, Any]:
    """Merge ``entries`` (``tokenizer=...``, ``data={...}``) into ``fingerprints.json``."""
    fingerprints = read_fingerprints(run_dir)
    for key, value in entries.items():
        if isinstance(value, dict):
            fingerprints[key] = {**fingerprints.get(key, {}), **value}
        else:
            fingerprints[key] = value
    write_json(Path(run_dir) / FINGERPRINTS_FILE, fingerprints)
    return fingerprints


def save_config(run_dir: Path, config: RunConfig) -> None:
    atomic_write_text(run_dir / "config.yaml", dump_yaml(config.model_dump(mode="json")))


def load_config(run_dir: Path) -> RunConfig:
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a run directory (no config.yaml)")
    return validate(RunConfig, read_yaml(path))  # type: ignore[return-value]


def git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except Exception:
        return None


def environment_info(plugins: dict[str, Any] | None = None, device: str | None = None) -> dict[str, Any]:
    versions = {}
    for dist in ("edg-core", "torch", "transformers", "tokenizers", "datasets", "pluggy", "nltk",
                 "sentence-transformers", "numpy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": versions,
        "git_sha": git_sha(),
        "plugins": plugins or {},
        "device": device,
        "argv": sys.argv,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        import torch

        if torch.cuda.is_available():
            info["cuda"] = {"device": torch.cuda.get_device_name(0), "version": torch.version.cuda,
                            "count": torch.cuda.device_count()}
    except Exception:
        pass
    return info


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"missing file {path}") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} line {exc.lineno}: corrupt JSON ({exc.msg})") from None


class MetricsLog:
    """Appends one JSON object per line to ``metrics.jsonl`` (flushed each write)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, record: dict[str, Any]) -> None:
        try:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as exc:  # a full disk: a cut line is dropped on resume
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None

    def records(self) -> list[dict[str, Any]]:
        """Every record written so far (a cut-off last line is left out)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # truncate_after has said so, or the writer is mid-line
            if isinstance(record, dict):
                out.append(record)
        return out

    def truncate_after(self, step: int) -> int:
        """Keep only the records up to ``step``: a resumed run writes the later ones again
        from its checkpoint. A last line cut short by a kill or a full disk is dropped (and
        said); a malformed line before it is a :class:`DataError` naming the line.
        Returns the number of records dropped."""
        if not self.path.exists():
            return 0
        text = self.path.read_text(encoding="utf-8")
        lines = text.splitlines()
        keep, dropped = [], 0
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
            except ValueError:
                if lineno == len(lines) and not text.endswith("\n"):
                    log.warning("%s: dropped an incomplete last line (the writing process was interrupted)",
                                self.path)
                    dropped += 1
                    continue
                raise DataError(f"{self.path}:{lineno}: not a JSON object; the metrics log is corrupt") from None
            if record.get("step", 0) <= step:
                keep.append(line)
            else:
                dropped += 1
        new_text = "".join(line + "\n" for line in keep)
        if new_text != text:
            atomic_write_text(self.path, new_text)
        return dropped
