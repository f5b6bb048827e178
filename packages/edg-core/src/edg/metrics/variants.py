"""Named metric variants: the other definitions of BLEU, Distinct-n and perplexity that EDG
repositories published, each computed exactly, so that a published figure can be recomputed
with the definition its authors used and compared with edg's one evaluator.

edg's default metrics (:mod:`edg.metrics`) do not change; a variant is asked for by name
(``edg score FILE --variant NAME``, ``eval.variants: [NAME, ...]`` in a run's config) and gives
its metrics under the keys ``<variant>:<metric>`` (``bleu-corpus-nosmooth:bleu-4``).
:data:`VARIANTS` holds each variant's exact one-line definition and the repositories that use it
(``docs/metrics.md`` prints the same table). Text is lowercased and split on whitespace, as by
the evaluator, unless a definition says otherwise; the released files are lowercased already.

Public API (stable; other tools build on it)::

    score_variants(records, names) -> dict[str, float]   # records as read_outputs gives them
    check_variants(names, key) -> list[str]              # validate names (ConfigError naming key)
    VARIANTS: dict[str, Variant]                         # name -> keys, definition, used_by

Every BLEU variant is computed from one pass of n-gram counting per (hypothesis, reference)
pair, shared by all variants, so that every variant on a whole test split takes about a second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from edg.errors import ConfigError, DataError
from edg.metrics.bleu import brevity_penalty, ngram_counts, smoothed_bleu
from edg.metrics.distinct import distinct_sent_tokens, distinct_tokens, tokenize

_BLEU = ("bleu-1", "bleu-2", "bleu-3", "bleu-4")


@dataclass(frozen=True)
class Variant:
    """A named metric definition."""

    name: str
    keys: tuple[str, ...]
    """the metrics it gives (reported as ``<name>:<key>``)"""
    definition: str
    """exact one-line definition"""
    used_by: str
    """repositories whose published figures use it"""
    needs_nll: bool = False
    """needs each record's ``nll`` and ``tokens``"""
    optional_package: str | None = None


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("bleu-corpus-method1", _BLEU,
            "edg's default bleu-n: NLTK corpus_bleu over all pairs, cumulative uniform weights 1/n for orders 1..n, "
            "SmoothingFunction().method1 (a zero count becomes 0.1/denominator; denominators max(1, hypothesis "
            "n-grams) per pair), BP exp(1 - r/c) if c <= r, x100",
            "edg (default)"),
    Variant("bleu-corpus-nosmooth", _BLEU,
            "unsmoothed corpus BLEU-n: p_k = sum of clipped k-gram matches / sum of hypothesis k-grams (a pair "
            "shorter than k adds 0) for k = 1..n; 0 if any p_k is 0; BP = 1 if c > r else exp(1 - r/c) "
            "(c, r total hypothesis/reference tokens); BLEU-n = BP * exp(sum_k log(p_k) / n), x100",
            "MoEL, MIME (Moses multi-bleu.perl -lc, BLEU-4); KEMP result/cal_metrics.py (TF-NMT compute_bleu, "
            "BLEU-1/2/4)"),
    Variant("bleu-corpus-individual-method1", _BLEU,
            "individual-order corpus BLEU-n: NLTK corpus_bleu with weights 1 for order n and 0 for the others, "
            "SmoothingFunction().method1, i.e. BP * p_n (method1-smoothed; 0 if no unigram matches), x100",
            "NLTK's individual n-gram weights, e.g. (0, 1, 0, 0); none of the EDG repositories read for edg"),
    Variant("bleu-sentavg-method1", _BLEU,
            "mean over pairs of NLTK sentence_bleu (cumulative uniform weights 1/n, SmoothingFunction().method1), "
            "each pair's BP exp(1 - r/c) with its own lengths (0 for an empty hypothesis), x100",
            "sentence-averaged NLTK BLEU (issue 17: BLEU-2 7.17 this way on MoEL's Transformer outputs, 9.21 corpus)"),
    Variant("bleu-sentavg-nosmooth", _BLEU,
            "mean over pairs of the pair's unsmoothed BLEU-n (bleu-corpus-nosmooth on that pair alone: 0 if the "
            "pair has no k-gram match for some k <= n), x100",
            "EmpDG Predictions/result_analysis.py (TF-NMT compute_bleu per pair, averaged: its 'BLEU')"),
    Variant("ngram-precision-sentavg", ("p-1", "p-2", "p-3", "p-4"),
            "mean over pairs of the pair's n-gram precision (clipped n-gram matches / hypothesis n-grams, 0 for a "
            "hypothesis shorter than n), no brevity penalty, no smoothing, x100",
            "EmpDG Predictions/result_analysis.py (printed there as BLEU-1..4)"),
    Variant("sacrebleu", ("bleu-4",),
            "sacrebleu.corpus_bleu(hypotheses, [references]) with its defaults (13a tokenizer, case-sensitive, "
            "exp smoothing) on the texts as read (not lowercased): .score",
            "the sacreBLEU standard (Post, 2018); none of the EDG repositories read for edg",
            optional_package="sacrebleu"),
    Variant("dist-corpus", ("dist-1", "dist-2"),
            "edg's default dist-n: distinct n-grams (token tuples) over all responses / all n-grams, x100",
            "edg (default); CEM src/scripts/evaluate.py (after NLTK word_tokenize)"),
    Variant("dist-sent", ("dist-1", "dist-2"),
            "edg's dist-n-sent: mean over responses of distinct n-grams / n-grams of that response (0 for a "
            "response shorter than n), x100",
            "edg (dist-n-sent); EmpDG/KEMP scripts compute it as ma_dist (not printed)"),
    Variant("dist-concat", ("dist-1", "dist-2"),
            "corpus Distinct-n with bigrams formed by string concatenation of adjacent tokens (tok_i + tok_i+1, so "
            "'ab c' and 'a bc' are one bigram): distinct / total over all responses, x100",
            "KEMP result/cal_metrics.py, EmpDG Predictions/result_analysis.py (mi_dist)"),
    Variant("ppl-token", ("ppl",),
            "edg's default ppl: exp(sum of nll / sum of tokens) over all samples",
            "edg (default)", needs_nll=True),
    Variant("ppl-sentavg", ("ppl",),
            "mean over samples of exp(nll_i / tokens_i) (the mean of per-sample perplexities; samples with no "
            "target token skipped)",
            "the per-example average of issue 17; none of the EDG repositories read for edg", needs_nll=True),
    Variant("ppl-meanloss", ("ppl",),
            "exp(mean over samples of nll_i / tokens_i) (exp of the mean per-sample token loss; samples with no "
            "target token skipped)",
            "MoEL, MIME, CEM print exp(mean of per-batch mean losses): this at batch size 1", needs_nll=True),
)}

#: the name that asks for every variant the records allow
ALL = "all"


def variant_keys(names: Iterable[str]) -> list[str]:
    """The ``<variant>:<metric>`` keys the named variants give, in order."""
    return [f"{name}:{key}" for name in names for key in VARIANTS[name].keys]


def variant_definitions(names: Iterable[str]) -> dict[str, str]:
    """``<variant>:<metric>`` -> the variant's definition (for reports)."""
    return {f"{name}:{key}": VARIANTS[name].definition for name in names for key in VARIANTS[name].keys}


def check_variants(names: str | Iterable[str] | None, key: str = "variants") -> list[str]:
    """The variant names (a list, or one comma-separated string), unknown ones refused with a
    :class:`~edg.errors.ConfigError` naming ``key``; duplicates dropped; ``all`` kept."""
    if names is None:
        return []
    if isinstance(names, str):
        names = [names]
    out: list[str] = []
    for item in names:
        if not isinstance(item, str):
            raise ConfigError(f"{key}: a variant name must be a string, got {item!r}")
        for name in (n.strip() for n in item.split(",")):
            if not name:
                continue
            if name != ALL and name not in VARIANTS:
                raise ConfigError(f"{key}: unknown metric variant {name!r}; known: {', '.join(VARIANTS)}, {ALL}")
            if name not in out:
                out.append(name)
    return out


def _has_package(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def resolve_variants(names: str | Iterable[str] | None, *, has_nll: bool, key: str = "variants") -> list[str]:
    """:func:`check_variants`, with ``all`` expanded to every variant the records allow (the
    ``ppl-*`` ones only with ``nll``/``tokens``, ``sacrebleu`` only when installed)."""
    out: list[str] = []
    for name in check_variants(names, key):
        if name == ALL:
            expanded = [n for n, v in VARIANTS.items()
                        if (has_nll or not v.needs_nll) and (v.optional_package is None or _has_package(v.optional_package))]
        else:
            expanded = [name]
        out.extend(n for n in expanded if n not in out)
    return out


class _Texts:
    """The records' texts, tokens and per-pair n-gram matches, computed once for all variants."""

    def __init__(self, hyps: list[str], refs: list[str]):
        self.hyps, self.refs = hyps, refs

    @cached_property
    def hyp_tok(self) -> list[list[str]]:
        return [tokenize(h) for h in self.hyps]

    @cached_property
    def ref_tok(self) -> list[list[str]]:
        return [tokenize(r) for r in self.refs]

    @cached_property
    def pairs(self) -> list[tuple[int, int, tuple[int, int, int, int]]]:
        """Per pair: hypothesis length, reference length, clipped matches of orders 1..4."""
        out = []
        for hyp, ref in zip(self.hyp_tok, self.ref_tok):
            lh, lr = len(hyp), len(ref)
            matches = [0, 0, 0, 0]
            for i in range(min(4, lh, lr)):
                n = i + 1
                hc, rc = ngram_counts(hyp, n), ngram_counts(ref, n)
                get = rc.get
                matches[i] = sum(c if c <= (m := get(g, 0)) else m for g, c in hc.items())
                if not matches[i]:
                    break  # no k-gram match means no longer match either
            out.append((lh, lr, tuple(matches)))
        return out


def _plain_bleu(matches: Sequence[int], totals: Sequence[int], c: int, r: int, order: int) -> float:
    """Unsmoothed cumulative BLEU-``order`` (multi-bleu.perl / TF-NMT compute_bleu)."""
    p = [(matches[i] / totals[i]) if totals[i] > 0 else 0.0 for i in range(order)]
    if min(p) <= 0:
        return 0.0
    return brevity_penalty(c, r) * math.exp(sum((1.0 / order) * math.log(p_i) for p_i in p))


_CUMULATIVE = [tuple([1.0 / n] * n) for n in range(1, 5)]
_INDIVIDUAL = [tuple([0.0] * (n - 1) + [1.0]) for n in range(1, 5)]


def _corpus_sums(texts: _Texts):
    m, nltk_den, tf_den = [0] * 4, [0] * 4, [0] * 4
    c = r = 0
    for lh, lr, matches in texts.pairs:
        c += lh
        r += lr
        for i in range(4):
            m[i] += matches[i]
            k = lh - i
            nltk_den[i] += k if k > 0 else 1
            tf_den[i] += k if k > 0 else 0
    return m, nltk_den, tf_den, c, r


def _bleu_corpus_method1(texts: _Texts, records) -> list[float]:
    m, den, _, c, r = _corpus_sums(texts)
    return [100.0 * smoothed_bleu(m, den, c, r, w) for w in _CUMULATIVE]


def _bleu_corpus_nosmooth(texts: _Texts, records) -> list[float]:
    m, _, tot, c, r = _corpus_sums(texts)
    return [100.0 * _plain_bleu(m, tot, c, r, n) for n in range(1, 5)]


def _bleu_corpus_individual(texts: _Texts, records) -> list[float]:
    m, den, _, c, r = _corpus_sums(texts)
    return [100.0 * smoothed_bleu(m, den, c, r, w) for w in _INDIVIDUAL]


def _sentavg(texts: _Texts, per_pair) -> list[float]:
    sums = [0.0, 0.0, 0.0, 0.0]
    pairs = texts.pairs
    for lh, lr, matches in pairs:
        for i, value in enumerate(per_pair(lh, lr, matches)):
            sums[i] += value
    return [100.0 * s / len(pairs) for s in sums] if pairs else [0.0] * 4


def _bleu_sentavg_method1(texts: _Texts, records) -> list[float]:
    def one(lh, lr, matches):
        dens = [max(1, lh - i) for i in range(4)]
        return [smoothed_bleu(matches, dens, lh, lr, w) for w in _CUMULATIVE]
    return _sentavg(texts, one)


def _bleu_sentavg_nosmooth(texts: _Texts, records) -> list[float]:
    def one(lh, lr, matches):
        tots = [max(0, lh - i) for i in range(4)]
        return [_plain_bleu(matches, tots, lh, lr, n) for n in range(1, 5)]
    return _sentavg(texts, one)


def _precision_sentavg(texts: _Texts, records) -> list[float]:
    def one(lh, lr, matches):
        return [matches[i] / (lh - i) if lh - i > 0 else 0.0 for i in range(4)]
    return _sentavg(texts, one)


def _sacrebleu(texts: _Texts, records) -> list[float]:
    try:
        from sacrebleu.metrics import BLEU
    except ImportError:  # pragma: no cover - a dependency of edg-core
        raise ConfigError("variant 'sacrebleu' needs the sacrebleu package (pip install sacrebleu)") from None
    # force: no warning that the texts look tokenized (they are, in every EDG release); the score is the same
    return [float(BLEU(force=True).corpus_score(texts.hyps, [texts.refs]).score)]


def _dist_corpus(texts: _Texts, records) -> list[float]:
    return [distinct_tokens(texts.hyp_tok, 1), distinct_tokens(texts.hyp_tok, 2)]


def _dist_sent(texts: _Texts, records) -> list[float]:
    return [distinct_sent_tokens(texts.hyp_tok, 1), distinct_sent_tokens(texts.hyp_tok, 2)]


def _dist_concat(texts: _Texts, records) -> list[float]:
    unigrams: set[str] = set()
    bigrams: set[str] = set()
    n_uni = n_bi = 0
    for toks in texts.hyp_tok:
        unigrams.update(toks)
        n_uni += len(toks)
        if len(toks) > 1:
            bigrams.update(a + b for a, b in zip(toks, toks[1:]))
            n_bi += len(toks) - 1
    return [100.0 * len(unigrams) / n_uni if n_uni else 0.0, 100.0 * len(bigrams) / n_bi if n_bi else 0.0]


def _losses(records) -> list[tuple[float, int]]:
    """(nll, tokens) of every record with at least one target token (a sample without one has
    no per-sample perplexity; it adds nothing to ppl-token either)."""
    out = []
    for i, rec in enumerate(records):
        nll, tokens = rec.get("nll"), rec.get("tokens")
        if nll is None or tokens is None:
            raise DataError(f"record {i}: the ppl variants need 'nll' and 'tokens' on every sample")
        if tokens > 0:
            out.append((float(nll), int(tokens)))
    if not out:
        raise DataError("no sample has a target token; the ppl variants need at least one")
    return out


def _ppl_token(texts: _Texts, records) -> list[float]:
    from edg.metrics.ppl import perplexity

    losses = _losses(records)
    return [perplexity(math.fsum(n for n, _ in losses), sum(t for _, t in losses))]


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _ppl_sentavg(texts: _Texts, records) -> list[float]:
    losses = _losses(records)
    return [math.fsum(_exp(n / t) for n, t in losses) / len(losses)]


def _ppl_meanloss(texts: _Texts, records) -> list[float]:
    losses = _losses(records)
    return [_exp(math.fsum(n / t for n, t in losses) / len(losses))]


_COMPUTE = {
    "bleu-corpus-method1": _bleu_corpus_method1,
    "bleu-corpus-nosmooth": _bleu_corpus_nosmooth,
    "bleu-corpus-individual-method1": _bleu_corpus_individual,
    "bleu-sentavg-method1": _bleu_sentavg_method1,
    "bleu-sentavg-nosmooth": _bleu_sentavg_nosmooth,
    "ngram-precision-sentavg": _precision_sentavg,
    "sacrebleu": _sacrebleu,
    "dist-corpus": _dist_corpus,
    "dist-sent": _dist_sent,
    "dist-concat": _dist_concat,
    "ppl-token": _ppl_token,
    "ppl-sentavg": _ppl_sentavg,
    "ppl-meanloss": _ppl_meanloss,
}
assert set(_COMPUTE) == set(VARIANTS)


def score_variants(records: Sequence[dict], names: str | Iterable[str]) -> dict[str, float]:
    """The named variants (see :data:`VARIANTS`; ``all`` for every one the records allow) on
    ``records`` -> ``{"<variant>:<metric>": value}``, in the order of ``names``.

    ``records``: dicts with ``hypothesis`` and ``reference`` strings (what
    :func:`edg.metrics.released_formats.read_outputs` returns), and ``nll``/``tokens`` for the
    ``ppl-*`` variants. Unknown names raise :class:`~edg.errors.ConfigError`; no records, or a
    ``ppl-*`` variant on records without ``nll``/``tokens``, :class:`~edg.errors.DataError`.
    """
    records = list(records)
    if not records:
        raise DataError("no records to score")
    has_nll = all(r.get("nll") is not None and r.get("tokens") is not None for r in records)
    wanted = resolve_variants(names, has_nll=has_nll)
    for i, rec in enumerate(records):
        if not isinstance(rec.get("hypothesis"), str) or not isinstance(rec.get("reference"), str):
            raise DataError(f"record {i}: 'hypothesis' and 'reference' must be strings")
    texts = _Texts([r["hypothesis"] for r in records], [r["reference"] for r in records])
    out: dict[str, float] = {}
    for name in wanted:
        values = _COMPUTE[name](texts, records)
        out.update({f"{name}:{key}": value for key, value in zip(VARIANTS[name].keys, values)})
    return out


def format_variants_table(metrics: dict[str, float], names: Iterable[str]) -> str:
    """A Markdown table ``| variant | metric | value | definition |`` of the variants' values
    in ``metrics`` (values to 2 decimals, as the metrics table prints them)."""
    lines = ["| variant | metric | value | definition |", "|---|---|---:|---|"]
    for name in names:
        definition = VARIANTS[name].definition
        for key in VARIANTS[name].keys:
            value = metrics.get(f"{name}:{key}")
            if value is not None:
                lines.append(f"| {name} | {key} | {value:.2f} | {definition} |")
                definition = "as above"  # printed once per variant
    return "\n".join(lines) + "\n"
