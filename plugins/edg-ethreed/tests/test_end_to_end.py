"""``edg run --plugin ethreed --preset tiny`` on real ED conversations, offline on CPU: the
fitted labeller (small encoder), whole-conversation training with L1-L4, validation-based
checkpoint selection, and per-turn evaluation (emotion accuracy, PPL, Dist-n) with
stateful greedy decoding."""

from __future__ import annotations

import json


def test_edg_run_ethreed_tiny(tmp_path, monkeypatch):
    from edg.cli import main
    from edg.testing import require_shared

    data = require_shared("empatheticdialogues")
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    code = main(["run", "--plugin", "ethreed", "--preset", "tiny", "--data", str(data),
                 "data.max_train=32", "data.max_valid=8", "data.max_test=10", "train.max_steps=6",
                 "train.eval_every=3", "train.threads=1", f"output_dir={tmp_path / 'runs'}"])
    assert code == 0
    (run_dir,) = list((tmp_path / "runs" / "ethreed").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    metrics = summary["evaluations"]["test"]["metrics"]
    for key in ("acc", "ppl", "dist-1", "dist-2"):
        assert key in metrics, key
    fitted = json.loads((run_dir / "fitted.json").read_text())
    assert "test_accuracy" in fitted["response_emotion"]["metrics"]
    outputs = [json.loads(line) for line in (run_dir / "test_outputs.jsonl").read_text().splitlines()]
    assert len(outputs) == 10 and all("pred_emotion" in o for o in outputs)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    assert train and all(k in train[-1] for k in ("ethreed.emotion", "ethreed.gps", "nll", "ethreed.coverage"))
    assert summary["best_step"] in {r["step"] for r in records if r["split"] == "valid"}
