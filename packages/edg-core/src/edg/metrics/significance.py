"""Paired bootstrap significance of the difference between two systems' outputs.

Two output files over the same samples (same ids, same references) are compared metric by
metric. Definition (Koehn 2004, "Statistical significance tests for machine translation
evaluation", paired bootstrap resampling; Efron & Tibshirani's percentile interval):

* resample: ``N`` times (``samples``, default 1000) draw ``n`` sample indices uniformly with
  replacement from the ``n`` samples (``numpy.random.default_rng(seed)``, default seed 1). The
  SAME indices are used for system A and system B (paired) and for every metric.
* on each resample every metric is recomputed at the corpus level as edg's evaluator defines it
  (:data:`edg.metrics.DEFINITIONS`) on the resampled corpus, duplicates included: corpus BLEU
  from the summed clipped n-gram matches and counts, corpus Distinct from the n-gram types
  present and the summed n-gram counts, ``sent-std``/``top5`` from the summed clause counts,
  ``ppl`` from the summed NLL and token counts, ``acc`` and the ``-sent`` averages and
  ``bertscore`` as means of per-sample terms. The per-sample statistics are computed once; a
  resample only sums them with the sample weights (how often each sample was drawn), which
  gives exactly what the scorer gives on the resampled corpus (tested).
* ``diff`` = metric(B) - metric(A) on the full set; ``d*_1 .. d*_N`` the resampled differences.
* 95% confidence interval: the 2.5th and 97.5th percentiles of ``d*`` (``numpy.percentile``,
  linear interpolation).
* two-sided p-value: ``k`` = min(#{d*_b <= 0}, #{d*_b >= 0}), the number of resamples on the far
  side of zero (where B's advantage vanishes or flips sign); ``p = min(1, 2 (k + 1) / (N + 1))``.
  The +1s keep a finite number of resamples from claiming p = 0: with N = 1000 the smallest
  p is 2/1001 ~ 0.002. Two identical systems give p = 1.
* type-count metrics (``dist-n``, ``sent-std``, ``top5``) are not means of per-sample terms: a
  resample repeats about a third of the responses, which lowers Distinct and raises sent-std for
  both systems, so the resampled differences are biased and the percentile interval can miss the
  observed difference (:func:`format_comparison` says so when it does). Their p-value, the sign
  of the difference across resamples, is still the test to read.

The two files must cover the same samples: with ids on every line, the same set of ids (B is put
in A's order); without ids, the same number of lines in the same order. References (as the
evaluator sees them: lowercased, whitespace split) and gold emotions must agree sample by sample.
A difference is a :class:`~edg.errors.DataError` naming the files, line and id.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edg.errors import ConfigError, DataError
from edg.metrics.bleu import ngram_counts

#: bootstrap resamples unless told
DEFAULT_SAMPLES = 1000
#: the fixed default seed of the resampling
DEFAULT_SEED = 1

P_VALUE_DEFINITION = (
    "two-sided paired-bootstrap p = min(1, 2(k+1)/(N+1)), k = min(#{d* <= 0}, #{d* >= 0}) over the N "
    "resampled differences d* = B - A"
)
CI_DEFINITION = "95% CI: 2.5th-97.5th percentiles of the resampled differences"


# --------------------------------------------------------------------------- per-sample statistics
@dataclass
class SampleStats:
    """Per-sample terms of every corpus metric of one system's outputs; a metric of any
    resample is a function of these and the sample weights."""

    n: int
    bleu: np.ndarray
    """(n, 10): clipped matches of orders 1..4, NLTK denominators max(1, hypothesis n-grams)
    of orders 1..4, hypothesis length, reference length"""
    dist_types: dict[int, np.ndarray] = field(default_factory=dict)
    """order -> n-gram type id of each (type, sample) pair (each pair once)"""
    dist_samples: dict[int, np.ndarray] = field(default_factory=dict)
    """order -> sample of each (type, sample) pair"""
    dist_num_types: dict[int, int] = field(default_factory=dict)
    dist_totals: dict[int, np.ndarray] = field(default_factory=dict)
    """order -> number of n-grams of each sample"""
    dist_sent: dict[int, np.ndarray] = field(default_factory=dict)
    """order -> per-response distinct/total ratio (0 for a response with no n-gram)"""
    clause_ids: np.ndarray | None = None
    clause_samples: np.ndarray | None = None
    clause_counts: np.ndarray | None = None
    num_clauses: int = 0
    correct: np.ndarray | None = None
    nll: np.ndarray | None = None
    tokens: np.ndarray | None = None
    bertscore: np.ndarray | None = None
    """per-sample BERTScore F1 x100"""


def sample_stats(
    hyps: Sequence[str],
    refs: Sequence[str],
    *,
    gold: Sequence | None = None,
    pred: Sequence | None = None,
    nll: Sequence[float] | None = None,
    tokens: Sequence[int] | None = None,
    bertscore_f1: Sequence[float] | None = None,
) -> SampleStats:
    """The per-sample statistics of one system (tokenised as the evaluator does)."""
    from edg.metrics.accuracy import emotion_labels, normalize_label
    from edg.metrics.clauses import split_clauses
    from edg.metrics.distinct import tokenize

    n = len(hyps)
    if n != len(refs):
        raise DataError(f"{n} hypotheses but {len(refs)} references; the counts must match")
    if n == 0:
        raise DataError("no samples to compare")
    hyp_tok = [tokenize(h) for h in hyps]
    ref_tok = [tokenize(r) for r in refs]
    bleu = np.zeros((n, 10), dtype=np.float64)
    for i, (hyp, ref) in enumerate(zip(hyp_tok, ref_tok)):
        lh, lr = len(hyp), len(ref)
        bleu[i, 8], bleu[i, 9] = lh, lr
        for k in range(4):
            order = k + 1
            if lh >= order:
                if lr >= order:
                    hc, rc = ngram_counts(hyp, order), ngram_counts(ref, order)
                    bleu[i, k] = sum(min(c, rc.get(g, 0)) for g, c in hc.items())
                bleu[i, 4 + k] = lh - order + 1
            else:
                bleu[i, 4 + k] = 1  # NLTK: denominator max(1, number of hypothesis n-grams)
    stats = SampleStats(n=n, bleu=bleu)
    for order in (1, 2):
        type_id: dict = {}
        pair_types, pair_samples = [], []
        totals = np.zeros(n)
        ratios = np.zeros(n)
        for i, toks in enumerate(hyp_tok):
            counts = ngram_counts(toks, order)
            total = max(len(toks) - order + 1, 0)
            totals[i] = total
            if total:
                ratios[i] = len(counts) / total
            for g in counts:
                pair_types.append(type_id.setdefault(g, len(type_id)))
                pair_samples.append(i)
        stats.dist_types[order] = np.asarray(pair_types, dtype=np.int64)
        stats.dist_samples[order] = np.asarray(pair_samples, dtype=np.int64)
        stats.dist_num_types[order] = len(type_id)
        stats.dist_totals[order] = totals
        stats.dist_sent[order] = ratios
    clause_id: dict[str, int] = {}
    ids, samples, counts_ = [], [], []
    for i, h in enumerate(hyps):
        per: dict[int, int] = {}
        for clause in split_clauses(h):
            c = clause_id.setdefault(clause, len(clause_id))
            per[c] = per.get(c, 0) + 1
        for c, k in per.items():
            ids.append(c)
            samples.append(i)
            counts_.append(k)
    stats.clause_ids = np.asarray(ids, dtype=np.int64)
    stats.clause_samples = np.asarray(samples, dtype=np.int64)
    stats.clause_counts = np.asarray(counts_, dtype=np.float64)
    stats.num_clauses = len(clause_id)
    if gold is not None and pred is not None:
        labels = emotion_labels()
        stats.correct = np.asarray(
            [normalize_label(g, labels) == normalize_label(p, labels) for g, p in zip(gold, pred)], dtype=np.float64
        )
    if nll is not None and tokens is not None:
        stats.nll = np.asarray(nll, dtype=np.float64)
        stats.tokens = np.asarray(tokens, dtype=np.float64)
    if bertscore_f1 is not None:
        stats.bertscore = np.asarray(bertscore_f1, dtype=np.float64)
    return stats


# --------------------------------------------------------------------------- metrics from weights
def _bleu(sums: np.ndarray) -> dict[str, float]:
    """:func:`edg.metrics.bleu.bleu_tokens` from summed statistics (same arithmetic)."""
    from edg.metrics.bleu import BLEU_WEIGHTS, smoothed_bleu

    num, den = sums[0:4], sums[4:8]
    return {f"bleu-{n}": 100.0 * smoothed_bleu(num, den, sums[8], sums[9], weights)
            for n, weights in zip(range(1, 5), BLEU_WEIGHTS)}


def _pstd(values: np.ndarray) -> float:
    if values.size == 0:
        return 0.0
    mean = math.fsum(values) / values.size
    return math.sqrt(math.fsum((values - mean) ** 2) / values.size)


def metrics_from_weights(stats: SampleStats, weights: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """The metrics ``names`` of the corpus in which sample ``i`` appears ``weights[i]`` times
    (all ones: the file as it is)."""
    w = weights
    count = float(w.sum())
    out: dict[str, float] = {}
    if any(n.startswith("bleu-") for n in names):
        bleu = _bleu(w @ stats.bleu)
        out.update({n: bleu[n] for n in names if n in bleu})
    for order in (1, 2):
        if f"dist-{order}" in names:
            present = (w > 0)[stats.dist_samples[order]]
            seen = np.bincount(stats.dist_types[order][present], minlength=stats.dist_num_types[order])
            total = float(w @ stats.dist_totals[order])
            out[f"dist-{order}"] = 100.0 * float(np.count_nonzero(seen)) / total if total else 0.0
        if f"dist-{order}-sent" in names:
            out[f"dist-{order}-sent"] = 100.0 * float(w @ stats.dist_sent[order]) / count
    if "sent-std" in names or "top5" in names:
        counts = np.bincount(stats.clause_ids, weights=w[stats.clause_samples] * stats.clause_counts,
                             minlength=stats.num_clauses)
        counts = counts[counts > 0]
        if "sent-std" in names:
            out["sent-std"] = _pstd(counts)
        if "top5" in names:
            total = counts.sum()
            out["top5"] = 100.0 * float(np.sort(counts)[::-1][:5].sum()) / float(total) if total else 0.0
    if "acc" in names:
        out["acc"] = 100.0 * float(w @ stats.correct) / count
    if "ppl" in names:
        tokens = float(w @ stats.tokens)
        try:
            out["ppl"] = math.exp(float(w @ stats.nll) / tokens) if tokens > 0 else math.inf
        except OverflowError:
            out["ppl"] = math.inf
    if "bertscore" in names:
        out["bertscore"] = float(w @ stats.bertscore) / count
    return {n: out[n] for n in names}


# --------------------------------------------------------------------------- the comparison
@dataclass(frozen=True)
class MetricComparison:
    name: str
    a: float
    b: float
    diff: float
    """b - a"""
    ci_low: float
    ci_high: float
    p: float


@dataclass(frozen=True)
class Comparison:
    """A paired bootstrap comparison of system B against system A."""

    label_a: str
    label_b: str
    samples: int
    """samples compared (the size of each resample)"""
    resamples: int
    seed: int
    rows: list[MetricComparison]
    bertscore: dict | None = None
    """the settings of the bertscore row (:func:`edg.metrics.bertscore.describe`)"""

    def row(self, name: str) -> MetricComparison:
        return next(r for r in self.rows if r.name == name)


def available_metrics(stats_a: SampleStats, stats_b: SampleStats) -> list[str]:
    """The metrics both systems' statistics allow, in report order."""
    from edg.metrics import METRIC_NAMES

    have = {"bleu-1", "bleu-2", "bleu-3", "bleu-4", "dist-1", "dist-2", "dist-1-sent", "dist-2-sent",
            "sent-std", "top5"}
    if stats_a.correct is not None and stats_b.correct is not None:
        have.add("acc")
    if stats_a.nll is not None and stats_b.nll is not None:
        have.add("ppl")
    if stats_a.bertscore is not None and stats_b.bertscore is not None:
        have.add("bertscore")
    return [n for n in METRIC_NAMES if n in have]


def p_value(diffs: np.ndarray) -> float:
    """Two-sided paired-bootstrap p-value of resampled differences (see the module doc)."""
    k = min(int(np.count_nonzero(diffs <= 0)), int(np.count_nonzero(diffs >= 0)))
    return min(1.0, 2.0 * (k + 1) / (diffs.size + 1))


def paired_bootstrap(
    stats_a: SampleStats,
    stats_b: SampleStats,
    names: Iterable[str] | None = None,
    *,
    samples: int = DEFAULT_SAMPLES,
    seed: int = DEFAULT_SEED,
    label_a: str = "A",
    label_b: str = "B",
) -> Comparison:
    """Paired bootstrap of every metric in ``names`` (default: all both systems allow);
    definitions in the module doc."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ConfigError(f"--samples must be a positive integer, got {samples!r}")
    if stats_a.n != stats_b.n:
        raise DataError(f"{label_a} has {stats_a.n} samples but {label_b} has {stats_b.n}")
    allowed = available_metrics(stats_a, stats_b)
    if names is None:
        names = allowed
    else:
        names = [names] if isinstance(names, str) else list(names)
        missing = [n for n in names if n not in allowed]
        if missing:
            raise ConfigError(f"metric(s) {', '.join(map(repr, missing))} cannot be compared: both files need "
                              f"what they are computed from (comparable here: {', '.join(allowed)})")
    n = stats_a.n
    ones = np.ones(n)
    point_a = metrics_from_weights(stats_a, ones, names)
    point_b = metrics_from_weights(stats_b, ones, names)
    rng = np.random.default_rng(seed)
    diffs = {name: np.empty(samples) for name in names}
    for r in range(samples):
        weights = np.bincount(rng.integers(0, n, size=n), minlength=n).astype(np.float64)
        va = metrics_from_weights(stats_a, weights, names)
        vb = metrics_from_weights(stats_b, weights, names)
        for name in names:
            diffs[name][r] = vb[name] - va[name]
    rows = []
    for name in names:
        d = diffs[name]
        finite = d[np.isfinite(d)]
        low, high = (np.percentile(finite, [2.5, 97.5]) if finite.size else (math.nan, math.nan))
        rows.append(MetricComparison(name, point_a[name], point_b[name], point_b[name] - point_a[name],
                                     float(low), float(high), p_value(d)))
    return Comparison(label_a, label_b, n, samples, seed, rows)


# --------------------------------------------------------------------------- aligning two files
def _norm_label(value):
    from edg.metrics.accuracy import normalize_label

    return None if value is None else normalize_label(value)


def align(rows_a: list[tuple[int, dict]], rows_b: list[tuple[int, dict]], label_a: str, label_b: str
          ) -> list[tuple[int, dict]]:
    """``rows_b`` in the order of ``rows_a``: by ``id`` when every line of both has one, else
    line by line; then references (as tokenised) and gold emotions must agree. Rows are
    ``(line number, record)``. Raises a one-line :class:`~edg.errors.DataError` naming what differs."""
    from edg.metrics.distinct import tokenize

    with_ids = all(rec.get("id") is not None for _, rec in rows_a) and all(rec.get("id") is not None for _, rec in rows_b)
    if with_ids:
        def index(rows, label):
            out: dict = {}
            for line, rec in rows:
                key = rec["id"]
                if key in out:
                    raise DataError(f"{label}:{line}: id {key!r} appears twice (first on line {out[key][0]})")
                out[key] = (line, rec)
            return out

        ia, ib = index(rows_a, label_a), index(rows_b, label_b)
        only_a = [k for k in ia if k not in ib]
        only_b = [k for k in ib if k not in ia]
        if only_a or only_b:
            what = []
            if only_a:
                what.append(f"{len(only_a)} id(s) only in {label_a} (first {only_a[0]!r}, line {ia[only_a[0]][0]})")
            if only_b:
                what.append(f"{len(only_b)} id(s) only in {label_b} (first {only_b[0]!r}, line {ib[only_b[0]][0]})")
            raise DataError(f"{label_a} and {label_b} cover different samples: {'; '.join(what)}")
        aligned = [ib[rec["id"]] for _, rec in rows_a]
    else:
        if len(rows_a) != len(rows_b):
            raise DataError(f"{label_a} has {len(rows_a)} samples but {label_b} has {len(rows_b)} "
                            f"(without an id on every line the files are paired line by line)")
        aligned = list(rows_b)
    for (line_a, ra), (line_b, rb) in zip(rows_a, aligned):
        what = f"id {ra['id']!r}" if with_ids else "the samples"
        if tokenize(ra["reference"]) != tokenize(rb["reference"]):
            raise DataError(f"{label_a}:{line_a} and {label_b}:{line_b}: {what} have different references "
                            f"({ra['reference'][:60]!r} vs {rb['reference'][:60]!r})")
        ga, gb = _norm_label(ra.get("emotion")), _norm_label(rb.get("emotion"))
        if ga is not None and gb is not None and ga != gb:
            raise DataError(f"{label_a}:{line_a} and {label_b}:{line_b}: {what} have different gold emotions "
                            f"({ga!r} vs {gb!r})")
    return aligned


def stats_of_rows(rows: list[tuple[int, dict]], label: str, bertscore_f1: Sequence[float] | None = None) -> SampleStats:
    """:func:`sample_stats` of a file's rows; ``acc``/``ppl`` terms when every row carries them."""
    recs = [rec for _, rec in rows]
    has_acc = all(r.get("emotion") is not None and r.get("pred_emotion") is not None for r in recs)
    has_ppl = all(r.get("nll") is not None and r.get("tokens") is not None for r in recs)
    return sample_stats(
        [r["hypothesis"] for r in recs],
        [r["reference"] for r in recs],
        gold=[r["emotion"] for r in recs] if has_acc else None,
        pred=[r["pred_emotion"] for r in recs] if has_acc else None,
        nll=[r["nll"] for r in recs] if has_ppl else None,
        tokens=[r["tokens"] for r in recs] if has_ppl else None,
        bertscore_f1=bertscore_f1,
    )


def compare_rows(
    rows_a: list[tuple[int, dict]],
    rows_b: list[tuple[int, dict]],
    names: Iterable[str] | None = None,
    *,
    label_a: str = "A",
    label_b: str = "B",
    samples: int = DEFAULT_SAMPLES,
    seed: int = DEFAULT_SEED,
    bertscore=None,
) -> Comparison:
    """Align two systems' ``(line, record)`` rows (:func:`align`) and run :func:`paired_bootstrap`.
    ``bertscore``: a :class:`~edg.metrics.bertscore.BertScoreSettings` to compare per-sample
    BERTScore F1 too (:attr:`Comparison.bertscore` then records its settings)."""
    rows_b = align(rows_a, rows_b, label_a, label_b)
    f1_a = f1_b = None
    if bertscore is not None:
        from edg.metrics.bertscore import bertscore_f1

        refs = [rec["reference"] for _, rec in rows_a]
        f1_a = bertscore_f1([rec["hypothesis"] for _, rec in rows_a], refs, bertscore)
        f1_b = bertscore_f1([rec["hypothesis"] for _, rec in rows_b], refs, bertscore)
    comp = paired_bootstrap(stats_of_rows(rows_a, label_a, f1_a), stats_of_rows(rows_b, label_b, f1_b), names,
                            samples=samples, seed=seed, label_a=label_a, label_b=label_b)
    if bertscore is not None and "bertscore" in [r.name for r in comp.rows]:
        from edg.metrics.bertscore import describe

        comp = dataclasses.replace(comp, bertscore=describe(bertscore))
    return comp


def compare_files(
    path_a: str | Path,
    path_b: str | Path,
    names: Iterable[str] | None = None,
    *,
    data: str | Path | None = None,
    split: str = "test",
    samples: int = DEFAULT_SAMPLES,
    seed: int = DEFAULT_SEED,
    bertscore=None,
    format: str | None = None,
    system: str | None = None,
    system_b: str | None = None,
    quirks: bool = False,
) -> Comparison:
    """Compare two outputs files, read as ``edg score`` reads them
    (:func:`edg.metrics.released_formats.read_released` with ``format``, ``quirks`` and
    ``system`` for A, ``system_b`` for B: two decodings of one released file can be compared);
    with ``data`` the references and gold labels come from that split of the dataset, joined by id."""
    from edg.metrics.released_formats import read_released
    from edg.metrics.scoring import REQUIRED_KEYS, REQUIRED_WITH_DATA, join_references

    loaded, labels = [], []
    for path, chosen in ((path_a, system), (path_b, system_b)):
        released = read_released(path, format, chosen, quirks,
                                 required=REQUIRED_WITH_DATA if data is not None else REQUIRED_KEYS)
        if data is not None:
            if released.format not in ("jsonl", "tsv"):
                raise ConfigError(f"--data joins the references by sample id; {path} is a {released.format} file "
                                  f"with no ids (its references are in the file)")
            join_references(released.path, released.rows, data, split)
        loaded.append(released.rows)
        labels.append(str(path) if released.system is None else f"{path} ({released.system})")
    return compare_rows(loaded[0], loaded[1], names, label_a=labels[0], label_b=labels[1],
                        samples=samples, seed=seed, bertscore=bertscore)


def _fmt(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return str(v)
    return f"{v:.2f}"


def _fmt_p(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def format_comparison(comp: Comparison) -> str:
    """A Markdown table ``| metric | A | B | B - A | 95% CI | p |`` with the definitions under it."""
    from edg.metrics import HIGHER_IS_BETTER

    lines = [
        f"A: {comp.label_a}",
        f"B: {comp.label_b}",
        "",
        "| metric | A | B | B - A | 95% CI of B - A | p |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for r in comp.rows:
        better = "" if HIGHER_IS_BETTER.get(r.name, True) else " (lower is better)"
        lines.append(f"| {r.name}{better} | {_fmt(r.a)} | {_fmt(r.b)} | {r.diff:+.2f} | "
                     f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}] | {_fmt_p(r.p)} |")
    if comp.bertscore is not None:
        from edg.metrics.bertscore import format_settings

        lines += ["", format_settings(comp.bertscore)]
    outside = [r.name for r in comp.rows if not r.ci_low <= r.diff <= r.ci_high]
    if outside:
        lines += ["", f"{', '.join(outside)}: the observed difference lies outside its interval. A resample repeats "
                      f"some responses, which shifts type-count metrics (Distinct falls, sent-std grows) for both "
                      f"systems, so their resampled differences are biased; read the p-value (the sign of the "
                      f"difference across resamples), not the interval."]
    lines += [
        "",
        f"Paired bootstrap over the {comp.samples} samples: {comp.resamples} resamples (the same indices for A "
        f"and B), seed {comp.seed}; each metric recomputed at the corpus level on every resample. {CI_DEFINITION}; "
        f"{P_VALUE_DEFINITION}.",
    ]
    return "\n".join(lines) + "\n"
