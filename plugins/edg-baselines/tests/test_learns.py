"""The baselines learn: a small model trained a few hundred steps on real EmpatheticDialogues
samples ends with a validation loss clearly below the untrained model's and an emotion
accuracy on held-out conversations well above the majority-class rate."""

from __future__ import annotations

import pytest

STEPS = 300
SMALL = ["model.d_model=64", "model.heads=2", "model.ffn_dim=128",
         "tokenizer.vocab_size=4000", "tokenizer.max_context_tokens=96", "tokenizer.max_target_tokens=24",
         "train.batch_size=32", "train.optimizer=adam", "train.schedule=constant", "train.lr=2e-3",
         "train.warmup_steps=0", f"train.max_steps={STEPS}", f"train.eval_every={STEPS}", "train.threads=1",
         "train.progress=false", "train.precision=fp32"]
PER_SYSTEM = {
    # the oracle schedule scaled to the short run (the authors' 10000 is for ~30k steps); the
    # authors' feed-forward width 50 keeps the 34 decoder layers cheap; the generation loss as a
    # per-token mean, since the authors' batch sum leaves the emotion term one token's weight,
    # too little for the tracker to learn in 300 steps (the converged runs use the sum)
    "moel": ["model.oracle_schedule=50", "model.ffn_dim=50", "train.lr=3e-3", "train.clip_norm=1.0",
             "losses=[{name: nll, options: {label_smoothing: 0.1}}, {name: emotion}]"],
    # as for moel: the authors' summed generation loss leaves the emotion term one token's
    # weight and the tracker at chance after 300 steps (4 % accuracy), so a per-token mean here
    "mime": ["train.clip_norm=1.0",
             "losses=[{name: nll, options: {label_smoothing: 0.1}}, {name: emotion}, {name: mime.kl}]"],
}


@pytest.mark.parametrize("system", ["moel", "mime"])
def test_baseline_learns_on_real_data(system, tmp_path, monkeypatch):
    from edg.testing import train_and_validate

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    result = train_and_validate(system, tmp_path / "run", [*SMALL, *PER_SYSTEM.get(system, [])])
    start, end, majority = result["start"], result["end"], result["majority"]
    assert result["steps"] == STEPS
    print(f"{system}: loss {start['loss']:.3f} -> {end['loss']:.3f}, token nll {start['token_nll']:.3f} -> "
          f"{end['token_nll']:.3f}, emotion acc {end['emotion_acc']:.3f} (majority {majority:.3f}), "
          f"{result['seconds']:.0f} s training")
    assert end["token_nll"] < start["token_nll"] - 2.0, (start, end)
    assert end["loss"] < 0.75 * start["loss"], (start, end)
    # at least twice the majority-class rate on held-out conversations
    assert end["emotion_acc"] > max(2.0 * majority, 0.12), (end["emotion_acc"], majority)
