"""``train.early_stopping_on``: which validation figure early stopping and the best checkpoint
follow, checked before training, and re-judged from the log when a run resumes with another."""

from __future__ import annotations

import pytest

from edg.interfaces.component import NoOptions
from edg.interfaces.loss import LossTerm, LossValue


class StepValue(LossTerm):
    """A term worth ``slope * step`` (no gradient): its validation value moves with the step."""

    def __init__(self, options, slope: float) -> None:
        super().__init__(options)
        self.slope = slope

    def compute(self, batch, outputs, model) -> LossValue:
        return LossValue(outputs.decoder.logits.sum() * 0.0 + self.slope * self.context.step)


def _build(tmp_path, monkeypatch, *overrides):
    from edg import pipeline
    from edg.testing import TINY_TRANSFORMER

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    session = pipeline.open_session("transformer", None, [*TINY_TRANSFORMER, "train.threads=1", "train.eval_every=2",
                                                          *overrides])
    splits, model = pipeline.build_everything(session, tmp_path / "run", progress=False)
    # the objective rises by 99 per step while the term 'falling' falls
    losses = [*session.system.build_losses(), ("rising", 1.0, StepValue(NoOptions(), 100.0)),
              ("falling", 1.0, StepValue(NoOptions(), -1.0))]
    return session, splits, model, losses


def test_early_stopping_follows_the_chosen_figure(tmp_path, monkeypatch):
    from edg.training.loop import train

    session, splits, model, losses = _build(tmp_path / "a", monkeypatch, "train.max_steps=12", "train.patience=2")
    state = train(model, session.system, losses, splits, session.config, tmp_path / "a" / "run")
    assert state.stopped_early and state.step == 6 and state.best_step == 2  # the objective only rises

    session, splits, model, losses = _build(tmp_path / "b", monkeypatch, "train.max_steps=12", "train.patience=2",
                                            "train.early_stopping_on=falling")
    state = train(model, session.system, losses, splits, session.config, tmp_path / "b" / "run")
    assert not state.stopped_early and state.step == 12 and state.best_step == 12
    assert (tmp_path / "b" / "run" / "checkpoints" / "BEST").read_text().strip() == "step-12"


def test_a_run_resumed_with_another_figure_is_judged_by_it_from_the_log(tmp_path, monkeypatch):
    from edg.training.loop import train

    run = tmp_path / "run"
    session, splits, model, losses = _build(tmp_path, monkeypatch, "train.max_steps=8", "train.patience=null")
    state = train(model, session.system, losses, splits, session.config, run)
    assert state.best_step == 2 and state.bad_evals == 3 and state.best_on == "loss"

    session, splits, model, losses = _build(tmp_path, monkeypatch, "train.max_steps=10", "train.patience=2",
                                            "train.early_stopping_on=falling")
    state = train(model, session.system, losses, splits, session.config, run, resume=True)
    # steps 2..8 re-judged by 'falling' (best 8, none since), so patience 2 does not stop at once
    assert state.best_on == "falling" and state.step == 10 and state.best_step == 10 and not state.stopped_early


def test_evaluations_up_to_early_stopping_after_neither_pick_the_best_nor_count(tmp_path, monkeypatch):
    from edg.training.loop import train

    run = tmp_path / "run"
    session, splits, model, losses = _build(tmp_path, monkeypatch, "train.max_steps=16", "train.patience=2",
                                            "train.early_stopping_after=4")
    state = train(model, session.system, losses, splits, session.config, run)
    # the objective rises: steps 2 and 4 do not count, 6 is the first (and best), 8 and 10 use the patience
    assert state.stopped_early and state.step == 10 and state.best_step == 6 and state.best_after == 4
    assert (run / "checkpoints" / "BEST").read_text().strip() == "step-6"


def test_a_run_resumed_with_another_early_stopping_after_is_judged_again(tmp_path, monkeypatch):
    from edg.training.loop import train

    run = tmp_path / "run"
    session, splits, model, losses = _build(tmp_path, monkeypatch, "train.max_steps=8", "train.patience=null")
    state = train(model, session.system, losses, splits, session.config, run)
    assert state.best_step == 2 and state.bad_evals == 3

    session, splits, model, losses = _build(tmp_path, monkeypatch, "train.max_steps=12", "train.patience=2",
                                            "train.early_stopping_after=6")
    state = train(model, session.system, losses, splits, session.config, run, resume=True)
    # re-judged after step 6: 8 is the best, 10 and 12 are the two evaluations without improvement
    assert (state.best_step, state.bad_evals, state.best_after, state.step) == (8, 2, 6, 12) and state.stopped_early
    assert (run / "checkpoints" / "BEST").read_text().strip() == "step-8"


def test_early_stopping_from_log_skips_the_evaluations_up_to_after():
    from edg.training.loop import early_stopping_from_log

    records = [{"split": "valid", "step": s, "x": v} for s, v in ((2, 1.0), (4, 5.0), (6, 4.0), (8, 6.0))]
    assert early_stopping_from_log(records, "x", 8) == (1.0, 2, 3)
    assert early_stopping_from_log(records, "x", 8, after=2) == (4.0, 6, 1)
    assert early_stopping_from_log(records, "x", 8, after=8) == (float("inf"), 0, 0)


def test_an_unknown_figure_is_refused_before_training(tmp_path, monkeypatch):
    from edg.errors import ConfigError
    from edg.training.loop import train

    session, splits, model, losses = _build(tmp_path, monkeypatch, "train.max_steps=4",
                                            "train.early_stopping_on=emotion_acc")
    with pytest.raises(ConfigError, match=r"train.early_stopping_on: 'emotion_acc' is not a validation loss") as info:
        train(model, session.system, losses, splits, session.config, tmp_path / "run")
    assert "\n" not in str(info.value) and not (tmp_path / "run" / "checkpoints").exists()


def test_early_stopping_from_log_restarts_at_a_change_of_objective():
    from edg.training.loop import early_stopping_from_log

    records = [{"split": "valid", "step": 2, "x": 1.0}, {"split": "train", "step": 3, "x": 0.0},
               {"split": "valid", "step": 4, "x": 2.0}, {"split": "valid", "step": 6, "x": 5.0, "objective_changed": True},
               {"split": "valid", "step": 8, "x": 3.0}, {"split": "valid", "step": 10, "x": 4.0},
               {"split": "valid", "step": 12, "x": 0.5}]
    assert early_stopping_from_log(records, "x", 10) == (3.0, 8, 1)
    assert early_stopping_from_log(records, "x", 4) == (1.0, 2, 1)
    assert early_stopping_from_log(records, "missing", 10) == (float("inf"), 0, 3)


def test_edg_train_resume_may_change_when_training_stops_and_records_it(tmp_path, monkeypatch):
    """`--resume` accepts train.patience, train.early_stopping_on, train.eval_every and
    train.early_stopping_after (nothing trained changes)
    and writes them into the run's config.yaml."""
    import yaml

    from edg.cli import main

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--plugin", "multi-trs", "--preset", "tiny", "--name", "demo", "train.max_steps=20",
                 "train.threads=1", "train.progress=false"]) == 0
    (run,) = (tmp_path / "runs" / "demo").iterdir()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["train"]["early_stopping_on"] == "token_nll"
    # every model option is recorded, defaults included, so later default changes cannot alter the run
    from edg.plugins import load_for_system

    system_cls = load_for_system("multi-trs").get("system", "multi-trs")
    assert set(saved["model"]) == set(system_cls.Options.model_fields)
    assert saved["model"]["d_model"] == system_cls.presets["tiny"]["model"]["d_model"]
    assert main(["train", "--resume", str(run), "train.early_stopping_on=loss", "train.patience=3",
                 "train.eval_every=5", "train.early_stopping_after=10", "train.progress=false"]) == 0
    train = yaml.safe_load((run / "config.yaml").read_text())["train"]
    assert (train["early_stopping_on"], train["patience"], train["eval_every"], train["early_stopping_after"]) == \
        ("loss", 3, 5, 10)
    assert main(["train", "--resume", str(run), "train.lr=0.5"]) != 0  # what is trained stays refused
