"""Published automatic-evaluation numbers, transcribed from the papers' results tables.

Sources (``../shared/papers/*.md``): NEC Tables 1, 3, 4; CTSM Tables 1, 3; IMAGINE Tables 1, 2
(automatic columns only); ETHREED Tables 1, 3 (automatic columns only). Human ratings and A/B tests
are not included. Values are mapped onto edg's metric names where the paper's metric is the
same quantity; every way in which a paper's computation differs from (or is not known to match)
edg's definition is written in the entry's ``notes`` -- published numbers and edg's numbers are
NOT directly comparable unless the notes say so. Fractions are rescaled to percentages
(ETHREED's Acc 0.4294 -> 42.94, F_BERT 0.226 -> 22.6). Values a paper does not give (``-``) are
left out. Quantities with no edg counterpart (e.g. parameter counts) go into ``extra``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PublishedEntry:
    """One row of a paper's table."""

    system: str
    paper: str
    table: str
    metrics: dict[str, float]
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    #: the system's tokenizer as far as the paper tells ("word" for GloVe-vocabulary models,
    #: "bpe" for BART-based NEC/DCKS); perplexities are only comparable within one kind
    tokenizer_kind: str | None = None

    @property
    def source(self) -> str:
        """The row tag reports print, e.g. ``published (nec, Table 1)``."""
        return f"published ({self.paper}, {self.table})"


# --------------------------------------------------------------------------- notes per table
_PPL_WORD = "PPL: word-level tokenizer (GloVe-vocabulary Transformer baselines), not comparable with BPE PPL."
_PPL_BPE = "PPL: BART BPE tokens; not comparable with word-level PPL."
_DIST_UNSTATED = (
    "Dist-n: the paper does not say whether it is corpus-level (edg dist-n) or a per-sentence "
    "average (edg dist-n-sent); mapped to dist-n."
)
_NEC_T1 = (
    "NEC Table 1; baseline rows are cited from Cai et al. (2023, DCKS), not re-run by NEC. "
    "BLEU: B-1..B-4 computed with NLTK (smoothing, casing and corpus/sentence level not stated). "
    + _DIST_UNSTATED
    + " Sent-Std: NEC's own metric, defined as edg's sent-std (NEC counts 'sentences'; edg splits at , . ? !)."
)
_NEC_T3 = (
    "NEC Table 3 'proportion of top five frequent sentences'; mapped to edg top5 (edg: share of all "
    "clauses split at , . ? ! that are one of the five most frequent). NEC's exact sentence "
    "segmentation is not stated."
)
_NEC_T4 = "NEC Table 4 (ablation of NEC). " + _PPL_BPE + " " + _DIST_UNSTATED + " BLEU via NLTK, settings not stated."
_CTSM = (
    "CTSM {table}. Acc: 32-way emotion accuracy (%). "
    + _PPL_WORD
    + " "
    + _DIST_UNSTATED
    + " Baseline numbers as reported by CTSM (mostly copied from the CASE/CEM papers)."
)
_IMAGINE = (
    "IMAGINE {table}. BLEU-2 ({bleu}) is on a different scale from edg's corpus BLEU-2 (NEC reports "
    "about 8.3 for the same baselines): IMAGINE's BLEU computation is unknown, do not compare. "
    + _PPL_WORD
    + " "
    + _DIST_UNSTATED
    + " ACC: emotion accuracy (%)."
)
_ETHREED = (
    "ETHREED {table}; means of 5 seeds, baselines re-run by the ETHREED authors. Acc and F_BERT "
    "given as fractions in the paper, x100 here. F_BERT: BERTScore with roberta-large; values around "
    "0.2 suggest bert_score's baseline rescaling (edg's bertscore is raw F1 unless rescale_baseline "
    "is set) -- not comparable with raw F1. "
    + _PPL_WORD
    + " "
    + _DIST_UNSTATED
)

_NEC_COLS = ("ppl", "bleu-1", "bleu-2", "bleu-3", "bleu-4", "dist-1", "dist-2", "sent-std")


def _tok(system: str) -> str | None:
    if system == "Human":
        return None
    return "bpe" if system == "DCKS" or system.startswith("NEC") else "word"


def _rows(paper: str, table: str, cols: tuple[str, ...], rows, notes: str, scale: dict[str, float] | None = None,
          extra_col: str | None = None) -> list[PublishedEntry]:
    out = []
    for row in rows:
        system, *values = row
        extra = {}
        if extra_col is not None:
            extra[extra_col] = values.pop(0)
        metrics = {}
        for col, v in zip(cols, values, strict=True):
            if v is None:
                continue
            metrics[col] = round(v * (scale or {}).get(col, 1.0), 6)
        out.append(PublishedEntry(system, paper, table, metrics, notes, extra, _tok(system)))
    return out


PUBLISHED: list[PublishedEntry] = [
    # ---------------------------------------------------------------- NEC Table 1
    *_rows(
        "nec",
        "Table 1",
        _NEC_COLS,
        [
            ("Transformer", 37.62, 18.07, 8.34, 4.57, 2.86, 0.36, 1.35, 47.35),
            ("Multi-TRS", 37.50, 18.78, 8.55, 4.70, 2.95, 0.35, 1.27, 100.11),
            ("MoEL", 36.60, 18.07, 8.30, 4.37, 2.65, 0.59, 2.64, 40.15),
            ("MIME", 37.24, 18.60, 8.39, 4.54, 2.65, 0.47, 1.66, 216.08),
            ("EmpDG", 37.43, 19.96, 9.11, 4.74, 2.80, 0.46, 1.99, 26.94),
            ("CEM", 36.33, 16.12, 7.29, 4.06, 2.03, 0.62, 2.39, 61.26),
        ],
        _NEC_T1 + " " + _PPL_WORD,
    ),
    *_rows(
        "nec",
        "Table 1",
        _NEC_COLS,
        [
            ("DCKS", 16.08, 21.73, 10.62, 6.24, 4.09, 2.19, 9.61, 36.89),
            ("NEC", 12.89, 23.62, 12.14, 7.27, 4.78, 3.15, 13.91, 18.61),
        ],
        _NEC_T1 + " " + _PPL_BPE,
    ),
    *_rows(
        "nec",
        "Table 1",
        ("dist-1", "dist-2", "sent-std"),
        [("Human", 19.49, 43.55, 0.71)],
        _NEC_T1 + " Human: the reference responses.",
    ),
    # ---------------------------------------------------------------- NEC Table 3
    *_rows(
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
        _NEC_T3,
    ),
    # ---------------------------------------------------------------- NEC Table 4 (ablation)
    *_rows(
        "nec",
        "Table 4",
        _NEC_COLS,
        [
            ("NEC", 12.89, 23.62, 12.14, 7.27, 4.78, 3.15, 13.91, 18.61),
            ("NEC w/o Entity", 12.71, 22.56, 11.57, 6.96, 4.61, 2.41, 10.11, 19.31),
            ("NEC w/o Social", 12.63, 23.54, 12.15, 7.08, 4.57, 2.11, 8.02, 19.22),
            ("NEC w/o SelfGen", 11.91, 23.01, 11.73, 6.84, 4.60, 2.15, 10.64, 20.33),
            ("NEC w/o HighFreq", 11.81, 23.42, 12.01, 7.22, 4.69, 3.02, 12.06, 21.12),
            ("NEC w/o DiffEmo", 12.97, 22.91, 11.66, 6.81, 4.62, 2.74, 11.51, 19.66),
        ],
        _NEC_T4,
    ),
    # ---------------------------------------------------------------- CTSM Table 1
    *_rows(
        "ctsm",
        "Table 1",
        ("acc", "ppl", "dist-1", "dist-2"),
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
        _CTSM.format(table="Table 1"),
    ),
    # ---------------------------------------------------------------- CTSM Table 3 (ablation)
    *_rows(
        "ctsm",
        "Table 3",
        ("acc", "ppl", "dist-1", "dist-2"),
        [
            ("CTSM", 43.41, 34.56, 2.00, 7.34),
            ("CTSM w/o TEE", 42.58, 34.68, 1.18, 4.28),
            ("CTSM w/o SEE", 42.63, 35.01, 1.42, 5.06),
            ("CTSM w/o EGM", 39.66, 35.08, 1.72, 6.50),
            ("CTSM w/o CCL", 42.97, 34.42, 1.73, 6.27),
            ("CTSM w/o EGM & CCL", 41.88, 36.35, 1.57, 5.42),
        ],
        _CTSM.format(table="Table 3 (ablation)"),
    ),
    # ---------------------------------------------------------------- IMAGINE Table 1 (automatic part)
    *_rows(
        "imagine",
        "Table 1",
        ("ppl", "bleu-2", "dist-1", "dist-2", "acc"),
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
        _IMAGINE.format(table="Table 1 (automatic columns)", bleu="about 1.3"),
    ),
    # ---------------------------------------------------------------- IMAGINE Table 2 (ablation)
    *_rows(
        "imagine",
        "Table 2",
        ("ppl", "bleu-2", "dist-1", "dist-2", "acc"),
        [
            ("IMAGINE", 35.10, 1.37, 0.76, 3.40, 39.60),
            ("IMAGINE w/o cause", 35.43, 1.35, 0.64, 2.57, 38.60),
            ("IMAGINE w/o cm", 35.58, 1.34, 0.63, 2.84, 38.88),
            ("IMAGINE w/o know", 35.00, 1.36, 0.64, 2.92, 38.50),
            ("IMAGINE w/o DIV", 34.50, 1.37, 0.68, 2.94, 39.10),
        ],
        _IMAGINE.format(table="Table 2 (ablation)", bleu="about 1.3"),
    ),
    # ---------------------------------------------------------------- ETHREED Table 1 (automatic part)
    *_rows(
        "ethreed",
        "Table 1",
        ("acc", "ppl", "dist-1", "dist-2", "bertscore"),
        [
            ("MIME", "17.80M", 0.3239, 37.28, 0.39, 1.56, 0.189),
            ("EmpDG", "29.29M", 0.3278, 36.26, 0.45, 2.13, 0.195),
            ("KEMP", "32.54M", 0.3852, 34.56, 0.61, 2.69, 0.223),
            ("EmpHi", "10.92M", 0.4046, 33.49, 0.98, 4.64, 0.187),
            ("ETHREED", "11.98M", 0.4294, 27.74, 1.14, 4.76, 0.226),
        ],
        _ETHREED.format(table="Table 1 (automatic columns)"),
        scale={"acc": 100.0, "bertscore": 100.0},
        extra_col="params",
    ),
    # ---------------------------------------------------------------- ETHREED Table 3 (ablation)
    *_rows(
        "ethreed",
        "Table 3",
        ("acc", "ppl", "dist-1", "dist-2", "bertscore"),
        [
            ("ETHREED", 0.4294, 27.74, 1.14, 4.76, 0.227),
            ("ETHREED w/o emp-policy", 0.4271, 27.98, 1.09, 4.48, 0.222),
            ("ETHREED w/o GPS", 0.4279, 27.95, 1.07, 4.47, 0.227),
            ("ETHREED w/o GRU_p", 0.4283, 27.77, 1.09, 4.53, 0.226),
            ("ETHREED w/o GRU_e", 0.4349, 27.84, 1.12, 4.69, 0.223),
            ("ETHREED w/o emo-track", 0.4152, 27.81, 1.09, 4.61, 0.228),
        ],
        _ETHREED.format(table="Table 3 (ablation; F_BERT of the full model is 0.227 here vs 0.226 in Table 1)"),
        scale={"acc": 100.0, "bertscore": 100.0},
    ),
]

#: extra spellings -> canonical system key (after normalisation)
_ALIASES = {
    "trs": "transformer",
    "vanilla transformer": "transformer",
    "multitrs": "multi trs",
    "multi task transformer": "multi trs",
    "nec ours": "nec",
    "necours": "nec",
    "e3d": "ethreed",
    # NEC Table 2 / Section 4.6 call the model without the different-emotion negatives "w/o Neg";
    # Table 4 calls the same ablation "w/o DiffEmo".
    "nec without neg": "nec without diffemo",
}


def _key(name: str) -> str:
    s = name.strip().lower()
    s = s.replace("w/o", " without ").replace("_", " ").replace("-", " ")
    s = re.sub(r"\bwo\b", " without ", s)
    s = re.sub(r"[^a-z0-9&]+", " ", s).strip()
    return _ALIASES.get(s, s)


def published_systems() -> list[str]:
    """Every system name in :data:`PUBLISHED`, in first-appearance order."""
    return list(dict.fromkeys(e.system for e in PUBLISHED))


def published_for(system_name: str) -> list[PublishedEntry]:
    """The published entries of one system, matched case-insensitively on a normalised name.

    Normalisation lowercases and treats ``-``, ``_`` and spaces alike, and ``w/o``/``wo`` alike,
    so ``"multi-trs"`` -> ``Multi-TRS``, ``"nec"`` -> ``NEC``, ``"nec w/o entity"`` or
    ``"nec-wo-entity"`` -> ``NEC w/o Entity``; a few aliases (``trs`` -> Transformer; ``NEC w/o Neg``,
    the name NEC's Table 2 uses for the model without different-emotion negatives, -> ``NEC w/o
    DiffEmo`` of Table 4). An unknown system gives ``[]``.
    """
    key = _key(system_name)
    return [e for e in PUBLISHED if _key(e.system) == key]
