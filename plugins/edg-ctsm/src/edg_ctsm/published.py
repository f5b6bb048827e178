"""CTSM's published automatic-evaluation numbers (Wang et al., 2024), registered through the
``register_published_results`` hook so that reports print them beside edg's CTSM runs.

Transcribed from ``../shared/papers`` (CTSM Tables 1 and 3); human ratings are not included.
"""

from __future__ import annotations

from edg.reporting.published import DIST_UNSTATED, PPL_WORD, PublishedEntry, rows

_NOTES = (
    "CTSM {table}. Acc: 32-way emotion accuracy (%). "
    + PPL_WORD
    + " "
    + DIST_UNSTATED
    + " Baseline numbers as reported by CTSM (mostly copied from the CASE/CEM papers)."
)
_COLS = ("acc", "ppl", "dist-1", "dist-2")

PUBLISHED: list[PublishedEntry] = [
    *rows(
        "ctsm",
        "Table 1",
        _COLS,
        [
            ("Transformer", None, 37.73, 0.47, 2.04),
            ("MoEL", 32.00, 38.04, 0.44, 2.10),
            ("MIME", 34.24, 37.09, 0.47, 1.91),
            ("EmpDG", 34.31, 37.29, 0.46, 2.02),
            ("KEMP", 39.31, 36.89, 0.55, 2.29),
            ("CEM", 39.11, 36.11, 0.66, 2.99),
            ("CASE", 40.20, 35.37, 0.74, 4.01),
            ("CTSM", 43.41, 34.56, 2.00, 7.34),
        ],
        _NOTES.format(table="Table 1"),
    ),
    *rows(
        "ctsm",
        "Table 3",
        _COLS,
        [
            ("CTSM", 43.41, 34.56, 2.00, 7.34),
            ("CTSM w/o TEE", 42.58, 34.68, 1.18, 4.28),
            ("CTSM w/o SEE", 42.63, 35.01, 1.42, 5.06),
            ("CTSM w/o EGM", 39.66, 35.08, 1.72, 6.50),
            ("CTSM w/o CCL", 42.97, 34.42, 1.73, 6.27),
            ("CTSM w/o EGM & CCL", 41.88, 36.35, 1.57, 5.42),
        ],
        _NOTES.format(table="Table 3 (ablation)"),
    ),
]
