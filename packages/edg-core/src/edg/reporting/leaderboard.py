"""``docs/leaderboard.md``: every released test output file we have, rescored, beside the
figures published for it (``edg leaderboard``).

Each file of :data:`SOURCES` (``../shared/data/published_outputs``, described in its README.md)
is read with :mod:`edg.metrics.released_formats` and rescored twice: under edg's one definition
of every metric (:mod:`edg.metrics`) and under the definition the authors' own code used (a named
variant of :mod:`edg.metrics.variants`, with the authors' parsing quirk where their script had
one). The figures published for the system (every registered row of
:func:`edg.reporting.published.published_for`, and the figures the file's own header prints)
are set beside them, each with a note computed from the numbers: which rescoring reproduces it
to the precision it was printed with (searching edg's definitions and every variant, on every
decoding the file holds), or, if none does, the nearest and the gap, with what is known of where
that figure comes from. A file holding several decodings (MIME: greedy, beam, top-k) also gets a
paired bootstrap of the decodings against greedy (:mod:`edg.metrics.significance`).

The page is generated, never typed: :func:`build_leaderboard` is deterministic (fixed bootstrap
seed, no paths or dates), and a test checks that regenerating it gives the committed file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from edg.errors import DataError

#: the command that writes docs/leaderboard.md (printed at the top of the page)
COMMAND = "edg leaderboard --published-outputs ../shared/data/published_outputs --out docs/leaderboard.md"
#: bootstrap resamples of the decodings' significance table
SAMPLES = 1000
#: metrics of the rescored tables, in order
ROWS = ("bleu-1", "bleu-2", "bleu-3", "bleu-4", "dist-1", "dist-2", "dist-1-sent", "dist-2-sent", "sent-std", "top5",
        "acc")
_DECODING_NAMES = {"greedy": "greedy", "beam": "beam", "topk": "top-k", None: "released"}


@dataclass(frozen=True)
class ReleasedSource:
    """One released outputs file and how its authors scored it."""

    system: str
    """the system's name in the published rows"""
    file: str
    origin: str
    format: str
    decodings: tuple[str | None, ...]
    """the systems/decodings of the file (``None``: a single-system file)"""
    authors_variants: dict[str, str]
    """metric -> the variant of edg.metrics.variants that the authors' code computed"""
    quirks: bool
    """whether the authors' script parsed the file with ``line.strip(prefix)``"""
    authors_code: str
    """one line: what the authors' code computed"""
    context: dict[str, str] = field(default_factory=dict)
    """paper key of a published row -> where those figures come from"""


SOURCES: tuple[ReleasedSource, ...] = (
    ReleasedSource(
        system="MIME",
        file="mime_output.txt",
        origin="declare-lab/MIME @ 7c34f3ae, output.txt",
        format="mime",
        decodings=("greedy", "beam", "topk"),
        authors_variants={f"bleu-{n}": "bleu-corpus-nosmooth" for n in range(1, 5)},
        quirks=False,
        authors_code=("MIME's code prints BLEU by Moses multi-bleu.perl: unsmoothed corpus BLEU-4 on whitespace "
                      "tokens (edg variant `bleu-corpus-nosmooth`; the file is lowercased, so case does not "
                      "matter); it prints no Distinct"),
        context={
            "file": "printed by MIME's own code in the file's header when it wrote these outputs",
            "nec": ("NEC cites its Table 1 baseline rows from DCKS (Cai et al. 2023), decoding not stated; "
                    "Sent-Std and Table 3 are NEC's own metrics"),
            "ctsm": "CTSM's baseline rows, mostly copied from the CASE/CEM papers",
            "imagine": "IMAGINE's BLEU computation is not stated (its BLEU-2 is on another scale than NLTK's)",
            "ethreed": "the ETHREED authors re-ran the baselines (mean of 5 seeds); F_BERT with roberta-large",
        },
    ),
    ReleasedSource(
        system="KEMP",
        file="kemp_KEMP.txt",
        origin="qtli/KEMP @ b9a4fd58, result/KEMP/KEMP.txt",
        format="pred-ref",
        decodings=(None,),
        authors_variants={"bleu-1": "bleu-corpus-nosmooth", "bleu-2": "bleu-corpus-nosmooth",
                          "bleu-3": "bleu-corpus-nosmooth", "bleu-4": "bleu-corpus-nosmooth",
                          "dist-1": "dist-concat", "dist-2": "dist-concat"},
        quirks=True,
        authors_code=("KEMP's result/cal_metrics.py: TF-NMT compute_bleu (unsmoothed corpus BLEU, edg variant "
                      "`bleu-corpus-nosmooth`) and Distinct-n over all responses with bigrams joined as strings "
                      "(`dist-concat`), on texts parsed with line.strip('Pred:') / line.strip('Ref:') (the quirk)"),
        context={
            "kemp-release": "printed by KEMP's result/cal_metrics.py for this file",
            "ctsm": "KEMP's paper figures as CTSM copies them (the KEMP paper itself is not in ../shared/papers)",
            "imagine": "KEMP's paper figures as IMAGINE copies them; IMAGINE's BLEU-2 is on another scale",
            "ethreed": "the ETHREED authors re-ran the baselines (mean of 5 seeds); F_BERT with roberta-large",
        },
    ),
)


@dataclass
class Scored:
    """One decoding of one file, rescored."""

    decoding: str | None
    edg: dict[str, float]
    """edg's definitions, the file parsed exactly"""
    authors: dict[str, float]
    """metric -> value under the authors' definition (and parsing)"""
    candidates: dict[str, dict[str, float]]
    """metric -> {label of a definition: value}: everything searched when matching a published figure"""
    records: list[dict]
    rows: list[tuple[int, dict]]


@dataclass(frozen=True)
class Published:
    """A published figure for a system."""

    source: str
    key: str
    """paper key (``nec``...) or ``file`` for the file's own header"""
    metric: str
    value: float
    text: str
    """as printed"""
    decoding: str | None = None
    """the decoding it is of, when known"""


def _decimals(value: float) -> int:
    text = f"{value:.6f}".rstrip("0")
    return max(2, len(text.split(".")[1]) if "." in text else 0)


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}"


def _score(path: Path, source: ReleasedSource, decoding: str | None) -> Scored:
    from edg.metrics import compute_metrics
    from edg.metrics.released_formats import read_released
    from edg.metrics.variants import resolve_variants, score_variants

    def rescore(quirks: bool) -> tuple[object, dict[str, float], dict[str, float]]:
        released = read_released(path, source.format, decoding, quirks)
        recs = released.records
        has_acc = all(r.get("emotion") is not None and r.get("pred_emotion") is not None for r in recs)
        metrics = compute_metrics([r["hypothesis"] for r in recs], [r["reference"] for r in recs],
                                  gold_emotions=[r["emotion"] for r in recs] if has_acc else None,
                                  pred_emotions=[r["pred_emotion"] for r in recs] if has_acc else None)
        has_nll = all(r.get("nll") is not None for r in recs)
        variants = score_variants(recs, resolve_variants(["all"], has_nll=has_nll))
        return released, metrics, variants

    released, edg, variants = rescore(False)
    runs = [("", edg, variants)]
    if source.quirks:
        _, edg_q, variants_q = rescore(True)
        runs.append((" + quirk", edg_q, variants_q))
    where = "" if decoding is None else f" ({_DECODING_NAMES[decoding]})"
    candidates: dict[str, dict[str, float]] = {}
    for suffix, metrics, var in runs:
        for name, value in metrics.items():
            candidates.setdefault(name, {})[f"edg{suffix}{where}"] = value
        for key, value in var.items():
            variant, metric = key.split(":", 1)
            candidates.setdefault(metric, {})[f"`{variant}`{suffix}{where}"] = value
    authors_run = runs[-1] if source.quirks else runs[0]
    authors = {m: authors_run[2][f"{v}:{m}"] for m, v in source.authors_variants.items()
               if f"{v}:{m}" in authors_run[2]}
    return Scored(decoding, edg, authors, candidates, released.records, released.rows)


def published_figures(source: ReleasedSource, header: dict[str, str]) -> list[Published]:
    """The figures published for ``source.system``: the file's own header (``mime``: PPL,
    Accuracy, Bleu_g/b/t) and every registered row (a release row that repeats the header is left
    out; its extra figures such as ``dist-1 (cal_metrics.py)`` are included)."""
    from edg.metrics import METRIC_NAMES
    from edg.reporting.published import published_for

    out: list[Published] = []
    own = f"{source.file} header (authors' code)"
    header_map = {"PPL": ("ppl", None, 1.0), "Accuracy": ("acc", None, 100.0), "Bleu_g": ("bleu-4", "greedy", 1.0),
                  "Bleu_b": ("bleu-4", "beam", 1.0), "Bleu_t": ("bleu-4", "topk", 1.0)}
    for name, text in header.items():
        if name in header_map:
            metric, decoding, scale = header_map[name]
            value = float(text) * scale
            shown = text if scale == 1.0 else f"{text} (= {value:.2f}%)"
            out.append(Published(own, "file", metric, value, shown, decoding))
    for entry in published_for(source.system):
        if header and entry.paper.endswith("-release"):
            continue  # the same figures as the file's header
        label = f"{entry.paper} {entry.table}" if not entry.paper.endswith("-release") else \
            f"{entry.paper} ({entry.table}, authors' script)"
        for metric, value in entry.metrics.items():
            out.append(Published(label, entry.paper, metric, value, f"{value:g}"))
        for name, text in entry.extra.items():
            metric = name.split(" ", 1)[0]
            if metric in METRIC_NAMES:
                how = name.split(" ", 1)[1].strip("()") if " " in name else ""
                out.append(Published(label, entry.paper, metric, float(text), f"{text} ({how})" if how else text))
    return out


def gap_note(fig: Published, scored: list[Scored], source: ReleasedSource) -> str:
    """Which rescorings reproduce ``fig`` to its printed precision, or the nearest and the gap."""
    if fig.metric == "ppl":
        return "not rescorable: the file holds no per-sample NLL"
    if fig.metric == "acc" and not any("acc" in s.edg for s in scored):
        return "not rescorable: the file holds no predicted emotions"
    if fig.metric == "bertscore":
        return ("not rescored here: roberta-large (layer 17) is not available offline; "
                "`edg score FILE --bertscore-model roberta-large` computes it online")
    pool: dict[str, float] = {}
    for s in scored:
        if fig.decoding is None or s.decoding == fig.decoding:
            pool.update(s.candidates.get(fig.metric, {}))
    if not pool:
        return f"edg has no rescoring of {fig.metric} for this file"
    tolerance = 0.5 * 10 ** -_decimals(fig.value) + 1e-9
    matches = [label for label, v in pool.items() if abs(v - fig.value) <= tolerance]
    if matches:
        shown = ", ".join(matches[:3]) + (f" and {len(matches) - 3} more" if len(matches) > 3 else "")
        return f"reproduced by {shown}"
    label, nearest = min(pool.items(), key=lambda kv: (abs(kv[1] - fig.value), kv[0]))
    return (f"no definition edg knows gives it on this file; nearest {label} {nearest:.2f} "
            f"({nearest - fig.value:+.2f})")


def _rescored_table(source: ReleasedSource, scored: list[Scored]) -> list[str]:
    head = ["metric"]
    for s in scored:
        name = _DECODING_NAMES[s.decoding]
        head += [f"{name}: edg", f"{name}: authors'"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for metric in ROWS:
        if not any(metric in s.edg for s in scored):
            continue
        cells = [f"`{metric}`"]
        for s in scored:
            cells += [_fmt(s.edg.get(metric)), _fmt(s.authors.get(metric))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _published_table(source: ReleasedSource, scored: list[Scored], figures: list[Published]) -> list[str]:
    main = next(s for s in scored if s.decoding in ("greedy", None))
    name = _DECODING_NAMES[main.decoding]
    lines = [f"| published in | metric | figure | edg ({name}) | authors' definition ({name}) | note |",
             "|---|---|---:|---:|---:|---|"]
    for fig in figures:
        s = next((x for x in scored if x.decoding == fig.decoding), main)
        dec = "" if fig.decoding is None or len(scored) == 1 else f", {_DECODING_NAMES[fig.decoding]}"
        note = gap_note(fig, scored, source)
        lines.append(f"| {fig.source} | `{fig.metric}`{dec} | {fig.text} | {_fmt(s.edg.get(fig.metric))} | "
                     f"{_fmt(s.authors.get(fig.metric))} | {note} |")
    lines += ["", "Where the figures come from:", ""]
    for fig in dict.fromkeys((f.source, f.key) for f in figures):
        if fig[1] in source.context:
            lines.append(f"- {fig[0]}: {source.context[fig[1]]}.")
    return lines


def _significance(scored: list[Scored], samples: int) -> list[str]:
    from edg.metrics.significance import compare_rows

    base = scored[0]
    outside = []
    lines = ["| B vs A | metric | A | B | B - A | 95% CI | p |", "|---|---|---:|---:|---:|---|---:|"]
    for other in scored[1:]:
        comp = compare_rows(base.rows, other.rows, ["bleu-1", "bleu-2", "bleu-4", "dist-1", "dist-2", "sent-std"],
                            samples=samples, seed=1)
        for r in comp.rows:
            if not r.ci_low <= r.diff <= r.ci_high:
                outside.append(f"{r.name} ({_DECODING_NAMES[other.decoding]})")
            lines.append(f"| {_DECODING_NAMES[other.decoding]} vs {_DECODING_NAMES[base.decoding]} | `{r.name}` | "
                         f"{r.a:.2f} | {r.b:.2f} | {r.diff:+.2f} | [{r.ci_low:.2f}, {r.ci_high:.2f}] | "
                         f"{r.p:.3f} |")
    if outside:
        lines += ["", f"Outside its interval: {', '.join(outside)}. A resample repeats some responses, which shifts "
                      "type-count metrics (Distinct falls, sent-std grows) for both decodings, so their resampled "
                      "differences are biased and the percentile interval misses the observed difference; read "
                      "their p-values (the sign of the difference across resamples), not their intervals."]
    return lines


def _reference_overlap(scored: dict[str, Scored]) -> list[str]:
    """Why files of different systems are not compared pairwise (their references differ)."""
    from edg.metrics.distinct import tokenize

    names = list(scored)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ra, rb = scored[a].records, scored[b].records
            if len(ra) != len(rb):
                out.append(f"- {a} and {b}: {len(ra)} vs {len(rb)} samples; not compared pairwise.")
                continue
            differ = [k for k, (x, y) in enumerate(zip(ra, rb)) if tokenize(x["reference"]) != tokenize(y["reference"])]
            if differ:
                k = differ[0]
                ta, tb = tokenize(ra[k]["reference"]), tokenize(rb[k]["reference"])
                at = next(i for i, (x, y) in enumerate(zip([*ta, ""], [*tb, ""])) if x != y)
                start = max(0, at - 2)
                out.append(f"- {a} and {b}: {len(ra):,} test samples each, in the same order, but {len(differ)} "
                           f"references are tokenised differently (e.g. sample {k + 1}: `... {' '.join(ta[start:at + 3])} "
                           f"...` vs `... {' '.join(tb[start:at + 5])} ...`), so the two systems are not compared "
                           f"by a paired test (it needs identical references).")
            else:
                out.append(f"- {a} and {b}: identical references; compare them with `edg score A --compare B`.")
    return out


def build_leaderboard(published_outputs: str | Path, *, samples: int = SAMPLES) -> str:
    """The Markdown of docs/leaderboard.md from the released files in ``published_outputs``."""
    from edg.metrics.released_formats import read_released
    from edg.metrics.variants import VARIANTS

    root = Path(published_outputs)
    if not root.is_dir():
        raise DataError(f"{root}: no such directory (the released outputs, ../shared/data/published_outputs)")
    out = [
        "# Leaderboard: released test outputs, rescored",
        "",
        "Generated by `edg.reporting.leaderboard` with this command, run from the repository root (about 15 s):",
        "",
        "```",
        COMMAND,
        "```",
        "",
        "Do not edit by hand: `packages/edg-core/tests/test_leaderboard.py` checks that regenerating it",
        "gives this file.",
        "",
        "Every released test output file we have (`../shared/data/published_outputs`, see its README.md) is",
        "rescored from its responses and references: under edg's one definition of each metric",
        "([metrics.md](metrics.md)), and under the definition the authors' own code used (a named variant of",
        "`edg.metrics.variants`, with the authors' parsing quirk where their script had one). Beside them are",
        "the figures published for the system: the file's own header and every registered published row",
        "(`edg.reporting.published`). A figure is *reproduced* when some rescoring equals it to the",
        "precision it was printed with (at least 2 decimals); the note names every definition and",
        "decoding searched that does, or else the nearest and the gap, and where the figure comes from.",
        "",
    ]
    scored_by_system: dict[str, Scored] = {}
    for source in SOURCES:
        path = root / source.file
        if not path.is_file():
            raise DataError(f"{path}: released outputs file not found (expected in {root})")
        scored = [_score(path, source, d) for d in source.decodings]
        first = read_released(path, source.format, source.decodings[0], False)
        described = dataclasses.replace(first, path=Path(source.file)).describe()
        out += [f"## {source.system}: `{source.file}` ({source.origin})", ""]
        out += [f"{len(scored[0].records):,} samples; {described}.", ""]
        out += [f"Authors' definition: {source.authors_code}.", ""]
        out += _rescored_table(source, scored)
        out += ["", "### Beside the published figures", ""]
        out += _published_table(source, scored, published_figures(source, first.reported))
        if len(scored) > 1:
            out += ["", "### The decodings against greedy (paired bootstrap, edg's definitions)", ""]
            out += _significance(scored, samples)
            out += ["", f"{samples} resamples of the {len(scored[0].records):,} samples, seed 1; see "
                        "[significance.md](significance.md) for the definitions (p = min(1, 2(k+1)/(N+1)))."]
        out.append("")
        scored_by_system[source.system] = next(s for s in scored if s.decoding in ("greedy", None))
    out += ["## Between systems", ""]
    out += _reference_overlap(scored_by_system)
    out += ["", "## Definitions searched", ""]
    out.append("- `edg`: edg's one definition of the metric ([metrics.md](metrics.md)); `+ quirk`: the file parsed "
               "as the authors' script did (`line.strip(prefix)`).")
    for name, v in VARIANTS.items():
        if v.needs_nll:
            continue
        out.append(f"- `{name}`: {v.definition}.")
    out.append("")
    return "\n".join(out)


def write_leaderboard(published_outputs: str | Path, out: str | Path, *, samples: int = SAMPLES) -> str:
    """Build the leaderboard and write it to ``out``; returns the Markdown."""
    from edg.runs import atomic_write_text

    md = build_leaderboard(published_outputs, samples=samples)
    atomic_write_text(Path(out), md)
    return md

