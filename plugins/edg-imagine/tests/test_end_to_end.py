"""``edg run --plugin imagine --preset tiny`` on real ED samples, offline on CPU: the fit
stage (RECCON cause detector, three EPITOME classifiers, small encoders), COMET knowledge
from a tiny random COMET through edg-comet's ``comet.imagine``, training with the four
losses, and evaluation (emotion and mechanism accuracy, PPL, BLEU, Dist-n) with greedy decoding."""

from __future__ import annotations

import json


def test_edg_run_imagine_tiny(data_overrides, tmp_path, monkeypatch):
    from edg.cli import main

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    code = main(["run", "--plugin", "imagine", "--preset", "tiny", *data_overrides, "data.max_train=32",
                 "data.max_valid=8", "data.max_test=10", "train.max_steps=6", "train.eval_every=3",
                 "train.threads=1", f"output_dir={tmp_path / 'runs'}"])
    assert code == 0
    (run_dir,) = list((tmp_path / "runs" / "imagine").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    metrics = summary["evaluations"]["test"]["metrics"]
    for key in ("acc", "ppl", "bleu-2", "dist-1", "dist-2", "acc-cm_er", "acc-cm_ip", "acc-cm_ex"):
        assert key in metrics, key
    fitted = json.loads((run_dir / "fitted.json").read_text())
    assert set(fitted) == {"cause_detector", "mechanism_er", "mechanism_ip", "mechanism_ex"}
    for split in ("dd_test", "iemocap_test"):
        assert f"{split}_pos_f1" in fitted["cause_detector"]["metrics"]
    assert all("test_accuracy" in fitted[f"mechanism_{m}"]["metrics"] for m in ("er", "ip", "ex"))
    outputs = [json.loads(line) for line in (run_dir / "test_outputs.jsonl").read_text().splitlines()]
    assert len(outputs) == 10 and all("pred_emotion" in o for o in outputs)
    # the mechanism heads against the EPITOME labels of each reference, as the evaluator scores them
    er = [o["pred_cm_er"] == o["gold_cm_er"] for o in outputs]
    assert metrics["acc-cm_er"] == 100.0 * sum(er) / len(er)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    assert train and all(k in train[-1] for k in ("nll", "emotion", "imagine.mechanisms", "imagine.diversity"))
    assert summary["best_step"] in {r["step"] for r in records if r["split"] == "valid"}
