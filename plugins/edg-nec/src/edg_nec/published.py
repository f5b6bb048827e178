"""NEC's published automatic-evaluation numbers (Huangfu et al.), registered through the
``register_published_results`` hook so that reports print them beside edg's NEC runs.

Transcribed from ``../shared/papers`` (NEC Tables 1, 3 and 4); human ratings are not
included. The notes say how each number's computation differs from (or is not known to
match) edg's metric of the same name.
"""

from __future__ import annotations

from edg.reporting.published import DIST_UNSTATED, PPL_BPE, PPL_WORD, PublishedEntry, rows

_T1 = (
    "NEC Table 1; baseline rows are cited from Cai et al. (2023, DCKS), not re-run by NEC. "
    "BLEU: B-1..B-4 computed with NLTK (smoothing, casing and corpus/sentence level not stated). "
    + DIST_UNSTATED
    + " Sent-Std: NEC's own metric, defined as edg's sent-std (NEC counts 'sentences'; edg splits at , . ? !)."
)
_T3 = (
    "NEC Table 3 'proportion of top five frequent sentences'; mapped to edg top5 (edg: share of all "
    "clauses split at , . ? ! that are one of the five most frequent). NEC's exact sentence "
    "segmentation is not stated."
)
_T4 = "NEC Table 4 (ablation of NEC). " + PPL_BPE + " " + DIST_UNSTATED + " BLEU via NLTK, settings not stated."

_COLS = ("ppl", "bleu-1", "bleu-2", "bleu-3", "bleu-4", "dist-1", "dist-2", "sent-std")


def _tokenizer_kind(system: str) -> str | None:
    """BART BPE for NEC and DCKS, word level for the GloVe-vocabulary baselines, none for
    the human references."""
    if system == "Human":
        return None
    return "bpe" if system == "DCKS" or system.startswith("NEC") else "word"


PUBLISHED: list[PublishedEntry] = [
    *rows(
        "nec",
        "Table 1",
        _COLS,
        [
            ("Transformer", 37.62, 18.07, 8.34, 4.57, 2.86, 0.36, 1.35, 47.35),
            ("Multi-TRS", 37.50, 18.78, 8.55, 4.70, 2.95, 0.35, 1.27, 100.11),
            ("MoEL", 36.60, 18.07, 8.30, 4.37, 2.65, 0.59, 2.64, 40.15),
            ("MIME", 37.24, 18.60, 8.39, 4.54, 2.65, 0.47, 1.66, 216.08),
            ("EmpDG", 37.43, 19.96, 9.11, 4.74, 2.80, 0.46, 1.99, 26.94),
            ("CEM", 36.33, 16.12, 7.29, 4.06, 2.03, 0.62, 2.39, 61.26),
        ],
        _T1 + " " + PPL_WORD,
        tokenizer_kind=_tokenizer_kind,
    ),
    *rows(
        "nec",
        "Table 1",
        _COLS,
        [
            ("DCKS", 16.08, 21.73, 10.62, 6.24, 4.09, 2.19, 9.61, 36.89),
            ("NEC", 12.89, 23.62, 12.14, 7.27, 4.78, 3.15, 13.91, 18.61),
        ],
        _T1 + " " + PPL_BPE,
        tokenizer_kind=_tokenizer_kind,
    ),
    *rows("nec", "Table 1", ("dist-1", "dist-2", "sent-std"), [("Human", 19.49, 43.55, 0.71)],
          _T1 + " Human: the reference responses.", tokenizer_kind=_tokenizer_kind),
    *rows(
        "nec",
        "Table 3",
        ("top5",),
        [
            ("Transformer", 32.38),
            ("Multi-TRS", 46.61),
            ("MIME", 54.58),
            ("EmpDG", 29.94),
            ("MoEL", 25.97),
            ("CEM", 36.82),
            ("DCKS", 34.41),
            ("NEC", 20.32),
        ],
        _T3,
        tokenizer_kind=_tokenizer_kind,
    ),
    *rows(
        "nec",
        "Table 4",
        _COLS,
        [
            ("NEC", 12.89, 23.62, 12.14, 7.27, 4.78, 3.15, 13.91, 18.61),
            ("NEC w/o Entity", 12.71, 22.56, 11.57, 6.96, 4.61, 2.41, 10.11, 19.31),
            ("NEC w/o Social", 12.63, 23.54, 12.15, 7.08, 4.57, 2.11, 8.02, 19.22),
            ("NEC w/o SelfGen", 11.91, 23.01, 11.73, 6.84, 4.60, 2.15, 10.64, 20.33),
            ("NEC w/o HighFreq", 11.81, 23.42, 12.01, 7.22, 4.69, 3.02, 12.06, 21.12),
            ("NEC w/o DiffEmo", 12.97, 22.91, 11.66, 6.81, 4.62, 2.74, 11.51, 19.66),
        ],
        _T4,
        tokenizer_kind=_tokenizer_kind,
    ),
]
