"""Sentence-level diversity from NEC: ``sent-std`` and ``top5`` over clauses."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

DEFINITIONS = {
    "sent-std": (
        "NEC Sent-Std: population std of the counts of each distinct clause over all responses "
        "(lowercased, split at , . ? !, stripped, empty clauses dropped)"
    ),
    "top5": "NEC Table 3: share (%) of all clauses (as for sent-std) that are one of the 5 most frequent clauses",
}

_CLAUSE_SPLIT = re.compile(r"[,.?!]")


def split_clauses(text: str) -> list[str]:
    """Lowercase ``text``, split it at ``,`` ``.`` ``?`` ``!``, strip each piece, drop empty ones.

    Whitespace inside a clause is kept as written (only the ends are stripped).
    """
    return [c for c in (p.strip() for p in _CLAUSE_SPLIT.split(text.lower())) if c]


def clause_counts(hyps: Sequence[str]) -> Counter:
    """Count of every distinct clause (see :func:`split_clauses`) over all responses."""
    counts: Counter = Counter()
    for h in hyps:
        counts.update(split_clauses(h))
    return counts


def _pstd(values) -> float:
    values = list(values)
    if not values:
        return 0.0
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))


def sent_std_counts(counts: Counter) -> float:
    """:func:`sent_std` from precomputed clause counts."""
    return _pstd(counts.values())


def top5_counts(counts: Counter) -> float:
    """:func:`top5` from precomputed clause counts."""
    total = sum(counts.values())
    if not total:
        return 0.0
    return 100.0 * sum(c for _, c in counts.most_common(5)) / total


def sent_std(hyps: Sequence[str]) -> float:
    """NEC's sentence-level diversity ``Sent-Std`` (``sent-std``), lower is more diverse.

    Definition: lowercase each response, split it into clauses at ``,`` ``.`` ``?`` ``!``, strip
    each clause and drop empty ones; count how often each distinct clause occurs over all
    responses; the result is the *population* standard deviation (divide by the number of
    distinct clauses N) of those N counts: ``sqrt(1/N * sum_i (count(s_i) - mu)^2)``.
    No clause at all gives ``0.0``.
    """
    return sent_std_counts(clause_counts(hyps))


def top5(hyps: Sequence[str]) -> float:
    """NEC Table 3's proportion of the five most frequent clauses (``top5``), in %.

    Definition: clauses exactly as for :func:`sent_std`; the result is
    ``100 * (sum of the counts of the 5 most frequent distinct clauses) / (total number of clauses)``
    (ties at the fifth place do not change the sum). No clause at all gives ``0.0``.
    """
    return top5_counts(clause_counts(hyps))
