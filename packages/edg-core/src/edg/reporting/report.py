"""Markdown / CSV / LaTeX reports: edg's test metrics beside the papers' published numbers."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from edg.errors import CheckpointError, EdgError
from edg.metrics import DEFINITIONS, METRIC_NAMES
from edg.metrics.variants import VARIANTS
from edg.reporting.published import PublishedEntry, published_for
from edg.reporting.run_summary import RunSummary, load_run
from edg.reporting.seeds import aggregate_runs, format_seed_table

MISSING_MD = "–"
MISSING_TEX = "--"


def comparability_notes(runs: list[RunSummary]) -> list[str]:
    """What makes the metrics of ``runs`` not comparable: different evaluation data,
    tokenizers (PPL) or decoding settings, as recorded by the runs."""
    notes = []

    def groups(value) -> dict:
        out: dict = {}
        for r in runs:
            v = value(r)
            if v is not None:
                out.setdefault(json.dumps(v, sort_keys=True), []).append(str(r.run_dir))
        return out

    data = groups(lambda r: r.data_fingerprint and (r.split, r.data_fingerprint))
    if len(data) > 1:
        notes.append("NOT COMPARABLE: the runs were evaluated on different data ("
                     + "; ".join(", ".join(dirs) for dirs in data.values())
                     + "): their metrics do not measure the same thing.")
    toks = groups(lambda r: r.tokenizer_fingerprint)
    if len(toks) > 1:
        notes.append("PPL is not comparable between runs with different tokenizers ("
                     + "; ".join(", ".join(dirs) for dirs in toks.values()) + ").")
    gens = groups(lambda r: r.generation)
    if len(gens) > 1:
        notes.append("The runs decoded with different generation settings ("
                     + "; ".join(", ".join(dirs) for dirs in gens.values()) + ").")
    unknown = [str(r.run_dir) for r in runs if r.data_fingerprint is None]
    if len(runs) > 1 and unknown:
        notes.append(f"No data fingerprint recorded for {', '.join(unknown)}: comparability cannot be checked.")
    return notes


def _fmt(value: float | None, missing: str = MISSING_MD) -> str:
    if value is None:
        return missing
    if math.isinf(value) or math.isnan(value):
        return str(value)
    return f"{value:.2f}"


def metric_definition(name: str) -> str | None:
    """The definition of a metric key a run can report: edg's metrics, the named variants
    (``<variant>:<metric>``) and the accuracies of further predictions (``acc-<name>``)."""
    if name in DEFINITIONS:
        return DEFINITIONS[name]
    variant = name.partition(":")[0]
    if ":" in name and variant in VARIANTS:
        return f"variant {variant}: {VARIANTS[variant].definition}"
    if name.startswith("acc-"):
        return (f"accuracy (x100) of the system's prediction '{name[4:]}' against that label, over the samples "
                f"that have one")
    return None


def format_metrics_table(metrics: dict[str, float]) -> str:
    """A Markdown table ``| metric | value | definition |`` of one set of metrics (values to 2 decimals)."""
    lines = ["| metric | value | definition |", "|---|---:|---|"]
    for name, value in metrics.items():
        lines.append(f"| {name} | {_fmt(value)} | {metric_definition(name) or ''} |")
    return "\n".join(lines) + "\n"


@dataclass
class _Row:
    system: str
    source: str
    seed: str
    tokenizer: str
    metrics: dict[str, float]
    run_dir: str = ""
    notes: str = ""


def _build_rows(runs: list[RunSummary]) -> tuple[list[_Row], list[PublishedEntry]]:
    rows: list[_Row] = []
    used: list[PublishedEntry] = []
    # a run is named by its system and variant (``ctsm wo-egm-ccl``), which also picks the
    # published rows set beside it (CTSM's "w/o EGM & CCL" row of Table 3)
    labels = list(dict.fromkeys(r.label for r in runs))
    for label in labels:
        mine = sorted((r for r in runs if r.label == label), key=lambda r: (r.seed is None, r.seed or 0))
        for r in mine:
            rows.append(
                _Row(
                    system=label,
                    source="ours" if r.split == "test" else f"ours ({r.split})",
                    seed="" if r.seed is None else str(r.seed),
                    tokenizer=r.tokenizer_kind or "",
                    metrics=r.test,
                    run_dir=str(r.run_dir),
                )
            )
        for e in published_for(label):
            used.append(e)
            rows.append(
                _Row(system=e.system, source=e.source, seed="", tokenizer=e.tokenizer_kind or "",
                     metrics=e.metrics, notes=e.notes)
            )
    return rows, used


def _columns(rows: list[_Row]) -> list[str]:
    present = {k for r in rows for k in r.metrics}
    cols = [n for n in METRIC_NAMES if n in present]
    cols += sorted(present - set(METRIC_NAMES))
    return cols


def _tex_escape(text: str) -> str:
    repl = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
    }
    return "".join(repl.get(ch, ch) for ch in text)


def _markdown(rows: list[_Row], cols: list[str], runs: list[RunSummary], used: list[PublishedEntry]) -> str:
    out = ["# edg evaluation report", ""]
    out.append(
        "Rows tagged `ours` are this project's test metrics (edg's evaluator); rows tagged "
        "`published (paper, table)` are the papers' numbers for the same system, computed by each "
        "paper's own code: see the notes below before comparing them."
    )
    out.append("")
    notes = comparability_notes(runs)
    for note in notes:
        out.append(f"**{note}**")
        out.append("")
    head = ["system", "source", "seed", "tokenizer", *cols]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---"] * 4 + ["---:"] * len(cols)) + "|")
    for r in rows:
        cells = [r.system, r.source, r.seed or MISSING_MD, r.tokenizer or MISSING_MD]
        cells += [_fmt(r.metrics.get(c)) for c in cols]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")

    # seed aggregates for systems with several runs

    multi = [s for s in dict.fromkeys(r.label for r in runs) if sum(r.label == s for r in runs) > 1]
    if multi:
        out.append("## Mean ± std over seeds")
        out.append("")
        for s in multi:
            group = [r for r in runs if r.label == s]
            if any(note.startswith("NOT COMPARABLE") for note in comparability_notes(group)):
                out.append(f"{s}: no mean ± std, the runs were evaluated on different data.")
                out.append("")
                continue
            out.append(format_seed_table(aggregate_runs(group), system=s, n=len(group)))

    scored = [r for r in runs if "bertscore" in r.test]
    if scored:
        from edg.metrics.bertscore import format_settings

        out.append("BERTScore settings:")
        out.append("")
        for r in scored:
            out.append(f"- {r.run_dir}: " + (format_settings(r.bertscore) if r.bertscore else
                                              "bertscore: settings not recorded (a run evaluated before edg recorded them)"))
        out.append("")
    kinds = {r.tokenizer_kind for r in runs if r.tokenizer_kind}
    if "ppl" in cols:
        out.append(
            "PPL depends on the tokenizer (word-level vs BPE vs pretrained): compare it only between "
            "rows with the same tokenizer kind"
            + (f" (these runs: {', '.join(sorted(kinds))})." if kinds else ".")
        )
        out.append("")
    out.append("## Metric definitions (edg)")
    out.append("")
    for c in cols:
        out.append(f"- `{c}`: {metric_definition(c) or 'not an edg metric (reported by the run as is)'}")
    out.append("")
    if used:
        out.append("## Notes on published numbers")
        out.append("")
        groups: dict[tuple[str, str], list[str]] = {}
        for e in used:
            groups.setdefault((e.source, e.notes), []).append(e.system)
        for (source, notes), systems in groups.items():
            out.append(f"- {source}, {', '.join(dict.fromkeys(systems))}: {notes}")
        out.append("")
    return "\n".join(out)


def _csv(rows: list[_Row], cols: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["system", "source", "seed", "tokenizer_kind", "run_dir", *cols, "notes"])
    for r in rows:
        vals = ["" if r.metrics.get(c) is None else repr(float(r.metrics[c])) for c in cols]
        w.writerow([r.system, r.source, r.seed, r.tokenizer, r.run_dir, *vals, r.notes])
    return buf.getvalue()


def _latex(rows: list[_Row], cols: list[str]) -> str:
    lines = [
        "% generated by edg.reporting.write_report",
        "\\begin{tabular}{llll" + "r" * len(cols) + "}",
        "\\hline",
        " & ".join(_tex_escape(h) for h in ["System", "Source", "Seed", "Tokenizer", *cols]) + " \\\\",
        "\\hline",
    ]
    for r in rows:
        cells = [_tex_escape(r.system), _tex_escape(r.source), r.seed or MISSING_TEX,
                 _tex_escape(r.tokenizer) or MISSING_TEX]
        cells += [_fmt(r.metrics.get(c), MISSING_TEX) for c in cols]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\hline", "\\end{tabular}", ""]
    return "\n".join(lines)


def write_report(run_dirs: list[str | Path], out_dir: Path | str | None = None) -> str:
    """Build the report of ``run_dirs`` and write ``report.md``, ``report.csv``, ``report.tex``.

    Each run contributes one ``ours`` row (its ``summary.json`` test metrics, seed and tokenizer
    kind); after a system's own rows come the published rows for that system
    (:func:`~edg.reporting.published.published_for`), tagged ``published (paper, table)``. Columns are
    the metrics present in any row, in :data:`edg.metrics.METRIC_NAMES` order. The Markdown also
    holds mean ± std for systems with several runs, the metric definitions, the notes on how
    each paper's numbers differ and, first, what makes the runs not comparable (different
    evaluation data, tokenizers or decoding, from the fingerprints the runs recorded).
    ``out_dir`` defaults to the run directory when there is one run; the report of several
    runs is written only to an ``out_dir`` (never over a run's own report).
    Returns the Markdown. A missing ``summary.json`` raises :class:`~edg.errors.EdgError`
    (:class:`~edg.errors.CheckpointError`) naming the run directory.
    """
    run_dirs = list(run_dirs)
    if not run_dirs:
        raise EdgError("write_report: no run directories given")
    runs = [load_run(d) for d in run_dirs]
    rows, used = _build_rows(runs)
    cols = _columns(rows)
    md = _markdown(rows, cols, runs, used)
    if out_dir is None and len(run_dirs) > 1:
        return md
    from edg.runs import atomic_write_text

    out = Path(out_dir) if out_dir is not None else Path(run_dirs[0])
    atomic_write_text(out / "report.md", md)
    atomic_write_text(out / "report.csv", _csv(rows, cols))
    atomic_write_text(out / "report.tex", _latex(rows, cols))
    return md
