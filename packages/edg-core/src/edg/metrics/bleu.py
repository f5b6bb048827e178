"""Corpus BLEU-1..4, exactly as ``nltk.translate.bleu_score.corpus_bleu`` with method1 smoothing.

The arithmetic of NLTK's ``corpus_bleu`` (with one reference per hypothesis, cumulative uniform
weights and ``SmoothingFunction().method1``) is reproduced here step by step, because importing
``nltk`` costs several seconds (it imports scipy), longer than scoring a whole test set.
``tests/test_metrics.py`` checks that both give the same numbers on random corpora;
``bleu(..., impl="nltk")`` calls NLTK itself.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from edg.errors import DataError
from edg.metrics.distinct import tokenize

DEFINITIONS = {
    f"bleu-{n}": (
        "nltk corpus_bleu over all (hypothesis, reference) pairs, "
        + ("unigram precision only" if n == 1 else f"cumulative uniform weights 1/{n} for n-gram orders 1..{n}")
        + ", SmoothingFunction().method1, lowercased + whitespace split, x100"
    )
    for n in range(1, 5)
}

#: cumulative uniform weights for BLEU-1 .. BLEU-4 (as NLTK gets them: ``(1/n,) * n``)
BLEU_WEIGHTS = tuple(tuple([1.0 / n] * n) for n in range(1, 5))
#: NLTK's SmoothingFunction default epsilon (method1)
EPSILON = 0.1


def ngram_counts(tokens: Sequence[str], n: int) -> Counter:
    """The n-grams of ``tokens`` (unigrams as tokens, longer ones as tuples) with their counts."""
    if n == 1:
        return Counter(tokens)
    return Counter(zip(*[tokens[k:] for k in range(n)]))


def brevity_penalty(hyp_len: float, ref_len: float) -> float:
    """``nltk.translate.bleu_score.brevity_penalty``: 1 if c > r, 0 if c = 0, else exp(1 - r/c)."""
    if hyp_len > ref_len:
        return 1.0
    if hyp_len == 0:
        return 0.0
    return math.exp(1 - ref_len / hyp_len)


def smoothed_bleu(matches: Sequence[float], dens: Sequence[float], hyp_len: float, ref_len: float,
                  weights: Sequence[float]) -> float:
    """NLTK corpus BLEU (not x100) from summed clipped matches and denominators per order, with
    ``SmoothingFunction().method1``: a zero precision becomes ``EPSILON / denominator``; no
    unigram match at all gives 0."""
    if matches[0] == 0:
        return 0.0
    p = [(matches[i] / dens[i]) if matches[i] else (EPSILON / dens[i]) for i in range(len(weights))]
    return brevity_penalty(hyp_len, ref_len) * math.exp(
        math.fsum(w * math.log(p_i) for w, p_i in zip(weights, p) if p_i > 0))


def _check(hyp_tokens, ref_tokens) -> None:
    if len(hyp_tokens) != len(ref_tokens):
        raise DataError(
            f"bleu: {len(hyp_tokens)} hypotheses but {len(ref_tokens)} references; the counts must match"
        )
    if not hyp_tokens:
        raise DataError("bleu: no hypotheses to score")


def _nltk_bleu_tokens(hyp_tokens, ref_tokens) -> dict[str, float]:
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    scores = corpus_bleu(
        [[r] for r in ref_tokens],
        list(hyp_tokens),
        weights=list(BLEU_WEIGHTS),
        smoothing_function=SmoothingFunction().method1,
    )
    return {f"bleu-{n}": 100.0 * float(s) for n, s in zip(range(1, 5), scores)}


def bleu_tokens(
    hyp_tokens: Sequence[list[str]], ref_tokens: Sequence[list[str]], *, impl: str = "edg"
) -> dict[str, float]:
    """:func:`bleu` on already tokenized hypotheses and references."""
    _check(hyp_tokens, ref_tokens)
    if impl == "nltk":
        return _nltk_bleu_tokens(hyp_tokens, ref_tokens)
    if impl != "edg":
        raise ValueError(f"bleu: impl must be 'edg' or 'nltk', got {impl!r}")
    num = [0, 0, 0, 0]
    den = [0, 0, 0, 0]
    hyp_len = ref_len = 0
    for hyp, ref in zip(hyp_tokens, ref_tokens):
        lh, lr = len(hyp), len(ref)
        hyp_len += lh
        ref_len += lr
        for i in range(4):
            n = i + 1
            if lh >= n:
                if lr >= n:
                    hc, rc = ngram_counts(hyp, n), ngram_counts(ref, n)
                    get = rc.get
                    # clipped matches: sum over hypothesis n-grams of min(count, count in reference)
                    num[i] += sum(c if c <= (m := get(g, 0)) else m for g, c in hc.items())
                den[i] += lh - n + 1
            else:
                den[i] += 1  # NLTK: denominator = max(1, number of hypothesis n-grams)
    return {f"bleu-{n}": 100.0 * smoothed_bleu(num, den, hyp_len, ref_len, weights)
            for n, weights in zip(range(1, 5), BLEU_WEIGHTS)}


def bleu(hyps: Sequence[str], refs: Sequence[str], *, impl: str = "edg") -> dict[str, float]:
    """Corpus BLEU-1..4 (``bleu-1`` .. ``bleu-4``), x100.

    Definition: lowercase and whitespace-split every hypothesis and its single reference, then
    ``nltk.translate.bleu_score.corpus_bleu`` over all pairs with cumulative uniform weights
    (BLEU-n uses weight ``1/n`` for each order 1..n) and ``SmoothingFunction().method1``.
    In detail: for each order n, the corpus precision p_n = (sum over pairs of clipped n-gram
    matches) / (sum over pairs of max(1, number of hypothesis n-grams)) -- NLTK counts a
    denominator of 1 even for a hypothesis shorter than n; a p_n with zero matches becomes
    0.1 / denominator (method1); if there is no unigram match at all every score is 0. Brevity
    penalty BP = 1 if c > r, 0 if c = 0, else exp(1 - r/c) with c, r the total hypothesis and
    reference lengths. BLEU-n = BP * exp(sum_{k=1..n} (1/n) log p_k), x100.

    ``impl="edg"`` (default) computes this in pure Python, identical to NLTK (tested);
    ``impl="nltk"`` calls NLTK (slow to import). Returns
    ``{"bleu-1": .., "bleu-2": .., "bleu-3": .., "bleu-4": ..}``.
    """
    return bleu_tokens([tokenize(h) for h in hyps], [tokenize(r) for r in refs], impl=impl)
