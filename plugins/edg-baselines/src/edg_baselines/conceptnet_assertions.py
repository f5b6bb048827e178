"""ConceptNet's assertions file, read into a word -> neighbouring concepts table.

The layout is ConceptNet 5's CSV dump (``conceptnet-assertions-5.7.0.csv.gz``, from
https://github.com/commonsense/conceptnet5/wiki/Downloads): one assertion per line, five
tab-separated fields::

    /a/[/r/RelatedTo/,/c/en/dog/,/c/en/pet/]  /r/RelatedTo  /c/en/dog  /c/en/pet/n  {"dataset": ..., "weight": 2.0}

(edge URI, relation URI, start concept URI ``/c/<language>/<term>[/<pos>/...]``, end
concept URI, JSON info with the confidence ``weight``). A ``.gz`` file is read as gzip.

KEMP keeps English edges between two single-word terms with ``weight >= 1.0`` and drops a
list of relations; each edge is read in both directions (the authors' preprocessing adds
``c1 -> c2`` and ``c2 -> c1``). The real file has 34 M lines: pass ``words`` to keep only
the neighbours of the words that are needed, and the JSON info is parsed only for edges
that pass the cheaper filters.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Iterable, Optional, TextIO

from edg.errors import DataError, ResourceError

CONCEPTNET_URL = "https://github.com/commonsense/conceptnet5/wiki/Downloads"
#: (concept, relation, weight), one per neighbour
Neighbour = tuple[str, str, float]


def missing_conceptnet_error(path: str | os.PathLike | None, key: str) -> ResourceError:
    where = f"ConceptNet assertions file not found: {path}" if path else "no ConceptNet assertions file configured"
    return ResourceError(
        f"{where}; edg does not ship ConceptNet: download conceptnet-assertions-5.7.0.csv.gz from {CONCEPTNET_URL} "
        f"and set {key} to it (smoke runs: handmade_conceptnet: true uses edg-baselines' small hand-made graph)"
    )


def _open(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _term(uri: str, path: Path, lineno: int) -> Optional[tuple[str, str]]:
    """``(language, term)`` of a concept URI ``/c/<language>/<term>[/...]``; ``None`` for an
    external URL (the end of ConceptNet's ``/r/ExternalURL`` edges)."""
    if uri.startswith(("http://", "https://")):
        return None
    parts = uri.split("/")
    if len(parts) < 4 or parts[1] != "c" or not parts[2] or not parts[3]:
        raise DataError(f"{path}:{lineno}: expected a concept URI /c/<language>/<term>, got {uri[:60]!r}")
    return parts[2], parts[3]


def _relation(uri: str, path: Path, lineno: int) -> str:
    parts = uri.split("/")
    if len(parts) < 3 or parts[1] != "r" or not parts[2]:
        raise DataError(f"{path}:{lineno}: expected a relation URI /r/<Name>, got {uri[:60]!r}")
    return parts[2]  # /r/dbpedia/genre -> dbpedia, as the authors' preprocessing reads it


def _weight(info: str, path: Path, lineno: int) -> float:
    try:
        value = json.loads(info)
    except json.JSONDecodeError:
        raise DataError(f"{path}:{lineno}: the fifth field (edge info) is not JSON: {info[:60]!r}") from None
    weight = value.get("weight") if isinstance(value, dict) else None
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise DataError(f"{path}:{lineno}: the edge info has no numeric 'weight': {info[:60]!r}")
    return float(weight)


def read_conceptnet_neighbours(path: str | os.PathLike, *, words: Optional[Iterable[str]] = None,
                               min_weight: float = 1.0, removed_relations: Iterable[str] = (),
                               language: str = "en", key: str = "conceptnet_path") -> dict[str, list[Neighbour]]:
    """``{word: [(concept, relation, weight), ...]}`` from a ConceptNet assertions file.

    Kept: edges whose two ends are ``language`` terms made of letters only (no multi-word
    ``_`` terms), different from each other, with ``weight >= min_weight`` and a relation
    not in ``removed_relations``; each in both directions. With ``words``, only those words'
    entries are kept. Neighbours are in file order; a concept reached by several edges keeps
    the last one (as the authors' dictionary does).

    :raises ResourceError: the file does not exist (the message says where to get it).
    :raises DataError: a malformed line, as ``file:line: what``.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise missing_conceptnet_error(file, key)
    wanted = None if words is None else set(words)
    removed = set(removed_relations)
    table: dict[str, dict[str, tuple[str, float]]] = {}
    with _open(file) as handle:
        for lineno, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 5:
                raise DataError(f"{file}:{lineno}: expected 5 tab-separated fields (edge URI, relation, start, end, "
                                f"JSON info), got {len(fields)}: {line[:60]!r}")
            _uri, relation_uri, start, end, info = fields
            relation = _relation(relation_uri, file, lineno)
            start_term, end_term = _term(start, file, lineno), _term(end, file, lineno)
            if start_term is None or end_term is None:  # an external URL, not a concept
                continue
            (start_lang, head), (end_lang, tail) = start_term, end_term
            # the cheap filters first: most of the 34 M lines are other languages
            if start_lang != language or end_lang != language or relation in removed:
                continue
            if head == tail or not head.isalpha() or not tail.isalpha():
                continue
            if wanted is not None and head not in wanted and tail not in wanted:
                continue
            weight = _weight(info, file, lineno)
            if weight < min_weight:
                continue
            if wanted is None or head in wanted:
                table.setdefault(head, {})[tail] = (relation, weight)
            if wanted is None or tail in wanted:
                table.setdefault(tail, {})[head] = (relation, weight)
    return {word: [(concept, rel, w) for concept, (rel, w) in neighbours.items()] for word, neighbours in table.items()}
