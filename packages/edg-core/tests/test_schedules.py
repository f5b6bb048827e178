"""Learning-rate schedules: the built-in ones, step decay, plugins' own, early errors."""

from __future__ import annotations

import math

import pytest

from edg.config import validate
from edg.errors import EdgError
from edg.training.schedules import NoamSchedule, StepDecayOptions, StepDecaySchedule


def test_step_decay_multiplies_by_rate_every_three_epochs():
    schedule = StepDecaySchedule(StepDecayOptions(), warmup_steps=0, total_steps=1000, steps_per_epoch=10)
    assert [schedule(s) for s in (0, 29, 30, 59, 60, 95)] == pytest.approx([1, 1, 0.3, 0.3, 0.09, 0.3**3])
    by_steps = StepDecaySchedule(validate(StepDecayOptions, {"rate": 0.5, "every_steps": 4}), warmup_steps=2,
                                 total_steps=100, steps_per_epoch=10)
    assert [by_steps(s) for s in range(9)] == pytest.approx([0.5, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25])


def test_noam_peaks_at_one_after_warmup():
    noam = NoamSchedule(None, warmup_steps=100, total_steps=0, steps_per_epoch=1)
    assert noam(99) == pytest.approx(1.0)
    assert noam(49) == pytest.approx(0.5)
    assert noam(399) == pytest.approx(math.sqrt(100 / 400))


def test_training_follows_the_configured_schedule(tmp_path, monkeypatch):
    import json

    from edg.cli import main
    from edg.testing import TINY_TRANSFORMER

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    assert main(["train", "--plugin", "transformer", *TINY_TRANSFORMER, "train.schedule=step", "train.warmup_steps=0",
                 "train.log_every=1", "train.lr=0.01", "train.schedule_options.rate=0.5",
                 "train.schedule_options.every_steps=4"]) == 0
    (run,) = (tmp_path / "runs" / "transformer").iterdir()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    lrs = {r["step"]: r["lr"] for r in records if r["split"] == "train"}
    # LambdaLR reports the rate of the next step after each update
    assert lrs[1] == pytest.approx(0.01) and lrs[4] == pytest.approx(0.005) and lrs[8] == pytest.approx(0.0025)


@pytest.mark.parametrize(("override", "message"), [
    ("train.schedule=stepp", "stepp"),
    ("train.schedule_options.rat=0.5", "train.schedule_options.rat"),
])
def test_bad_schedule_is_reported_before_any_work(override, message):
    from edg.pipeline import open_session

    with pytest.raises(EdgError) as err:
        open_session("transformer", None, ["train.schedule=step", override])
    assert message in str(err.value)
