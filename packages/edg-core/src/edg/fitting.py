"""The fit stage: components trained before the main model, once, cached and recorded.

The cache key of a fitted component is a hash of its name, class, fingerprint and the
``datasets`` fingerprints of the data it is fitted on. A complete result lives in
``<cache>/fitted/<key>/`` (written into a temporary directory and renamed, so a killed fit
never leaves a half-written result); an interrupted fit resumes from
``<cache>/fitted/<key>.work/``. Every run records in ``RUN_DIR/fitted.json`` the key,
metrics and origin (fitted now or loaded from the cache) of each component it used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Optional

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
        if (final / COMPLETE).is_file():
            spec.component.load(final)
            metrics = json.loads((final / METRICS).read_text())
            origin = "cache"
            log.info("fit stage: %s loaded from %s", spec.name, final)
        else:
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
            if final.exists():  # a concurrent run finished first: keep its result
                shutil.rmtree(tmp)
            else:
                os.replace(tmp, final)
            shutil.rmtree(work, ignore_errors=True)
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
