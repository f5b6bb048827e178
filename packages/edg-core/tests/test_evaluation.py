"""The evaluator scores every emotion prediction a model makes, not only one label per sample."""

from __future__ import annotations

import pytest
import torch

from edg.data import EMOTIONS


def _build(tmp_path, monkeypatch):
    from edg import pipeline
    from edg.testing import TINY_TRANSFORMER

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    session = pipeline.open_session("multi-trs", None, [*TINY_TRANSFORMER, "train.threads=1"])
    splits, model = pipeline.build_everything(session, tmp_path / "run", progress=False)
    return session, splits, model


def test_named_emotion_predictions_are_recorded_and_scored(tmp_path, monkeypatch):
    from edg.evaluation import evaluate

    session, splits, model = _build(tmp_path, monkeypatch)
    test = splits["test"]
    # a second label per sample, present on every other sample only
    situation = [EMOTIONS[5] if i % 2 == 0 else None for i in range(len(test))]
    situation[0] = EMOTIONS[7]
    test = test.add_column("situation_emotion", situation)
    sad = torch.zeros(len(EMOTIONS))
    sad[5] = 1.0
    monkeypatch.setattr(model, "predict_emotion", lambda batch: {
        "emotion": sad.expand(batch["input_ids"].size(0), -1),
        "situation_emotion": sad.expand(batch["input_ids"].size(0), -1)})
    records, metrics = evaluate(model, session.system, test, device=torch.device("cpu"), progress=False)

    assert all(r["pred_emotion"] == "sad" and r["pred_situation_emotion"] == "sad" for r in records)
    scored = [r for r in records if "situation_emotion" in r]
    assert len(scored) == sum(s is not None for s in situation)
    assert metrics["acc-situation_emotion"] == pytest.approx(100.0 * (len(scored) - 1) / len(scored))
    gold = [r["emotion"] for r in records]
    assert metrics["acc"] == pytest.approx(100.0 * gold.count("sad") / len(gold))


def test_a_single_tensor_is_the_sample_emotion(tmp_path, monkeypatch):
    from edg.evaluation import emotion_heads, evaluate

    session, splits, model = _build(tmp_path, monkeypatch)
    records, metrics = evaluate(model, session.system, splits["test"], device=torch.device("cpu"), progress=False)
    assert "acc" in metrics and not any(k.startswith("acc-") for k in metrics)
    assert all(r["pred_emotion"] in EMOTIONS for r in records)
    with pytest.raises(TypeError, match="predict_emotion must return"):
        emotion_heads([1, 2])


def test_further_classifications_are_scored_against_their_batch_labels(tmp_path, monkeypatch):
    """``predict_labels``: class indices against the batch's gold, -1 meaning no label."""
    from edg.evaluation import evaluate

    session, splits, model = _build(tmp_path, monkeypatch)
    test = splits["test"]

    def predict_labels(batch, outputs):
        n = batch["input_ids"].size(0)
        assert outputs.decoder.logits.size(0) == n  # the batch's own teacher-forced pass
        gold = torch.arange(n) % 3 - 1  # -1, 0, 1, -1, 0, 1...
        return {"mechanism": (torch.zeros(n, dtype=torch.long), gold)}

    monkeypatch.setattr(model, "predict_labels", predict_labels)
    records, metrics = evaluate(model, session.system, test, device=torch.device("cpu"), progress=False)
    assert all(r["pred_mechanism"] == 0 and r["gold_mechanism"] in (-1, 0, 1) for r in records)
    labelled = [r for r in records if r["gold_mechanism"] >= 0]
    expected = 100.0 * sum(r["gold_mechanism"] == 0 for r in labelled) / len(labelled)
    assert metrics["acc-mechanism"] == pytest.approx(expected)
    assert 0 < metrics["acc-mechanism"] < 100
