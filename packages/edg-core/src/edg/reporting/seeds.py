"""Aggregate the test metrics of several runs (seeds) of one system: mean ± std."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from edg.errors import EdgError
from edg.metrics import METRIC_NAMES
from edg.reporting.run_summary import load_run


def aggregate_runs(runs) -> dict[str, tuple[float, float]]:
    """Mean and sample standard deviation of each metric that every :class:`RunSummary` in ``runs`` has."""
    if not runs:
        raise EdgError("aggregate_seeds: no runs given")
    common = set(runs[0].test)
    for r in runs[1:]:
        common &= set(r.test)
    order = [n for n in METRIC_NAMES if n in common] + sorted(common - set(METRIC_NAMES))
    out = {}
    for name in order:
        values = [r.test[name] for r in runs]
        mean = math.fsum(values) / len(values)
        if len(values) > 1:
            std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
        else:
            std = 0.0
        out[name] = (mean, std)
    return out


def aggregate_seeds(run_dirs: Sequence[str | Path]) -> dict[str, tuple[float, float]]:
    """Mean and sample standard deviation (n-1 denominator; 0.0 for a single run) of every test
    metric present in all the runs' ``summary.json``, keyed by metric name in report order.

    All runs must belong to the same system and, where they recorded it, have been evaluated
    on the same data (else :class:`~edg.errors.EdgError`); a run without ``summary.json``
    raises :class:`~edg.errors.CheckpointError` naming it.
    """

    runs = [load_run(d) for d in run_dirs]
    systems = sorted({r.label for r in runs})
    if len(systems) > 1:
        raise EdgError(f"aggregate_seeds: the runs belong to different systems ({', '.join(systems)})")
    data = {(r.split, r.data_fingerprint) for r in runs if r.data_fingerprint is not None}
    if len(data) > 1:
        raise EdgError("aggregate_seeds: the runs were evaluated on different data (their data fingerprints "
                       "differ); a mean over them is not comparable")
    return aggregate_runs(runs)


def format_mean_std(mean: float, std: float, digits: int = 2) -> str:
    """``"mean ± std"`` with ``digits`` decimals."""
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_seed_table(
    agg: dict[str, tuple[float, float]], system: str | None = None, n: int | None = None, digits: int = 2
) -> str:
    """A one-row Markdown table of :func:`aggregate_seeds` output: ``| system | n | metric... |``
    with every cell ``mean ± std``."""
    head = ["system", "n", *agg]
    row = [system or "", "" if n is None else str(n), *(format_mean_std(m, s, digits) for m, s in agg.values())]
    return "\n".join(
        [
            "| " + " | ".join(head) + " |",
            "|" + "|".join(["---", "---:"] + ["---:"] * len(agg)) + "|",
            "| " + " | ".join(row) + " |",
        ]
    ) + "\n"
