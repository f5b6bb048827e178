"""Atomic, verifiable checkpoints.

A checkpoint is a directory ``checkpoints/step-N/`` holding ``model.safetensors``
(weights), ``training_state.pt`` (optimizer, scheduler, RNG and loop state; tensors and
plain Python values only, loaded with ``weights_only=True``) and ``meta.json`` (step and
SHA-256 of both files). It is written under a temporary name and renamed into place, and
only then does the ``LATEST`` pointer move, so a run killed at any moment leaves the
previous checkpoint intact. ``BEST`` points at the best validation checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model

from edg.errors import CheckpointError
from edg.runs import atomic_write_text

MODEL_FILE = "model.safetensors"
STATE_FILE = "training_state.pt"
META_FILE = "meta.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(tuple(x if not isinstance(x, list) else tuple(x) for x in state["python"]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(directory: Path, step: int, model: torch.nn.Module, training_state: dict[str, Any],
                    *, best: bool = False, keep: int = 2) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"step-{step}"
    tmp = directory / f".tmp-step-{step}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(model, str(tmp / MODEL_FILE))
    torch.save(training_state, tmp / STATE_FILE)
    meta = {"step": step, "files": {f: _sha256(tmp / f) for f in (MODEL_FILE, STATE_FILE)}}
    (tmp / META_FILE).write_text(json.dumps(meta))
    if final.exists():  # re-saving a step after resume: replace it whole
        shutil.rmtree(final)
    os.replace(tmp, final)
    atomic_write_text(directory / "LATEST", final.name + "\n")
    if best:
        atomic_write_text(directory / "BEST", final.name + "\n")
    _prune(directory, keep)
    return final


def _prune(directory: Path, keep: int) -> None:
    protected = {_pointer(directory, "LATEST"), _pointer(directory, "BEST")}
    steps = sorted((p for p in directory.glob("step-*") if p.is_dir()), key=lambda p: int(p.name.split("-")[1]))
    for path in steps[:-keep] if keep > 0 else steps:
        if path.name not in protected:
            shutil.rmtree(path, ignore_errors=True)
    for stale in directory.glob(".tmp-step-*"):
        if stale.is_dir() and not stale.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(stale, ignore_errors=True)


def _pointer(directory: Path, name: str) -> str | None:
    path = directory / name
    return path.read_text().strip() if path.is_file() else None


def find_checkpoint(directory: Path, which: str = "LATEST") -> Path | None:
    name = _pointer(directory, which)
    return directory / name if name else None


def verify(path: Path) -> dict[str, Any]:
    meta_path = path / META_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError):
        raise CheckpointError(f"checkpoint {path} is incomplete or corrupt (unreadable {META_FILE})") from None
    for name, digest in meta["files"].items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"checkpoint {path} is missing {name}")
        if _sha256(file) != digest:
            raise CheckpointError(f"checkpoint {path} is corrupt: {name} does not match its checksum")
    return meta


def load_weights(path: Path, model: torch.nn.Module) -> None:
    verify(path)
    try:
        missing, unexpected = load_model(model, str(path / MODEL_FILE), strict=False)
    except Exception as exc:
        raise CheckpointError(f"cannot load {path / MODEL_FILE}: {type(exc).__name__}: {exc}") from None
    if missing or unexpected:
        raise CheckpointError(
            f"{path / MODEL_FILE} does not fit the model: {len(missing)} missing and "
            f"{len(unexpected)} unexpected tensors (e.g. {(list(missing) + list(unexpected))[0]})"
        )


def load_training_state(path: Path) -> dict[str, Any]:
    verify(path)
    try:
        return torch.load(path / STATE_FILE, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot load {path / STATE_FILE}: {type(exc).__name__}: {exc}") from None
