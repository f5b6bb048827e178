"""Atomic, verifiable checkpoints.

A checkpoint is a directory ``checkpoints/step-N/`` holding ``model.safetensors``
(weights), ``training_state.pt`` (optimizer, scheduler, RNG and loop state; tensors and
plain Python values only, loaded with ``weights_only=True``) and ``meta.json`` (step and
SHA-256 of both files). It is written under a temporary name and renamed into place, and
only then does the ``LATEST`` pointer move, so a run killed at any moment leaves the
previous checkpoint intact. ``BEST`` points at the best validation checkpoint.

The rename is the commit: a resumed run continues from the newest ``step-N`` that verifies
(:func:`resume_point`), whatever ``LATEST`` says (a kill may fall between the rename and
the pointer update, or leave the newest checkpoint corrupt), and rewrites the pointers.
A write that fails (a full disk) removes its temporary directory and raises one line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from edg.errors import CheckpointError
from edg.runs import TEMP_MARK, atomic_write_text

log = logging.getLogger("edg")

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


def _one_line(exc: BaseException) -> str:
    """The gist of an I/O error: ``strerror`` of an OSError, else the message's first line."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _tied_groups(state: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """Each name -> every name of the same tensor (tied weights: one tensor under several
    names), first name first."""
    groups: dict[tuple, list[str]] = {}
    for name, t in state.items():
        key = (t.device, t.data_ptr(), t.dtype, tuple(t.shape), t.stride()) if t.numel() else (name,)
        groups.setdefault(key, []).append(name)
    return {name: names for names in groups.values() for name in names}


def save_weights(model: torch.nn.Module, file: Path) -> None:
    """``model``'s weights as safetensors, a tied weight once (under its first name).
    Each tensor is copied to a storage of its own: views into one buffer that are not the
    same tensor (cuDNN flattens an RNN's weights into one buffer on a GPU) are refused by
    safetensors as they stand."""
    state = model.state_dict()
    groups = _tied_groups(state)
    save_file({name: t.detach().to("cpu", copy=True).contiguous() for name, t in state.items()
               if groups[name][0] == name}, str(file))


def _load_into(model: torch.nn.Module, file: Path) -> tuple[list[str], list[str]]:
    """Missing and unexpected names of loading ``file`` into ``model``; a tied weight counts
    as present under any of its names (older checkpoints chose another name than
    :func:`save_weights`)."""
    tensors = load_file(str(file))
    groups = _tied_groups(model.state_dict())
    unexpected = [n for n in tensors if n not in groups]
    missing = [n for n, names in groups.items() if not any(a in tensors for a in names)]
    if not unexpected and not missing:
        model.load_state_dict(tensors, strict=False)  # strict would want every tied name
    return missing, unexpected


def save_checkpoint(directory: Path, step: int, model: torch.nn.Module, training_state: dict[str, Any],
                    *, best: bool = False, keep: int = 2) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"step-{step}"
    tmp = directory / f"{TEMP_MARK}step-{step}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        save_weights(model, tmp / MODEL_FILE)
        torch.save(training_state, tmp / STATE_FILE)
        meta = {"step": step, "files": {f: _sha256(tmp / f) for f in (MODEL_FILE, STATE_FILE)}}
        (tmp / META_FILE).write_text(json.dumps(meta))
        if final.exists():  # an incomplete step-N left by a kill: replace it whole
            shutil.rmtree(final)
        os.replace(tmp, final)
    except (OSError, RuntimeError) as exc:  # a full disk: torch reports it as RuntimeError
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(f"cannot write checkpoint {final}: {_one_line(exc)} "
                              f"(the previous checkpoint is intact)") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        set_pointers(directory, latest=final.name, best=final.name if best else None)
    except OSError as exc:
        raise CheckpointError(f"cannot update the pointers in {directory}: {_one_line(exc)} "
                              f"({final.name} is complete; --resume uses it)") from None
    _prune(directory, keep)
    return final


def set_pointers(directory: Path, *, latest: str | None = None, best: str | None = None) -> None:
    """Point ``LATEST``/``BEST`` at checkpoint directory names (``None``: unchanged)."""
    for name, target in (("LATEST", latest), ("BEST", best)):
        if target is not None and _pointer(directory, name) != target:
            atomic_write_text(directory / name, target + "\n")


def _prune(directory: Path, keep: int) -> None:
    protected = {_pointer(directory, "LATEST"), _pointer(directory, "BEST")}
    steps = sorted((p for p in directory.glob("step-*") if p.is_dir()), key=lambda p: int(p.name.split("-")[1]))
    for path in steps[:-keep] if keep > 0 else steps:
        if path.name not in protected:
            shutil.rmtree(path, ignore_errors=True)
    for stale in directory.glob(f"{TEMP_MARK}step-*"):
        if stale.is_dir() and not stale.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(stale, ignore_errors=True)


def _pointer(directory: Path, name: str) -> str | None:
    path = directory / name
    return path.read_text().strip() if path.is_file() else None


def find_checkpoint(directory: Path, which: str = "LATEST") -> Path | None:
    name = _pointer(directory, which)
    return directory / name if name else None


def _step_of(path: Path) -> int | None:
    head, _, number = path.name.partition("-")
    return int(number) if head == "step" and number.isdigit() else None


def resume_point(directory: Path) -> Path | None:
    """The newest checkpoint that verifies (``None``: there is none yet). Corrupt or
    incomplete newer ones are skipped, each with a warning saying which one is used."""
    steps = sorted((p for p in directory.glob("step-*") if p.is_dir() and _step_of(p) is not None),
                   key=_step_of, reverse=True)
    for path in steps:
        try:
            verify(path)
        except CheckpointError as exc:
            log.warning("%s; falling back to an older checkpoint", exc)
            continue
        latest = _pointer(directory, "LATEST")
        if latest not in (None, path.name) and not (directory / latest).is_dir():
            log.warning("LATEST points at %s, which is missing; using %s", latest, path.name)
        return path
    if steps:
        raise CheckpointError(f"{directory}: no intact checkpoint (all {len(steps)} are corrupt or incomplete)")
    return None


def verify(path: Path) -> dict[str, Any]:
    meta_path = path / META_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError):
        raise CheckpointError(f"checkpoint {path} is incomplete or corrupt (unreadable {META_FILE})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("files"), dict):
        raise CheckpointError(f"checkpoint {path} is corrupt ({META_FILE} lists no files)")
    for name, digest in meta["files"].items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"checkpoint {path} is missing {name}")
        if _sha256(file) != digest:
            raise CheckpointError(f"checkpoint {path} is corrupt: {name} does not match its checksum")
    return meta


def _shape_mismatch(path: Path, model: torch.nn.Module) -> str | None:
    """The first tensor whose saved shape differs from the model's, as one phrase."""
    wanted = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    differ = []
    with safe_open(str(path), framework="pt") as f:
        for key in f.keys():
            saved = tuple(f.get_slice(key).get_shape())
            if key in wanted and wanted[key] != saved:
                differ.append((key, saved, wanted[key]))
    if not differ:
        return None
    key, saved, want = differ[0]
    return (f"tensor '{key}' is {list(saved)} in the checkpoint but {list(want)} in the model"
            + (f" ({len(differ)} tensors differ)" if len(differ) > 1 else ""))


def load_weights(path: Path, model: torch.nn.Module) -> None:
    verify(path)
    file = path / MODEL_FILE
    try:
        mismatch = _shape_mismatch(file, model)
    except Exception as exc:
        raise CheckpointError(f"cannot read {file}: {_one_line(exc)}") from None
    if mismatch:
        raise CheckpointError(f"{file} does not fit the model: {mismatch}; was the model config changed "
                              f"after training?")
    try:
        missing, unexpected = _load_into(model, file)
    except Exception as exc:
        raise CheckpointError(f"cannot load {file}: {type(exc).__name__}: {_one_line(exc)}") from None
    if missing or unexpected:
        raise CheckpointError(
            f"{file} does not fit the model: {len(missing)} missing and "
            f"{len(unexpected)} unexpected tensors (e.g. {(list(missing) + list(unexpected))[0]})"
        )


def load_training_state(path: Path) -> dict[str, Any]:
    verify(path)
    try:
        return torch.load(path / STATE_FILE, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot load {path / STATE_FILE}: {type(exc).__name__}: {_one_line(exc)}") from None
