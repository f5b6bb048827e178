"""Knowledge annotation with a shared, resumable disk cache.

:func:`annotate` runs a :class:`~edg.interfaces.knowledge.KnowledgeSource` over a dataset:
it collects the requests of every sample, answers from the cache what it can, computes
only the missing requests in batches of ``source.batch_size`` (with a progress bar in
items/s), stores every answered batch at once, and attaches the answers to the samples.

:class:`KnowledgeCache` is one SQLite file shared by all sources (default
``$EDG_CACHE/knowledge.sqlite``, else ``~/.cache/edg/knowledge.sqlite``). An answer is
stored under ``sha256(fingerprint JSON, request JSON)``: the fingerprint names the model
and decoding settings, the request names the input and relation, so changing any of them
misses the cache instead of serving a wrong answer. Each batch is committed as soon as
it is computed, so a killed annotation resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Optional

from edg.errors import PluginError, ResourceError

logger = logging.getLogger(__name__)

__all__ = ["KnowledgeCache", "annotate", "cache_key", "default_cache_path"]

CACHE_ENV = "EDG_CACHE"
CACHE_FILE = "knowledge.sqlite"
# SQLite limits the number of bound parameters per statement (999 in old builds).
_LOOKUP_CHUNK = 500


def default_cache_path() -> Path:
    """``$EDG_CACHE/knowledge.sqlite``, else ``~/.cache/edg/knowledge.sqlite``."""
    root = os.environ.get(CACHE_ENV)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "edg"
    return base / CACHE_FILE


def _canonical_json(value: Any) -> str:
    # sort_keys + fixed separators: the same value always gives the same bytes
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def cache_key(fingerprint: dict[str, Any], request: Any) -> str:
    """The cache key of one request of a source with this fingerprint."""
    payload = _canonical_json([fingerprint, request])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _fingerprint_id(fingerprint: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical_json(fingerprint).encode("utf-8")).hexdigest()[:16]


class KnowledgeCache:
    """Answers of knowledge sources, in one SQLite file (WAL mode, one commit per batch)."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_cache_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=30.0)
            # WAL: readers are not blocked by a writer, and a crash never corrupts the file
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS answers ("
                " key TEXT PRIMARY KEY,"
                " source TEXT NOT NULL,"  # fingerprint id, for stats and clearing
                " answer TEXT NOT NULL)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS sources (id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL)"
            )
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise ResourceError(f"cannot open the knowledge cache {self.path}: {exc}") from None

    # -- lookups -----------------------------------------------------------------------
    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """Cached answers of ``keys`` (keys not in the cache are absent from the result)."""
        keys = list(keys)
        found: dict[str, Any] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key, answer FROM answers WHERE key IN ({marks})", chunk)
            for key, answer in rows:
                found[key] = json.loads(answer)
        return found

    def get(self, fingerprint: dict[str, Any], request: Any, default: Any = None) -> Any:
        key = cache_key(fingerprint, request)
        return self.get_many([key]).get(key, default)

    # -- writes ------------------------------------------------------------------------
    def put_many(self, fingerprint: dict[str, Any], requests: list[Any], answers: list[Any]) -> None:
        """Store one batch of answers and commit it (so an interrupted run keeps it)."""
        if len(requests) != len(answers):
            raise ValueError(f"{len(answers)} answers for {len(requests)} requests")
        source_id = _fingerprint_id(fingerprint)
        rows = [
            (cache_key(fingerprint, request), source_id, _canonical_json(answer))
            for request, answer in zip(requests, answers)
        ]
        with self._db:  # one transaction per batch
            self._db.execute(
                "INSERT OR IGNORE INTO sources (id, fingerprint) VALUES (?, ?)",
                (source_id, _canonical_json(fingerprint)),
            )
            self._db.executemany("INSERT OR REPLACE INTO answers (key, source, answer) VALUES (?, ?, ?)", rows)

    def put(self, fingerprint: dict[str, Any], request: Any, answer: Any) -> None:
        self.put_many(fingerprint, [request], [answer])

    # -- maintenance -------------------------------------------------------------------
    def count(self, fingerprint: Optional[dict[str, Any]] = None) -> int:
        """Number of stored answers (of one source fingerprint, or all)."""
        if fingerprint is None:
            return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        row = self._db.execute("SELECT COUNT(*) FROM answers WHERE source = ?", (_fingerprint_id(fingerprint),))
        return row.fetchone()[0]

    def clear(self, fingerprint: Optional[dict[str, Any]] = None) -> int:
        """Delete the answers of one source fingerprint (or all); returns how many."""
        with self._db:
            if fingerprint is None:
                cur = self._db.execute("DELETE FROM answers")
                self._db.execute("DELETE FROM sources")
            else:
                source_id = _fingerprint_id(fingerprint)
                cur = self._db.execute("DELETE FROM answers WHERE source = ?", (source_id,))
                self._db.execute("DELETE FROM sources WHERE id = ?", (source_id,))
        return cur.rowcount

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "KnowledgeCache":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---------------------------------------------------------------------------------------
def annotate(source: Any, dataset: Any, cache: KnowledgeCache, *, progress: bool = True) -> Any:
    """Add column ``source.field`` to ``dataset`` with ``source``'s knowledge per sample.

    Requests shared by several samples are computed once. Only requests missing from
    ``cache`` reach ``source.compute``, in batches of ``source.batch_size``; each batch is
    committed to the cache before the next starts, so rerunning after an interruption
    computes only what is left. The source is not closed here: the caller closes it after
    its last split (``source.close()``).

    :param source: a :class:`~edg.interfaces.knowledge.KnowledgeSource`.
    :param dataset: a ``datasets.Dataset`` of samples (columns id, conv_id, turn, context,
        roles, target, emotion, emotion_id, situation).
    :returns: the dataset with the new column (an existing column of that name is replaced).
    """
    from tqdm.auto import tqdm

    name = source.registered_name or type(source).__name__
    fingerprint = source.fingerprint()

    # 1. every sample's requests, and the distinct requests by cache key
    per_sample: list[tuple[list[Any], list[str]]] = []
    distinct: dict[str, Any] = {}
    for sample in dataset:
        requests = list(source.requests(sample))
        keys = [cache_key(fingerprint, request) for request in requests]
        for key, request in zip(keys, requests):
            distinct.setdefault(key, request)
        per_sample.append((requests, keys))

    # 2. what the cache already knows
    answers = cache.get_many(distinct)
    missing = [key for key in distinct if key not in answers]
    logger.info(
        "knowledge source '%s': %d requests (%d distinct), %d cached, %d to compute",
        name,
        sum(len(keys) for _, keys in per_sample),
        len(distinct),
        len(distinct) - len(missing),
        len(missing),
    )

    # 3. compute the rest, one committed batch at a time
    batch_size = max(1, int(getattr(source, "batch_size", 32)))
    started = time.perf_counter()
    with tqdm(
        total=len(missing),
        desc=f"knowledge {name}",
        unit="item",
        disable=not progress or not missing,
        dynamic_ncols=True,
    ) as bar:
        for start in range(0, len(missing), batch_size):
            batch_keys = missing[start : start + batch_size]
            batch_requests = [distinct[key] for key in batch_keys]
            batch_answers = list(source.compute(batch_requests))
            if len(batch_answers) != len(batch_requests):
                raise PluginError(
                    f"knowledge source '{name}' returned {len(batch_answers)} answers "
                    f"for {len(batch_requests)} requests"
                )
            cache.put_many(fingerprint, batch_requests, batch_answers)
            # round-trip through JSON so fresh and cached answers are identical values
            for key, answer in zip(batch_keys, batch_answers):
                answers[key] = json.loads(_canonical_json(answer))
            bar.update(len(batch_keys))
    if missing:
        elapsed = time.perf_counter() - started
        logger.info(
            "knowledge source '%s': computed %d items in %.1f s (%.1f items/s)",
            name,
            len(missing),
            elapsed,
            len(missing) / max(elapsed, 1e-9),
        )

    # 4. attach the answers to every sample
    values = []
    for sample, (requests, keys) in zip(dataset, per_sample):
        values.append(source.attach(sample, requests, [answers[key] for key in keys]))
    if source.field in dataset.column_names:
        dataset = dataset.remove_columns(source.field)
    return dataset.add_column(source.field, values)
