"""ETHREED's published automatic-evaluation numbers (Li et al., Tables 1 and 3), registered
through the ``register_published_results`` hook so that reports print them beside edg's
ETHREED runs. Transcribed from ``../shared/papers/ethreed.md``; human ratings are left out.
Fractions (Acc, F_BERT) are rescaled to percentages; Dist-n are printed as percentages by
the paper already; parameter counts go into ``extra``.
"""

from __future__ import annotations

from edg.reporting.published import DIST_UNSTATED, PPL_WORD, PublishedEntry, rows

_NOTES = (
    "ETHREED {table}; mean of 5 seeds. Acc: speaker-emotion accuracy over 32 classes (%). "
    + PPL_WORD
    + " "
    + DIST_UNSTATED
    + " F_BERT: BERTScore F1 (x100) with roberta-large (the bert_score default: layer 17, no rescaling, as far as "
    "the paper tells); edg's bertscore must be run with the same model and layer to compare. Baselines were "
    "re-run by the ETHREED authors with their papers' hyper-parameters."
)
_COLS = ("acc", "ppl", "dist-1", "dist-2", "bertscore")
_SCALE = {"acc": 100.0, "bertscore": 100.0}

PUBLISHED: list[PublishedEntry] = [
    *rows(
        "ethreed",
        "Table 1",
        _COLS,
        [
            ("MIME", "17.80M", 0.3239, 37.28, 0.39, 1.56, 0.189),
            ("EmpDG", "29.29M", 0.3278, 36.26, 0.45, 2.13, 0.195),
            ("KEMP", "32.54M", 0.3852, 34.56, 0.61, 2.69, 0.223),
            ("EmpHi", "10.92M", 0.4046, 33.49, 0.98, 4.64, 0.187),
            ("ETHREED", "11.98M", 0.4294, 27.74, 1.14, 4.76, 0.226),
        ],
        _NOTES.format(table="Table 1"),
        scale=_SCALE,
        extra_col="params",
    ),
    *rows(
        "ethreed",
        "Table 3",
        _COLS,
        [
            ("ETHREED", 0.4294, 27.74, 1.14, 4.76, 0.227),
            ("ETHREED w/o emp-policy", 0.4271, 27.98, 1.09, 4.48, 0.222),
            ("ETHREED w/o GPS", 0.4279, 27.95, 1.07, 4.47, 0.227),
            ("ETHREED w/o GRU_p", 0.4283, 27.77, 1.09, 4.53, 0.226),
            ("ETHREED w/o GRU_e", 0.4349, 27.84, 1.12, 4.69, 0.223),
            ("ETHREED w/o emo-track", 0.4152, 27.81, 1.09, 4.61, 0.228),
        ],
        _NOTES.format(table="Table 3 (ablation)"),
        scale=_SCALE,
    ),
]
