"""The response-emotion labeller (§4.1) as a fitted component: fitted on the training
situations, its test-situation accuracy in its metrics, cached by the fit stage, saved and
loaded back to the same predictions, resumable, and a one-line error for a model it
cannot load."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def run(tmp_path, monkeypatch):
    from edg.pipeline import build_everything, open_session
    from edg.testing import require_shared

    data = require_shared("empatheticdialogues")
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    session = open_session("ethreed", overrides=[f"data.path={data}", "data.max_train=48", "data.max_valid=4",
                                                 "data.max_test=40", "train.threads=1"], preset="tiny")
    (tmp_path / "run").mkdir()
    splits, _model = build_everything(session, tmp_path / "run", progress=False)
    return session, splits, tmp_path / "run"


def test_fitted_once_recorded_and_labels_the_listener_turns(run, tmp_path):
    from edg.fitting import fit_all

    session, splits, run_dir = run
    record = json.loads((run_dir / "fitted.json").read_text())["response_emotion"]
    metrics = record["metrics"]
    assert record["origin"] == "fitted"
    assert metrics["train_situations"] == 48.0  # one situation per training conversation
    assert metrics["test_situations"] == len(set(splits["test"]["conv_id"]))
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    labeller = session.system.fitted["response_emotion"]
    for row in splits["train"]:
        listener = [u for u, r in zip(row["utterances"], row["roles"]) if r == "listener"]
        got = [y for y, r in zip(row["listener_emotion_ids"], row["roles"]) if r == "listener"]
        assert got == labeller.label(listener)
        assert all(y == -100 for y, r in zip(row["listener_emotion_ids"], row["roles"]) if r == "speaker")
    # a second fit of the same component on the same data comes from the cache
    specs = session.system.fitted_components(splits, "before_prepare")
    again = fit_all(specs, tmp_path / "cache" / "datasets")
    assert again["response_emotion"].label(["i am so happy today"]) == labeller.label(["i am so happy today"])


def test_save_load_round_trip_and_resume(run, tmp_path):
    from edg_ethreed.response_emotion_labeller import ResponseEmotionLabeller

    session, splits, _ = run
    labeller = session.system.fitted["response_emotion"]
    texts = list(splits["test"]["situation"][:10])
    (tmp_path / "saved").mkdir()
    labeller.save(tmp_path / "saved")
    loaded = ResponseEmotionLabeller(labeller.options, tokenizer=session.system.tokenizer)
    loaded.load(tmp_path / "saved")
    assert loaded.label(texts) == labeller.label(texts)
    # an interrupted fit resumes after its last finished epoch: nothing left to train
    work = tmp_path / "work"
    work.mkdir()
    options = labeller.options.model_copy(update={"epochs": 1})
    first = ResponseEmotionLabeller(options, tokenizer=session.system.tokenizer)
    data = {"train": splits["train"], "test": splits["test"]}
    first.fit(data, work)
    assert json.loads((work / "progress.json").read_text()) == {"epochs": 1}
    resumed = ResponseEmotionLabeller(options.model_copy(update={"lr": 1.0}), tokenizer=session.system.tokenizer)
    resumed.fit(data, work)  # lr 1.0 would wreck the weights had it trained again
    assert resumed.label(texts) == first.label(texts)


def test_unloadable_model_is_one_line_naming_the_key(tmp_path):
    from edg.errors import ConfigError
    from edg_ethreed.response_emotion_labeller import ResponseEmotionLabeller, ResponseEmotionLabellerOptions

    labeller = ResponseEmotionLabeller(ResponseEmotionLabellerOptions(model_name=str(tmp_path)))
    with pytest.raises(ConfigError, match="model.labeller.model_name") as info:
        labeller._build()
    assert "\n" not in str(info.value)
