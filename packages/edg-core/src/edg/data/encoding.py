"""Tokenize once: a system's :meth:`~edg.interfaces.system.System.encode` applied to every
split before training, cached on disk, so that ``collate`` only pads.

The cache key is made of the split's ``datasets`` fingerprint (its files, limits and
knowledge columns), a fingerprint of the tokenizer (its full serialisation), the system's
name and the system's :meth:`~edg.interfaces.system.System.encoding_fingerprint` (e.g.
the truncation lengths). A second run with the same data and tokenizer reads the
encoded table back instead of tokenizing again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Optional

ENCODING_VERSION = 1


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hash of everything that decides the token ids: the fast tokenizer's full JSON
    (vocabulary, normaliser, pre-tokeniser) or, for a slow one, its vocabulary."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        text = backend.to_str()
    else:
        text = json.dumps(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_splits(system: Any, splits: dict[str, Any], *, cache_dir: Optional[Path] = None,
                  progress: bool = True) -> dict[str, Any]:
    """Each split with the columns ``system.encode`` adds (unchanged when it adds none)."""
    if type(system).encode is _base_encode():
        return splits
    out = {}
    for split, dataset in splits.items():
        out[split] = encode_dataset(system, dataset, cache_dir=cache_dir, progress=progress, desc=f"encode {split}")
    return out


def encode_dataset(system: Any, dataset: Any, *, cache_dir: Optional[Path] = None, progress: bool = True,
                   desc: str = "encode") -> Any:
    import datasets

    key = hashlib.sha256(json.dumps({
        "version": ENCODING_VERSION,
        "data": dataset._fingerprint,
        "tokenizer": tokenizer_fingerprint(system.tokenizer),
        "system": system.registered_name or type(system).__qualname__,
        "encoding": system.encoding_fingerprint(),
    }, sort_keys=True, default=str).encode()).hexdigest()[:32]
    kwargs: dict[str, Any] = {"batched": True, "batch_size": 1000, "new_fingerprint": key, "desc": desc}
    if cache_dir is not None and len(dataset) > 0:
        path = Path(cache_dir) / "encoded"
        path.mkdir(parents=True, exist_ok=True)
        kwargs.update(cache_file_name=str(path / f"{key}.arrow"), load_from_cache_file=True)
    else:
        kwargs["keep_in_memory"] = True
    was_enabled = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        return dataset.map(system.encode, **kwargs)
    finally:
        if was_enabled and not progress:
            datasets.enable_progress_bars()


def length_keys(system: Any, dataset: Any) -> Optional[list[tuple[int, ...]]]:
    """One sort key per sample, the lengths of ``system.length_columns`` (read from the
    Arrow table without materialising rows); ``None`` when the dataset lacks them."""
    import pyarrow.compute as pc

    columns = [c for c in system.length_columns if c in dataset.column_names]
    if not columns or len(columns) != len(system.length_columns):
        return None
    table = dataset.with_format("arrow")[:] if len(dataset) else None
    if table is None:
        return []
    per_column = [pc.list_value_length(table.column(c)).to_pylist() for c in columns]
    return list(zip(*per_column))


def _base_encode():
    from edg.interfaces.system import System

    return System.encode
