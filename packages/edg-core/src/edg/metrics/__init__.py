"""The evaluator: one exact definition per metric (see ``DEFINITIONS``).

Published EDG numbers are computed differently by every repository; edg has one evaluator whose
definitions are fixed here and printed by every report. Text is lowercased and split on whitespace
unless a definition says otherwise. Importing this package is cheap (no torch): ``bertscore``
imports ``transformers`` only when called.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from edg.errors import ConfigError, DataError
from edg.metrics.accuracy import DEFINITION as _ACC_DEF
from edg.metrics.accuracy import accuracy
from edg.metrics.bertscore import DEFINITION as _BERT_DEF
from edg.metrics.bertscore import bertscore
from edg.metrics.bleu import DEFINITIONS as _BLEU_DEFS
from edg.metrics.bleu import bleu, bleu_tokens
from edg.metrics.clauses import DEFINITIONS as _CLAUSE_DEFS
from edg.metrics.clauses import clause_counts, sent_std, sent_std_counts, split_clauses, top5, top5_counts
from edg.metrics.distinct import DEFINITIONS as _DIST_DEFS
from edg.metrics.distinct import distinct, distinct_sent, distinct_sent_tokens, distinct_tokens, tokenize
from edg.metrics.ppl import DEFINITION as _PPL_DEF
from edg.metrics.ppl import perplexity

#: every metric name, in report order
METRIC_NAMES: tuple[str, ...] = (
    "ppl",
    "bleu-1",
    "bleu-2",
    "bleu-3",
    "bleu-4",
    "dist-1",
    "dist-2",
    "dist-1-sent",
    "dist-2-sent",
    "sent-std",
    "top5",
    "acc",
    "bertscore",
)

#: metric name -> one-line definition (reports print these)
DEFINITIONS: dict[str, str] = {
    "ppl": _PPL_DEF,
    **_BLEU_DEFS,
    **_DIST_DEFS,
    **_CLAUSE_DEFS,
    "acc": _ACC_DEF,
    "bertscore": _BERT_DEF,
}
DEFINITIONS = {name: DEFINITIONS[name] for name in METRIC_NAMES}

#: whether a higher value is better (for reports)
HIGHER_IS_BETTER: dict[str, bool] = {name: name not in ("ppl", "sent-std", "top5") for name in METRIC_NAMES}

_TEXT_METRICS = tuple(n for n in METRIC_NAMES if n not in ("ppl", "acc", "bertscore"))

__all__ = [
    "DEFINITIONS",
    "HIGHER_IS_BETTER",
    "METRIC_NAMES",
    "accuracy",
    "bertscore",
    "bleu",
    "clause_counts",
    "compute_metrics",
    "distinct",
    "distinct_sent",
    "perplexity",
    "sent_std",
    "split_clauses",
    "tokenize",
    "top5",
]


def _resolve_names(names: Iterable[str] | None, *, has_ppl: bool, has_acc: bool, has_bert: bool) -> list[str]:
    if names is None:
        wanted = [n for n in METRIC_NAMES if n in _TEXT_METRICS]
        if has_ppl:
            wanted.append("ppl")
        if has_acc:
            wanted.append("acc")
        if has_bert:
            wanted.append("bertscore")
        return [n for n in METRIC_NAMES if n in wanted]
    if isinstance(names, str):
        names = [names]
    names = list(names)
    unknown = [n for n in names if n not in METRIC_NAMES]
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(map(repr, unknown))}; known: {', '.join(METRIC_NAMES)}")
    if "ppl" in names and not has_ppl:
        raise ConfigError("metric 'ppl' needs nll_sum and num_tokens (the model's target-token NLL)")
    if "acc" in names and not has_acc:
        raise ConfigError("metric 'acc' needs gold and predicted emotions")
    return [n for n in METRIC_NAMES if n in names]


def compute_metrics(
    hyps: Sequence[str],
    refs: Sequence[str],
    *,
    gold_emotions: Sequence[int | str] | None = None,
    pred_emotions: Sequence[int | str] | None = None,
    nll_sum: float | None = None,
    num_tokens: int | None = None,
    names: Iterable[str] | None = None,
    bertscore_model=None,
    allow_all_empty: bool = False,
) -> dict[str, float]:
    """Compute the named metrics (default: every metric the given inputs allow) -> ``{name: value}``.

    Keys come in :data:`METRIC_NAMES` order. ``ppl`` needs ``nll_sum`` and ``num_tokens``;
    ``acc`` needs ``gold_emotions`` and ``pred_emotions``; ``bertscore`` is computed by default
    only with ``bertscore_model`` (a model name or a
    :class:`~edg.metrics.bertscore.BertScoreSettings`), and when named without one uses the
    packaged :data:`~edg.metrics.bertscore.DEFAULT_MODEL`. Each metric follows the definition in
    :data:`DEFINITIONS` and its function's docstring. Text is tokenized once (lowercase +
    whitespace split) and shared by BLEU and Distinct.

    Empty hypothesis strings are allowed; ``len(hyps) != len(refs)`` or a hypothesis list with
    no samples, or only empty strings, raises :class:`~edg.errors.DataError` (unless
    ``allow_all_empty``: a model's own evaluation scores whatever it generated). An unknown
    name, or a requested metric whose inputs are missing, raises :class:`~edg.errors.ConfigError`.
    """
    hyps = list(hyps)
    refs = list(refs)
    if len(hyps) != len(refs):
        raise DataError(f"{len(hyps)} hypotheses but {len(refs)} references; the counts must match")
    if not hyps:
        raise DataError("no hypotheses to score (the hypothesis list is empty)")
    bad = next((i for i, h in enumerate(hyps) if not isinstance(h, str)), None)
    if bad is None:
        bad = next((i for i, r in enumerate(refs) if not isinstance(r, str)), None)
        kind = "reference"
    else:
        kind = "hypothesis"
    if bad is not None:
        value = (hyps if kind == "hypothesis" else refs)[bad]
        raise DataError(f"{kind} {bad} is not a string: {value!r}")
    if not allow_all_empty and not any(h.strip() for h in hyps):
        raise DataError(f"all {len(hyps)} hypotheses are empty strings; nothing to score")
    has_acc = gold_emotions is not None and pred_emotions is not None
    wanted = _resolve_names(
        names,
        has_ppl=nll_sum is not None and num_tokens is not None,
        has_acc=has_acc,
        has_bert=bertscore_model is not None,
    )
    if has_acc and "acc" in wanted and len(gold_emotions) != len(hyps):  # type: ignore[arg-type]
        raise DataError(f"{len(gold_emotions)} gold emotions but {len(hyps)} hypotheses; the counts must match")  # type: ignore[arg-type]

    out: dict[str, float] = {}
    if "ppl" in wanted:
        out["ppl"] = perplexity(nll_sum, num_tokens)  # type: ignore[arg-type]
    need_tokens = any(n.startswith(("bleu", "dist")) for n in wanted)
    if need_tokens:
        hyp_tok = [h.lower().split() for h in hyps]
    if any(n.startswith("bleu") for n in wanted):
        out.update(bleu_tokens(hyp_tok, [r.lower().split() for r in refs]))
    for n in (1, 2):
        if f"dist-{n}" in wanted:
            out[f"dist-{n}"] = distinct_tokens(hyp_tok, n)
        if f"dist-{n}-sent" in wanted:
            out[f"dist-{n}-sent"] = distinct_sent_tokens(hyp_tok, n)
    if "sent-std" in wanted or "top5" in wanted:
        counts = clause_counts(hyps)
        out["sent-std"] = sent_std_counts(counts)
        out["top5"] = top5_counts(counts)
    if "acc" in wanted:
        out["acc"] = accuracy(list(gold_emotions), list(pred_emotions))  # type: ignore[arg-type]
    if "bertscore" in wanted:
        from edg.metrics.bertscore import DEFAULT_MODEL

        out["bertscore"] = bertscore(hyps, refs, DEFAULT_MODEL if bertscore_model is None else bertscore_model)
    return {n: out[n] for n in METRIC_NAMES if n in wanted}
