"""The fit stage: components trained before the main model, once, cached and recorded.

The cache key of a fitted component is a hash of its name, class, fingerprint and the
``datasets`` fingerprints of the data it is fitted on. A complete result lives in
``<cache>/fitted/<key>/`` (written into a temporary directory and renamed, so a killed fit
never leaves a half-written result); an interrupted fit resumes from
``<cache>/fitted/<key>.work/``. One process at a time fits a key (an exclusive ``flock`` on
``<cache>/fitted/<key>.lock``): runs started together wait for the first one's fit and load it,
instead of training into one work directory at once. Every run records in ``RUN_DIR/fitted.json`` the key,
metrics and origin (fitted now or loaded from the cache) of each component it used.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from edg.interfaces.fitted import FitSpec

log = logging.getLogger("edg")

COMPLETE = "COMPLETE"
METRICS = "metrics.json"


def cache_key(spec: FitSpec) -> str:
    payload = {
        "name": spec.name,
        "class": f"{type(spec.component).__module__}.{type(spec.component).__qualname__}",
        "fingerprint": spec.component.fingerprint(),
        "data": {name: getattr(ds, "_fingerprint", None) or _content_hash(ds) for name, ds in sorted(spec.data.items())},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _content_hash(dataset: Any) -> str:
    return hashlib.sha256(json.dumps(list(dataset), sort_keys=True, default=str).encode()).hexdigest()


@contextmanager
def _fit_lock(path: Path, name: str) -> Iterator[None]:
    with open(path, "a") as handle:  # closing the file releases the lock, also when the run is killed
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("fit stage: another process is fitting %s; waiting for its result", name)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _fit(spec: FitSpec, root: Path, key: str) -> dict[str, float]:
    """Fit into ``<key>.work`` (resumable), then publish ``<key>/`` by an atomic rename."""
    work = root / f"{key}.work"
    work.mkdir(exist_ok=True)
    log.info("fit stage: fitting %s (work directory %s)", spec.name, work)
    metrics = {k: float(v) for k, v in spec.component.fit(spec.data, work).items()}
    tmp = root / f".tmp-{key}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    spec.component.save(tmp)
    (tmp / METRICS).write_text(json.dumps(metrics, indent=2) + "\n")
    (tmp / COMPLETE).write_text(key + "\n")
    os.replace(tmp, root / key)
    shutil.rmtree(work, ignore_errors=True)
    return metrics


def fit_all(specs: list[FitSpec], cache_dir: Path, run_dir: Optional[Path] = None) -> dict[str, Any]:
    """Fit (or load) every component of ``specs``; returns name -> fitted component."""
    from edg.runs import atomic_write_text

    root = Path(cache_dir) / "fitted"
    root.mkdir(parents=True, exist_ok=True)
    fitted: dict[str, Any] = {}
    records: dict[str, Any] = {}
    for spec in specs:
        key = cache_key(spec)
        final = root / key
        started = time.perf_counter()
        with _fit_lock(root / f"{key}.lock", spec.name):
            if (final / COMPLETE).is_file():
                spec.component.load(final)
                metrics = json.loads((final / METRICS).read_text())
                origin = "cache"
                log.info("fit stage: %s loaded from %s", spec.name, final)
            else:
                metrics = _fit(spec, root, key)
                origin = "fitted"
        fitted[spec.name] = spec.component
        records[spec.name] = {"key": key, "origin": origin, "metrics": metrics, "path": str(final),
                              "fingerprint": spec.component.fingerprint(),
                              "seconds": round(time.perf_counter() - started, 2)}
    if run_dir is not None and records and Path(run_dir).is_dir():
        path = Path(run_dir) / "fitted.json"
        existing = json.loads(path.read_text()) if path.is_file() else {}
        keys_before = {name: r.get("key") for name, r in existing.items()}
        if keys_before != {**keys_before, **{name: r["key"] for name, r in records.items()}} or not existing:
            atomic_write_text(path, json.dumps({**existing, **records}, indent=2, default=str) + "\n")
    return fitted
