"""Reports of runs: tables beside the papers' published numbers, seed aggregates and plots.

Importing this package is cheap: matplotlib is imported only by the plotting functions.
"""

from __future__ import annotations

from edg.reporting.plots import plot_confusion_matrix, plot_loss_curves
from edg.reporting.published import PUBLISHED, PublishedEntry, published_for, published_systems
from edg.reporting.report import format_metrics_table, write_report
from edg.reporting.run_summary import RunSummary, load_run
from edg.reporting.seeds import aggregate_seeds, format_mean_std, format_seed_table

__all__ = [
    "PUBLISHED",
    "PublishedEntry",
    "RunSummary",
    "aggregate_seeds",
    "format_mean_std",
    "format_metrics_table",
    "format_seed_table",
    "load_run",
    "plot_confusion_matrix",
    "plot_loss_curves",
    "published_for",
    "published_systems",
    "write_report",
]
