"""IMAGINE's published automatic-evaluation numbers (Chen & Liang, Tables 1 and 2),
registered through the ``register_published_results`` hook so that reports print them
beside edg's IMAGINE runs. Transcribed from ``../shared/papers/imagine.md``; the human
ratings (Fluency, Relevance, Empathy) and the A/B test of Table 3 are left out. Dist-n are
printed as percentages by the paper already; ACC is a percentage.
"""

from __future__ import annotations

from edg.reporting.published import DIST_UNSTATED, PPL_WORD, PublishedEntry, rows

_NOTES = (
    "IMAGINE {table}. BLEU-2 (about 1.3) is on a different scale from edg's corpus BLEU-2 (NEC reports "
    "about 8.3 for the same baselines): IMAGINE's BLEU computation is unknown, do not compare. "
    + PPL_WORD
    + " "
    + DIST_UNSTATED
    + " ACC: 32-way emotion accuracy (%). Baseline rows as reported by IMAGINE."
)
_COLS = ("ppl", "bleu-2", "dist-1", "dist-2", "acc")

PUBLISHED: list[PublishedEntry] = [
    *rows(
        "imagine",
        "Table 1",
        _COLS,
        [
            ("Transformer", 37.62, 1.32, 0.45, 2.02, None),
            ("Multi-TRS", 37.75, 1.31, 0.41, 1.67, 33.57),
            ("MoEL", 36.93, 1.32, 0.44, 2.10, 30.62),
            ("MIME", 37.09, 1.34, 0.47, 1.90, 31.36),
            ("EmpDG", 37.29, 1.30, 0.46, 2.02, 30.41),
            ("CEM", 36.11, 1.35, 0.66, 2.99, 39.11),
            ("KEMP", 36.89, 1.34, 0.55, 2.29, 39.31),
            ("IMAGINE", 35.10, 1.37, 0.76, 3.40, 39.60),
        ],
        _NOTES.format(table="Table 1 (automatic columns)"),
    ),
    *rows(
        "imagine",
        "Table 2",
        _COLS,
        [
            ("IMAGINE", 35.10, 1.37, 0.76, 3.40, 39.60),
            ("IMAGINE w/o cause", 35.43, 1.35, 0.64, 2.57, 38.60),
            ("IMAGINE w/o cm", 35.58, 1.34, 0.63, 2.84, 38.88),
            ("IMAGINE w/o know", 35.00, 1.36, 0.64, 2.92, 38.50),
            ("IMAGINE w/o DIV", 34.50, 1.37, 0.68, 2.94, 39.10),
        ],
        _NOTES.format(table="Table 2 (ablation)"),
    ),
]
