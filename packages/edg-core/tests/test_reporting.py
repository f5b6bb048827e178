"""Reports, published numbers, seed aggregates and plots on small synthetic run directories."""

from __future__ import annotations

import csv
import json
import math

import pytest
from edg.errors import DataError, EdgError
from edg.metrics import METRIC_NAMES
from edg.metrics.accuracy import emotion_labels
from edg.reporting import (
    PUBLISHED,
    aggregate_seeds,
    format_mean_std,
    format_metrics_table,
    format_seed_table,
    plot_confusion_matrix,
    plot_loss_curves,
    published_for,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_run(root, name, system="transformer", seed=0, test=None, tokenizer="word", outputs=None, metrics=None,
             preset=None):
    rd = root / name
    rd.mkdir(parents=True)
    (rd / "config.yaml").write_text(f"system: {system}\nseed: {seed}\n" + (f"preset: {preset}\n" if preset else ""))
    summary = {
        "system": system,
        "seed": seed,
        "tokenizer_kind": tokenizer,
        "best_step": 100,
        "test": test if test is not None else {"ppl": 40.0, "bleu-1": 15.0, "dist-1": 0.5},
    }
    (rd / "summary.json").write_text(json.dumps(summary))
    if metrics is not None:
        (rd / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    if outputs is not None:
        (rd / "test_outputs.jsonl").write_text("".join(json.dumps(o) + "\n" for o in outputs))
    return rd


# ------------------------------------------------------------------ published numbers
def test_published_transcription_spot_checks():
    from edg.reporting.published import all_published

    PUBLISHED = all_published()  # the core's rows and every installed plugin's
    nec1 = {e.system: e for e in PUBLISHED if e.paper == "nec" and e.table == "Table 1"}
    assert nec1["Transformer"].metrics == {
        "ppl": 37.62, "bleu-1": 18.07, "bleu-2": 8.34, "bleu-3": 4.57, "bleu-4": 2.86,
        "dist-1": 0.36, "dist-2": 1.35, "sent-std": 47.35,
    }
    assert nec1["NEC"].metrics["sent-std"] == 18.61 and nec1["MIME"].metrics["sent-std"] == 216.08
    assert nec1["Human"].metrics == {"dist-1": 19.49, "dist-2": 43.55, "sent-std": 0.71}
    nec3 = {e.system: e.metrics["top5"] for e in PUBLISHED if e.table == "Table 3" and e.paper == "nec"}
    assert nec3["MoEL"] == 25.97 and nec3["NEC"] == 20.32
    ctsm = {e.system: e for e in PUBLISHED if e.paper == "ctsm" and e.table == "Table 1"}
    assert "acc" not in ctsm["Transformer"].metrics and ctsm["CASE"].metrics["acc"] == 40.20
    eth = {e.system: e for e in PUBLISHED if e.paper == "ethreed" and e.table == "Table 1"}
    assert eth["ETHREED"].metrics["acc"] == pytest.approx(42.94)
    assert eth["ETHREED"].metrics["bertscore"] == pytest.approx(22.6)
    assert eth["EmpHi"].extra["params"] == "10.92M"
    for e in PUBLISHED:
        assert set(e.metrics) <= set(METRIC_NAMES), e
        assert e.notes and e.paper in {"nec", "ctsm", "imagine", "ethreed", "mime-release", "kemp-release"}


def test_a_run_is_named_by_its_variant_and_set_beside_that_published_row(tmp_path):
    full = make_run(tmp_path, "full", system="ctsm", seed=1)
    # "tiny" and the "tiny-" prefix of combined presets (NEC's tiny-wo-social) do not make a variant
    ablated = [make_run(tmp_path, f"wo{seed}", system="ctsm", seed=seed, preset=("tiny,wo-egm-ccl", "tiny-wo-egm-ccl")[seed - 1],
                        test={"ppl": 40.0 + seed, "acc": 30.0}) for seed in (1, 2)]
    md = write_report([*ablated, full], tmp_path / "out")
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    systems = [line.split(" | ")[0][2:] + " / " + line.split(" | ")[1] for line in lines[1:]]
    # the variant's runs, then only its own published row (Table 3's "w/o EGM & CCL"), then the full model's
    assert systems[:3] == ["ctsm wo-egm-ccl / ours", "ctsm wo-egm-ccl / ours",
                           "CTSM w/o EGM & CCL / published (ctsm, Table 3)"]
    assert systems[3] == "ctsm / ours" and "CTSM / published (ctsm, Table 1)" in systems[4:]
    assert "CTSM w/o EGM & CCL / published (ctsm, Table 3)" not in systems[4:]
    assert "| ctsm wo-egm-ccl | 2 | 41.50 ± 0.71" in md  # the seeds of the variant are aggregated apart
    with pytest.raises(EdgError, match="different systems"):
        aggregate_seeds([ablated[0], full])


def test_published_table_sizes():
    from edg.reporting.published import all_published

    published = all_published()

    def count(paper, table):
        return sum(e.paper == paper and e.table == table for e in published)

    assert count("nec", "Table 1") == 9
    assert count("nec", "Table 3") == 8
    assert count("nec", "Table 4") == 6
    assert count("ctsm", "Table 1") == 8
    assert count("ctsm", "Table 3") == 6
    assert count("imagine", "Table 1") >= 2  # the baselines' rows; IMAGINE's own come with edg-imagine
    assert count("ethreed", "Table 1") == 5
    assert count("ethreed", "Table 3") == 6


def test_published_for_name_matching():
    assert {e.paper for e in published_for("transformer")} == {"nec", "ctsm", "imagine"}
    assert all(e.system == "Multi-TRS" for e in published_for("multi-trs")) and published_for("MULTI_TRS")
    assert [e.table for e in published_for("nec")] == ["Table 1", "Table 3", "Table 4"]
    assert published_for("nec w/o neg")[0].system == "NEC w/o DiffEmo"
    assert published_for("NEC-wo-Entity")[0].metrics["ppl"] == 12.71
    assert published_for("ctsm")[0].metrics["acc"] == 43.41
    assert published_for("no such system") == []


# ------------------------------------------------------------------ report
def test_write_report(tmp_path):
    r1 = make_run(tmp_path, "t0", seed=0, test={"ppl": 40.0, "bleu-1": 15.0, "dist-1": 0.5})
    r2 = make_run(tmp_path, "t1", seed=1, test={"ppl": 42.0, "bleu-1": 17.0, "dist-1": 0.7})
    r3 = make_run(tmp_path, "nec0", system="nec", seed=3, tokenizer="bpe", test={"ppl": 13.5, "sent-std": 20.0})
    out = tmp_path / "report"
    md = write_report([r1, r2, r3], out)
    assert (out / "report.md").read_text() == md
    lines = md.splitlines()
    header = next(ln for ln in lines if ln.startswith("| system"))
    cols = [c.strip() for c in header.strip("|").split("|")]
    assert cols[:4] == ["system", "source", "seed", "tokenizer"]
    assert cols[4:] == [n for n in METRIC_NAMES if n in cols]  # report order
    assert "top5" in cols  # a published metric column appears too
    ours = [ln for ln in lines if "| ours |" in ln]
    assert len(ours) == 3
    assert ours[0].startswith("| transformer | ours | 0 | word | 40.00 | 15.00 |")
    assert any(ln.startswith("| Transformer | published (nec, Table 1) |") and "37.62" in ln for ln in lines)
    assert any(ln.startswith("| Transformer | published (ctsm, Table 1) |") and "37.73" in ln for ln in lines)
    assert any(ln.startswith("| NEC | published (nec, Table 3) |") and "20.32" in ln for ln in lines)
    # rows grouped: the transformer rows come before the nec rows
    assert lines.index(ours[1]) < lines.index(ours[2])
    assert "Mean ± std over seeds" in md and "41.00 ± 1.41" in md
    assert "Metric definitions" in md and "`sent-std`: NEC Sent-Std" in md
    assert "Notes on published numbers" in md

    with (out / "report.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    t0 = next(r for r in rows if r["source"] == "ours" and r["seed"] == "0")
    assert float(t0["ppl"]) == 40.0 and t0["top5"] == "" and t0["tokenizer_kind"] == "word"
    pub = next(r for r in rows if r["source"] == "published (nec, Table 1)" and r["system"] == "NEC")
    assert float(pub["bleu-4"]) == 4.78 and pub["notes"]
    tex = (out / "report.tex").read_text()
    assert "\\begin{tabular}" in tex and "\\end{tabular}" in tex
    assert "sent-std" in tex and "37.62" in tex and "--" in tex
    body = [ln for ln in tex.splitlines() if ln.endswith("\\\\")]
    ncols = 4 + len(cols) - 4
    assert all(ln.count(" & ") == ncols - 1 for ln in body)


def test_write_report_default_out_dir_and_escaping(tmp_path):
    r = make_run(tmp_path, "ab", system="ctsm w/o egm & ccl", test={"acc": 40.0})
    md = write_report([str(r)])
    assert (r / "report.md").is_file() and (r / "report.csv").is_file() and (r / "report.tex").is_file()
    assert "published (ctsm, Table 3)" in md
    assert "CTSM w/o EGM \\& CCL" in (r / "report.tex").read_text()


def test_write_report_missing_summary(tmp_path):
    good = make_run(tmp_path, "good")
    bad = tmp_path / "unfinished-run"
    bad.mkdir()
    with pytest.raises(EdgError, match="unfinished-run"):
        write_report([good, bad])
    with pytest.raises(EdgError):
        write_report([])


def test_format_metrics_table():
    md = format_metrics_table({"bleu-1": 12.3456, "dist-1": 0.5, "custom": 1.0})
    lines = md.strip().splitlines()
    assert lines[0] == "| metric | value | definition |"
    assert lines[2].startswith("| bleu-1 | 12.35 | nltk corpus_bleu")
    assert lines[4] == "| custom | 1.00 |  |"


def test_variant_and_further_prediction_keys_get_their_definitions():
    from edg.metrics.variants import VARIANTS

    md = format_metrics_table({"bleu-corpus-nosmooth:bleu-4": 2.76, "acc-cm_er": 61.0, "custom:x": 1.0})
    rows = md.strip().splitlines()[2:]
    assert rows[0] == f"| bleu-corpus-nosmooth:bleu-4 | 2.76 | variant bleu-corpus-nosmooth: {VARIANTS['bleu-corpus-nosmooth'].definition} |"
    assert "prediction 'cm_er'" in rows[1]
    assert rows[2] == "| custom:x | 1.00 |  |"


# ------------------------------------------------------------------ seeds
def test_aggregate_seeds(tmp_path):
    runs = [
        make_run(tmp_path, f"s{i}", seed=i, test={"bleu-1": v, "ppl": 30.0, **({"acc": 1.0} if i else {})})
        for i, v in enumerate([10.0, 12.0, 14.0])
    ]
    agg = aggregate_seeds(runs)
    assert list(agg) == ["ppl", "bleu-1"]  # acc is not in every run; report order
    assert agg["bleu-1"] == (pytest.approx(12.0), pytest.approx(2.0))  # sample std (n - 1)
    assert agg["ppl"] == (30.0, 0.0)
    assert format_mean_std(*agg["bleu-1"]) == "12.00 ± 2.00"
    table = format_seed_table(agg, system="transformer", n=3)
    assert "| transformer | 3 | 30.00 ± 0.00 | 12.00 ± 2.00 |" in table
    assert aggregate_seeds(runs[:1])["bleu-1"] == (10.0, 0.0)
    other = make_run(tmp_path, "other", system="nec")
    with pytest.raises(EdgError, match="different systems"):
        aggregate_seeds([runs[0], other])


# ------------------------------------------------------------------ plots
def test_plot_loss_curves(tmp_path):
    metrics = [{"step": s, "split": "train", "loss": 5.0 / (s + 1), "lr": 1e-3} for s in range(0, 100, 10)]
    metrics += [{"step": s, "split": "valid", "loss": 6.0 / (s + 1), "ppl": math.exp(6.0 / (s + 1))} for s in (50, 100)]
    metrics.append({"step": 100, "split": "valid", "acc": 30.0})  # no loss: skipped
    rd = make_run(tmp_path, "run", metrics=metrics)
    png = plot_loss_curves(rd)
    assert png == rd / "loss_curves.png"
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 1000


def test_plot_loss_curves_errors(tmp_path):
    rd = make_run(tmp_path, "run")
    with pytest.raises(EdgError, match="metrics.jsonl"):
        plot_loss_curves(rd)
    (rd / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": 1.0}\n{oops\n')
    with pytest.raises(DataError, match=r"metrics\.jsonl:2"):
        plot_loss_curves(rd)
    (rd / "metrics.jsonl").write_text('{"step": 1, "split": "train", "lr": 1.0}\n')
    with pytest.raises(EdgError, match="no loss"):
        plot_loss_curves(rd)


def test_plot_confusion_matrix(tmp_path):
    labels = emotion_labels()
    assert len(labels) == 32 and labels[0] == "surprised" and labels[-1] == "faithful"
    outputs = [
        {"id": i, "context": ["x"], "hypothesis": "h", "reference": "r", "emotion": labels[i % 32],
         "pred_emotion": labels[(i * 7) % 32] if i % 3 else i % 32}
        for i in range(100)
    ]
    rd = make_run(tmp_path, "run", outputs=outputs)
    png = plot_confusion_matrix(rd)
    assert png == rd / "confusion_matrix.png"
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_plot_confusion_matrix_none_and_errors(tmp_path):
    rd = make_run(tmp_path, "nopred", outputs=[{"id": 0, "hypothesis": "h", "reference": "r", "emotion": "sad"}])
    assert plot_confusion_matrix(rd) is None
    assert not (rd / "confusion_matrix.png").exists()
    bad = make_run(
        tmp_path, "bad",
        outputs=[{"hypothesis": "h", "reference": "r", "emotion": "sad", "pred_emotion": "sad"},
                 {"hypothesis": "h", "reference": "r", "emotion": "sad", "pred_emotion": "hungry"}],
    )
    with pytest.raises(DataError, match=r"test_outputs\.jsonl:2: unknown emotion label 'hungry'"):
        plot_confusion_matrix(bad)


def test_report_valid_only_run_and_published_tokenizer(tmp_path):
    rd = tmp_path / "validrun"
    rd.mkdir()
    (rd / "summary.json").write_text(json.dumps({"system": "nec", "seed": 1, "tokenizer_kind": "bpe",
                                                 "best_step": 3, "valid": {"ppl": 15.0}}))
    md = write_report([rd])
    assert "| nec | ours (valid) | 1 | bpe | 15.00 |" in md
    assert "| NEC | published (nec, Table 1) | – | bpe | 12.89 |" in md
    assert all(e.tokenizer_kind == "word" for e in published_for("transformer"))


def test_format_seed_table_without_label(tmp_path):
    runs = [make_run(tmp_path, f"s{i}", seed=i, test={"acc": 30.0 + i}) for i in range(2)]
    table = format_seed_table(aggregate_seeds(runs))
    assert table.splitlines()[0] == "| system | n | acc |"
    assert "30.50 ± 0.71" in table


# ------------------------------------------------------------------ provenance and comparability
def _with_evaluation(rd, data="d" * 64, tokenizer="t" * 64, strategy="greedy"):
    summary = json.loads((rd / "summary.json").read_text())
    summary["evaluations"] = {"test": {"split": "test", "settings": {"generation": {"strategy": strategy}},
                                       "fingerprints": {"data": data, "tokenizer": tokenizer},
                                       "metrics": summary["test"]}}
    (rd / "summary.json").write_text(json.dumps(summary))
    return rd


def test_report_of_several_runs_does_not_overwrite_a_run_report(tmp_path):
    a = _with_evaluation(make_run(tmp_path, "a", seed=1))
    b = _with_evaluation(make_run(tmp_path, "b", seed=2))
    (a / "report.md").write_text("a's own report\n")
    md = write_report([a, b])
    assert (a / "report.md").read_text() == "a's own report\n"
    assert not (a / "report.csv").exists() and not (b / "report.md").exists()
    assert "NOT COMPARABLE" not in md and "40.00 ± 0.00" in md
    write_report([a, b], tmp_path / "out")
    assert (tmp_path / "out" / "report.md").read_text() == md


def test_report_says_when_runs_are_not_comparable(tmp_path):
    a = _with_evaluation(make_run(tmp_path, "a", seed=1, test={"ppl": 40.0}), data="1" * 64)
    b = _with_evaluation(make_run(tmp_path, "b", seed=2, test={"ppl": 42.0}), data="2" * 64, tokenizer="u" * 64,
                         strategy="beam")
    md = write_report([a, b], tmp_path / "out")
    assert f"NOT COMPARABLE: the runs were evaluated on different data ({a}; {b})" in md
    assert "PPL is not comparable between runs with different tokenizers" in md
    assert "different generation settings" in md
    assert "no mean ± std, the runs were evaluated on different data" in md
    with pytest.raises(EdgError, match="different data"):
        aggregate_seeds([a, b])


def test_report_reads_fingerprints_of_runs_without_evaluation_records(tmp_path):
    a = make_run(tmp_path, "a", seed=1)
    b = make_run(tmp_path, "b", seed=2)
    for rd, digest in ((a, "1" * 64), (b, "2" * 64)):
        (rd / "fingerprints.json").write_text(json.dumps({"tokenizer": "t", "data": {"test": digest}}))
    assert "NOT COMPARABLE" in write_report([a, b], tmp_path / "out")


def test_report_files_follow_the_umask(tmp_path):
    import os
    import stat

    rd = make_run(tmp_path, "a")
    old = os.umask(0o022)
    try:
        write_report([rd])
    finally:
        os.umask(old)
    assert {stat.S_IMODE((rd / f"report.{ext}").stat().st_mode) for ext in ("md", "csv", "tex")} == {0o644}
