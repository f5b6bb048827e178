"""Distinct-n: corpus-level (``dist-n``) and per-sentence average (``dist-n-sent``)."""

from __future__ import annotations

from collections.abc import Sequence

DEFINITIONS = {
    "dist-1": "corpus-level Distinct-1: distinct unigrams over all responses / total unigrams, x100",
    "dist-2": "corpus-level Distinct-2: distinct bigrams over all responses / total bigrams, x100",
    "dist-1-sent": "per-sentence Distinct-1: mean over responses of distinct/total unigrams, x100",
    "dist-2-sent": "per-sentence Distinct-2: mean over responses of distinct/total bigrams, x100",
}


def tokenize(text: str) -> list[str]:
    """The evaluator's tokenization: lowercase, then split on whitespace (``str.split()``)."""
    return text.lower().split()


def _ngrams(tokens: list[str], n: int):
    if n == 1:
        return tokens
    return zip(*[tokens[i:] for i in range(n)])


def _check_n(n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"distinct: n must be a positive integer, got {n!r}")


def distinct_tokens(tokenized: Sequence[list[str]], n: int) -> float:
    """:func:`distinct` on already tokenized responses."""
    _check_n(n)
    seen: set = set()
    total = 0
    for toks in tokenized:
        k = len(toks) - n + 1
        if k <= 0:
            continue
        total += k
        seen.update(_ngrams(toks, n))
    return 100.0 * len(seen) / total if total else 0.0


def distinct_sent_tokens(tokenized: Sequence[list[str]], n: int) -> float:
    """:func:`distinct_sent` on already tokenized responses."""
    _check_n(n)
    if not tokenized:
        return 0.0
    acc = 0.0
    for toks in tokenized:
        k = len(toks) - n + 1
        if k > 0:
            acc += len(set(_ngrams(toks, n))) / k
    return 100.0 * acc / len(tokenized)


def distinct(hyps: Sequence[str], n: int) -> float:
    """Corpus-level Distinct-n (``dist-n``), x100.

    Definition: lowercase each response and split it on whitespace; collect the n-grams of every
    response (n-grams never cross response boundaries); the result is
    ``100 * (number of distinct n-grams over all responses) / (total number of n-grams)``.
    Responses shorter than ``n`` contribute no n-grams; zero n-grams in total gives ``0.0``.
    """
    return distinct_tokens([tokenize(h) for h in hyps], n)


def distinct_sent(hyps: Sequence[str], n: int) -> float:
    """Per-sentence average Distinct-n (``dist-n-sent``), x100.

    Definition: for every response (lowercased, whitespace split), ``distinct n-grams / n-grams``
    of that response alone; a response with zero n-grams (shorter than ``n``, or empty) scores
    ``0.0`` and still counts; the result is ``100 *`` the mean over all responses.
    An empty list gives ``0.0``.
    """
    return distinct_sent_tokens([tokenize(h) for h in hyps], n)
