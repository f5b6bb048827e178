"""Corpus BLEU-1..4 with NLTK."""

from __future__ import annotations

from collections.abc import Sequence

from edg.errors import DataError
from edg.metrics.distinct import tokenize

DEFINITIONS = {
    f"bleu-{n}": (
        f"nltk corpus_bleu over all (hypothesis, reference) pairs, "
        + ("unigram precision only" if n == 1 else f"cumulative uniform weights 1/{n} for n-gram orders 1..{n}")
        + ", SmoothingFunction().method1, lowercased + whitespace split, x100"
    )
    for n in range(1, 5)
}

#: cumulative uniform weights for BLEU-1 .. BLEU-4
BLEU_WEIGHTS = tuple(tuple([1.0 / n] * n) for n in range(1, 5))


def bleu_tokens(hyp_tokens: Sequence[list[str]], ref_tokens: Sequence[list[str]]) -> dict[str, float]:
    """:func:`bleu` on already tokenized hypotheses and references."""
    if len(hyp_tokens) != len(ref_tokens):
        raise DataError(
            f"bleu: {len(hyp_tokens)} hypotheses but {len(ref_tokens)} references; the counts must match"
        )
    if not hyp_tokens:
        raise DataError("bleu: no hypotheses to score")
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    scores = corpus_bleu(
        [[r] for r in ref_tokens],
        list(hyp_tokens),
        weights=list(BLEU_WEIGHTS),
        smoothing_function=SmoothingFunction().method1,
    )
    return {f"bleu-{n}": 100.0 * float(s) for n, s in zip(range(1, 5), scores)}


def bleu(hyps: Sequence[str], refs: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU-1..4 (``bleu-1`` .. ``bleu-4``), x100.

    Definition: lowercase and whitespace-split every hypothesis and its single reference, then
    ``nltk.translate.bleu_score.corpus_bleu`` over all pairs with cumulative uniform weights
    (BLEU-n uses weight ``1/n`` for each order 1..n) and ``SmoothingFunction().method1``
    (epsilon 0.1 added to the numerator of any corpus-level n-gram precision that is zero).
    Modified precisions are pooled over the corpus (clipped matches / hypothesis n-grams, where
    NLTK counts a denominator of at least 1 for every hypothesis, even one shorter than n), the
    brevity penalty uses the total hypothesis and reference lengths. No unigram match at all
    gives 0 for every order. Returns ``{"bleu-1": .., "bleu-2": .., "bleu-3": .., "bleu-4": ..}``.
    """
    return bleu_tokens([tokenize(h) for h in hyps], [tokenize(r) for r in refs])
