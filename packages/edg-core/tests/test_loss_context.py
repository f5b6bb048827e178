"""Loss terms see where training stands (TrainingContext) and keep state across resume."""

from __future__ import annotations

import torch

from edg.interfaces.component import NoOptions
from edg.interfaces.loss import LossTerm, LossValue


class StepRecorder(LossTerm):
    """Records the context it is computed in; counts training computations as state."""

    def __init__(self, options) -> None:
        super().__init__(options)
        self.seen: list[tuple[int, int, bool]] = []
        self.count = 0

    def setup(self, context) -> None:
        super().setup(context)
        self.vocab = len(context.tokenizer)

    def compute(self, batch, outputs, model) -> LossValue:
        c = self.context
        self.seen.append((c.step, c.micro_step, c.training))
        if c.training:
            self.count += 1
        return LossValue(outputs.decoder.logits.sum() * 0.0, {"recorder_count": float(self.count)})

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        self.count = state["count"]


def _build(tmp_path, monkeypatch, *overrides):
    from edg import pipeline
    from edg.testing import TINY_TRANSFORMER

    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    session = pipeline.open_session("transformer", None, [*TINY_TRANSFORMER, "train.threads=1", *overrides])
    splits, model = pipeline.build_everything(session, tmp_path / "run", progress=False)
    recorder = StepRecorder(NoOptions())
    losses = [*session.system.build_losses(), ("recorder", 1.0, recorder)]
    return session, splits, model, losses, recorder


def test_context_follows_steps_accumulation_and_validation(tmp_path, monkeypatch):
    from edg.training.loop import train

    session, splits, model, losses, recorder = _build(
        tmp_path, monkeypatch, "train.max_steps=6", "train.eval_every=3", "train.grad_accum=2")
    train(model, session.system, losses, splits, session.config, tmp_path / "run")
    assert recorder.vocab == len(session.system.tokenizer)
    training = [(step, micro) for step, micro, is_training in recorder.seen if is_training]
    assert training == [(s, m) for s in range(6) for m in (0, 1)]
    validation = [step for step, _, is_training in recorder.seen if not is_training]
    assert validation and set(validation) == {3, 6}  # evaluated after steps 3 and 6
    assert recorder.count == 12
    assert recorder.context.training  # restored after validation


def test_loss_state_is_checkpointed_and_restored_on_resume(tmp_path, monkeypatch):
    from edg.training import checkpoint as ckpt
    from edg.training.loop import train

    session, splits, model, losses, recorder = _build(tmp_path, monkeypatch, "train.max_steps=8",
                                                      "train.eval_every=4")
    train(model, session.system, losses, splits, session.config, tmp_path / "run")
    latest = ckpt.find_checkpoint(tmp_path / "run" / "checkpoints")
    saved = ckpt.load_training_state(latest)
    assert saved["losses"][-1] == {"count": 8}

    session2, splits2, model2, losses2, recorder2 = _build(tmp_path, monkeypatch, "train.max_steps=12",
                                                           "train.eval_every=4")
    train(model2, session2.system, losses2, splits2, session2.config, tmp_path / "run", resume=True)
    assert recorder2.count == 8 + 4
    assert torch.is_tensor(next(model2.parameters()))


class StageSwitch(StepRecorder):
    """Switches its objective at the validation after step ``at``: reports the change once."""

    def __init__(self, options, at: int) -> None:
        super().__init__(options)
        self.at, self.records, self.switched = at, [], False

    def on_validation(self, record) -> bool:
        self.records.append((self.context.step, dict(record)))
        if not self.switched and self.context.step >= self.at:
            self.switched = True
            return True
        return False


def test_a_stage_switch_restarts_early_stopping(tmp_path, monkeypatch):
    import json

    from edg.training.loop import train

    # lr 0 and no dropout: the validation loss never improves after the first evaluation,
    # so patience 2 would stop the run at step 6; the switch at step 4 restarts the count
    session, splits, model, losses, _ = _build(tmp_path, monkeypatch, "train.max_steps=20", "train.eval_every=2",
                                               "train.patience=2", "train.lr=1e-12", "model.dropout=0.0")
    switch = StageSwitch(NoOptions(), at=4)
    losses = [*losses[:-1], ("switch", 1.0, switch)]
    state = train(model, session.system, losses, splits, session.config, tmp_path / "run")
    assert [step for step, _ in switch.records] == [2, 4, 6, 8, 10]
    assert all("loss" in record and "switch" in record for _, record in switch.records)
    # after the switch at 4, step 6 sets the new objective's best; 8 and 10 do not improve on it
    assert state.stopped_early and state.step == 10
    valid = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["split"] == "valid"]
    assert [r.get("objective_changed", False) for r in valid] == [False, True, False, False, False]


def test_without_a_switch_early_stopping_ends_the_run(tmp_path, monkeypatch):
    from edg.training.loop import train

    session, splits, model, losses, _ = _build(tmp_path, monkeypatch, "train.max_steps=20", "train.eval_every=2",
                                               "train.patience=2", "train.lr=1e-12", "model.dropout=0.0")
    state = train(model, session.system, losses, splits, session.config, tmp_path / "run")
    assert state.stopped_early and state.step == 6
