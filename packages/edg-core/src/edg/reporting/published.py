"""Published automatic-evaluation numbers: the core baselines' rows, and every plugin's tables.

Each plugin registers its paper's tables through the ``register_published_results`` hook
(edg-nec: ``edg_nec.published``, edg-ctsm: ``edg_ctsm.published``); the core registers only
the rows of its own baselines (Transformer, Multi-TRS) as the papers print them, so that a
baseline's report shows them with no plugin installed. :func:`all_published` merges them
(the first registration of a (paper, table, system) row wins).

Sources (``../shared/papers/*.md``): NEC Tables 1, 3; CTSM Table 1; IMAGINE Table 1
(automatic columns only). Values are mapped onto edg's metric names where the paper's
metric is the same quantity; every way in which a paper's computation differs from (or is
not known to match) edg's definition is written in the entry's ``notes`` -- published
numbers and edg's numbers are NOT directly comparable unless the notes say so. Fractions
are rescaled to percentages. Values a paper does not give (``-``) are left out. Quantities
with no edg counterpart (e.g. parameter counts) go into ``extra``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable


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
PPL_WORD = "PPL: word-level tokenizer (GloVe-vocabulary Transformer baselines), not comparable with BPE PPL."
PPL_BPE = "PPL: BART BPE tokens; not comparable with word-level PPL."
DIST_UNSTATED = (
    "Dist-n: the paper does not say whether it is corpus-level (edg dist-n) or a per-sentence "
    "average (edg dist-n-sent); mapped to dist-n."
)
_NEC_T1 = (
    "NEC Table 1; baseline rows are cited from Cai et al. (2023, DCKS), not re-run by NEC. "
    "BLEU: B-1..B-4 computed with NLTK (smoothing, casing and corpus/sentence level not stated). "
    + DIST_UNSTATED
    + " Sent-Std: NEC's own metric, defined as edg's sent-std (NEC counts 'sentences'; edg splits at , . ? !)."
)
_NEC_T3 = (
    "NEC Table 3 'proportion of top five frequent sentences'; mapped to edg top5 (edg: share of all "
    "clauses split at , . ? ! that are one of the five most frequent). NEC's exact sentence "
    "segmentation is not stated."
)
_CTSM = (
    "CTSM {table}. Acc: 32-way emotion accuracy (%). "
    + PPL_WORD
    + " "
    + DIST_UNSTATED
    + " Baseline numbers as reported by CTSM (mostly copied from the CASE/CEM papers)."
)
_IMAGINE = (
    "IMAGINE {table}. BLEU-2 ({bleu}) is on a different scale from edg's corpus BLEU-2 (NEC reports "
    "about 8.3 for the same baselines): IMAGINE's BLEU computation is unknown, do not compare. "
    + PPL_WORD
    + " "
    + DIST_UNSTATED
    + " ACC: emotion accuracy (%)."
)
_NEC_COLS = ("ppl", "bleu-1", "bleu-2", "bleu-3", "bleu-4", "dist-1", "dist-2", "sent-std")


def rows(paper: str, table: str, cols: tuple[str, ...], values_by_system: list[tuple], notes: str,
         scale: dict[str, float] | None = None, extra_col: str | None = None,
         tokenizer_kind: Callable[[str], str | None] = lambda system: "word") -> list[PublishedEntry]:
    """Entries of one table: ``values_by_system`` holds ``(system, [extra_col value,] value per
    column)`` (``None``: not given by the paper); ``scale`` multiplies a column (fractions ->
    %); ``tokenizer_kind(system)`` is the system's tokenizer as far as the paper tells."""
    out = []
    for row in values_by_system:
        system, *values = row
        extra = {}
        if extra_col is not None:
            extra[extra_col] = values.pop(0)
        metrics = {}
        for col, v in zip(cols, values, strict=True):
            if v is None:
                continue
            metrics[col] = round(v * (scale or {}).get(col, 1.0), 6)
        out.append(PublishedEntry(system, paper, table, metrics, notes, extra, tokenizer_kind(system)))
    return out


PUBLISHED: list[PublishedEntry] = [
    # ---------------------------------------------------------------- NEC Table 1 (core baselines)
    *rows(
        "nec",
        "Table 1",
        _NEC_COLS,
        [
            ("Transformer", 37.62, 18.07, 8.34, 4.57, 2.86, 0.36, 1.35, 47.35),
            ("Multi-TRS", 37.50, 18.78, 8.55, 4.70, 2.95, 0.35, 1.27, 100.11),
        ],
        _NEC_T1 + " " + PPL_WORD,
    ),
    # ---------------------------------------------------------------- NEC Table 3
    *rows("nec", "Table 3", ("top5",), [("Transformer", 32.38), ("Multi-TRS", 46.61)], _NEC_T3),
    # ---------------------------------------------------------------- CTSM Table 1
    *rows("ctsm", "Table 1", ("acc", "ppl", "dist-1", "dist-2"), [("Transformer", None, 37.73, 0.47, 2.04)],
          _CTSM.format(table="Table 1")),
    # ---------------------------------------------------------------- IMAGINE Table 1 (automatic part)
    *rows(
        "imagine",
        "Table 1",
        ("ppl", "bleu-2", "dist-1", "dist-2", "acc"),
        [
            ("Transformer", 37.62, 1.32, 0.45, 2.02, None),
            ("Multi-TRS", 37.75, 1.31, 0.41, 1.67, 33.57),
        ],
        _IMAGINE.format(table="Table 1 (automatic columns)", bleu="about 1.3"),
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
    s = re.sub(r"[^a-z0-9]+", " ", s).strip()  # "w/o EGM & CCL" is the preset wo-egm-ccl
    return _ALIASES.get(s, s)


def all_published() -> list[PublishedEntry]:
    """The core's rows and every installed (and allowed) plugin's registered tables,
    without duplicate (paper, table, system) rows."""
    from edg.plugins import PluginManager

    entries = PluginManager().load(None).published_entries()
    seen: set[tuple[str, str, str]] = set()
    out = []
    for e in entries:
        key = (e.paper, e.table, e.system)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def published_systems() -> list[str]:
    """Every system name in :func:`all_published`, in first-appearance order."""
    return list(dict.fromkeys(e.system for e in all_published()))


def published_for(system_name: str, entries: list[PublishedEntry] | None = None) -> list[PublishedEntry]:
    """The published entries of one system, matched case-insensitively on a normalised name.

    Normalisation lowercases and treats ``-``, ``_`` and spaces alike, and ``w/o``/``wo`` alike,
    so ``"multi-trs"`` -> ``Multi-TRS``, ``"nec"`` -> ``NEC``, ``"nec w/o entity"`` or
    ``"nec-wo-entity"`` -> ``NEC w/o Entity``; a few aliases (``trs`` -> Transformer; ``NEC w/o Neg``,
    the name NEC's Table 2 uses for the model without different-emotion negatives, -> ``NEC w/o
    DiffEmo`` of Table 4). An unknown system gives ``[]``. ``entries`` defaults to
    :func:`all_published`.
    """
    key = _key(system_name)
    return [e for e in (all_published() if entries is None else entries) if _key(e.system) == key]
