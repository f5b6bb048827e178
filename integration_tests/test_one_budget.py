"""benchmarks/one_budget.py: its spec resolves to valid runs, and the common budget and the
checkpoint each run is evaluated at are chosen as its docstring says."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _one_budget():
    spec = importlib.util.spec_from_file_location("one_budget", ROOT / "benchmarks" / "one_budget.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["one_budget"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_run_of_the_spec_resolves_to_a_config(monkeypatch, tmp_path):
    from edg.testing import run_command_session

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    runs = _one_budget().read_spec(ROOT / "benchmarks" / "one_budget.yaml", [])
    assert {r.group for r in runs} == {"baselines", "imagine"} and len(runs) == 12
    for run in runs:
        session = run_command_session(["train", "--name", run.name, *run.args])
        assert session.config.train.keep_checkpoints == 1000 and session.config.train.patience is None, run.name


def test_an_unknown_key_of_the_spec_is_refused(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("groups:\n  g:\n    runs:\n      a: {args: '--plugin transformer', afterwards: b}\n")
    with pytest.raises(SystemExit, match=r"groups.g.runs.a: unknown keys \['afterwards'\]"):
        _one_budget().read_spec(spec, [])


def _fake_run(out: Path, name: str, valid: dict[int, float], kept: list[int]) -> Path:
    run_dir = out / "runs" / name / "20261204-000000"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("train:\n  early_stopping_on: token_nll\n")
    rows = [{"step": s, "split": "train", "loss": 1.0} for s in valid] + \
           [{"step": s, "split": "valid", "token_nll": v} for s, v in valid.items()]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for step in kept:
        (run_dir / "checkpoints" / f"step-{step}").mkdir()
    (run_dir / "checkpoints" / "LATEST").write_text(f"step-{max(kept)}\n")
    (run_dir / "checkpoints" / "BEST").write_text(f"step-{max(kept)}\n")
    return run_dir


def test_the_budget_is_the_last_validation_every_run_reached(tmp_path):
    one_budget = _one_budget()
    fast = _fake_run(tmp_path, "fast", {500: 5.0, 1000: 4.0, 1500: 4.5, 2000: 3.0}, [500, 1000, 1500, 2000])
    slow = _fake_run(tmp_path, "slow", {500: 5.5, 1000: 5.0}, [500, 1000])
    early = _fake_run(tmp_path, "early", {500: 4.0, 1000: 4.2, 1500: 4.1}, [500, 1000, 1500])
    runs = [one_budget.Run("g", name, []) for name in ("fast", "slow", "early")]
    for run, run_dir in zip(runs, (fast, slow, early)):
        run.run_dir = run_dir
    assert one_budget.choose_checkpoints(runs) == {"g": 1000}
    # each run's best validation at or before step 1,000 becomes BEST: not fast's step 2,000
    assert [(fast / "checkpoints" / "BEST").read_text().strip(), (slow / "checkpoints" / "BEST").read_text().strip(),
            (early / "checkpoints" / "BEST").read_text().strip()] == ["step-1000", "step-1000", "step-500"]
    assert runs[0].info["reached"] == 2000 and runs[2].info["evaluated_step"] == 500


def test_a_run_whose_chosen_checkpoint_is_gone_is_excluded(tmp_path):
    one_budget = _one_budget()
    run = one_budget.Run("g", "pruned", [])
    run.run_dir = _fake_run(tmp_path, "pruned", {500: 4.0, 1000: 4.5}, [1000])
    assert one_budget.choose_checkpoints([run]) == {"g": 1000}
    assert run.info["excluded"] == "checkpoint step-500 was not kept"


def test_an_out_directory_holding_runs_is_refused(tmp_path):
    one_budget = _one_budget()
    one_budget.check_fresh(tmp_path)  # nothing there yet
    _fake_run(tmp_path, "old", {500: 4.0}, [500])
    with pytest.raises(SystemExit, match="already holds runs: give a new --out"):
        one_budget.check_fresh(tmp_path)


def test_preparation_trains_each_run_one_step_after_the_run_it_waits_for(tmp_path):
    one_budget = _one_budget()
    spec = tmp_path / "spec.yaml"
    spec.write_text("common: train.max_steps=100000\ngroups:\n  g:\n    runs:\n"
                    "      child: {args: '--plugin imagine --preset wo-cm', after: parent}\n"
                    "      parent: {args: '--plugin imagine'}\n")
    calls = tmp_path / "calls.jsonl"
    fake_edg = tmp_path / "fake_edg.py"  # records its arguments; fails for a run named "broken"
    fake_edg.write_text("import json, sys\n"
                        f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
                        "sys.exit(3 if 'broken' in sys.argv else 0)\n")
    (tmp_path / "out" / "logs").mkdir(parents=True)
    runs = one_budget.read_spec(spec, ["train.threads=1"])
    one_budget.prepare(runs, tmp_path / "out", [sys.executable, str(fake_edg)])
    made = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [m[2] for m in made] == ["parent", "child"]  # the child waits for its parent's cache
    assert made[1] == ["train", "--name", "child", f"output_dir={tmp_path / 'out' / 'prepare'}", "--plugin", "imagine",
                       "--preset", "wo-cm", "train.max_steps=100000", "train.threads=1",
                       "train.max_steps=1", "train.eval_every=1"]  # one step: the overrides come last

    runs[1].name = "broken"
    with pytest.raises(SystemExit, match=r"broken: preparation failed \(exit 3\); see .*broken\.prepare\.log"):
        one_budget.prepare(runs, tmp_path / "out", [sys.executable, str(fake_edg)])


def test_runs_that_wait_for_each_other_are_refused(tmp_path):
    one_budget = _one_budget()
    spec = tmp_path / "spec.yaml"
    spec.write_text("groups:\n  g:\n    runs:\n      a: {args: '--plugin transformer', after: b}\n"
                    "      b: {args: '--plugin transformer', after: a}\n")
    with pytest.raises(SystemExit, match=r"after: the runs \['a', 'b'\] wait for each other"):
        one_budget.preparation_order(one_budget.read_spec(spec, []))
