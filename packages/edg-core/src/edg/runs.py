"""Run directories: ``runs/<name>/<timestamp>/`` with everything a run produced.

Layout::

    config.yaml          resolved config (enough to rebuild the run)
    env.json             versions, git SHA, plugins, device
    metrics.jsonl        one JSON object per logged train/valid step
    summary.json         best step, test metrics, tokenizer kind ...
    tokenizer/           the tokenizer the model was trained with
    checkpoints/         step-N/ (atomic), LATEST, BEST
    test_outputs.jsonl   generated responses with references
"""

from __future__ import annotations

import json
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
from edg.errors import CheckpointError


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and ``os.replace`` so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_run_dir(config: RunConfig) -> Path:
    name = config.name or config.system
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(config.output_dir) / name
    path = base / stamp
    n = 1
    while path.exists():  # two runs in the same second
        n += 1
        path = base / f"{stamp}-{n}"
    path.mkdir(parents=True)
    return path


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
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop records past ``step`` (a resumed run repeats them from its checkpoint)."""
        if not self.path.exists():
            return
        keep = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        atomic_write_text(self.path, "".join(line + "\n" for line in keep))
