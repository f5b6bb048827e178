"""Train several systems side by side on one machine and evaluate them under one common
step budget: the experiment behind the "under one budget" tables of docs/results.md.

Each run of the spec (a YAML file, below) is an ``edg train`` started as its own process,
all of them at once (on a GPU they share the device). Training runs past any fixed budget
until ``--train-minutes`` have passed; then every run is stopped the way ``edg`` stops on
SIGTERM (the step finishes and a checkpoint is written). The budget of a group is the last
validation step that *every* run of the group reached, so that no system is given more
steps than another; each run's ``BEST`` pointer is set to its best validation checkpoint
at or before that step (the checkpoint a run with ``train.max_steps`` = budget would have
chosen: the schedules here depend on the step, not on the total), and ``edg evaluate``
scores it on the whole test split. Every run keeps all its validation checkpoints
(``train.keep_checkpoints``) for this choice, and counts every validation
(``train.early_stopping_after=0``).

    python benchmarks/one_budget.py benchmarks/one_budget.yaml --train-minutes 5 --out runs/one-budget

The spec names groups of runs, each run with its ``edg train`` arguments (after those of its
group and before the spec's ``common`` ones and ``--set``); ``after: NAME``
starts a run only once NAME is training, i.e. once NAME's fit and knowledge stages are
cached and can be reused (IMAGINE's ablations share one fit stage). The figures go to
``OUT/one_budget.json`` (per run: steps reached, budget, evaluated step, the test metrics)
and ``OUT/one_budget.md`` (``edg report`` of each group); logs to ``OUT/logs/``.

With ``--prepare``, each run is first trained for one step, one run at a time and a run after
the one it waits for, so that its fit stage, knowledge and encoded splits are in the cache
(``$EDG_CACHE``) before the window opens: the window then times training alone, and systems
with long knowledge stages (IMAGINE's COMET passes) are not cut short by them. These one-step
runs go to ``OUT/prepare`` and their logs to ``OUT/logs/NAME.prepare.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass
class Run:
    group: str
    name: str
    args: list[str]
    after: str | None = None
    process: subprocess.Popen | None = None
    log: Path | None = None
    run_dir: Path | None = None
    state: str = "waiting"  # waiting, training, stopped, failed, skipped
    info: dict = field(default_factory=dict)


def read_spec(path: Path, extra: list[str]) -> list[Run]:
    spec = yaml.safe_load(path.read_text())
    unknown = set(spec) - {"common", "groups"}
    if unknown:
        raise SystemExit(f"{path}: unknown keys {sorted(unknown)} (expected common, groups)")
    common = shlex.split(spec.get("common", "")) + extra
    runs = []
    for group, entries in spec["groups"].items():
        bad = set(entries) - {"args", "runs"}
        if bad:
            raise SystemExit(f"{path}: groups.{group}: unknown keys {sorted(bad)} (expected args, runs)")
        shared = shlex.split(entries.get("args", ""))
        for name, entry in entries["runs"].items():
            bad = set(entry) - {"args", "after"}
            if bad:
                raise SystemExit(f"{path}: groups.{group}.runs.{name}: unknown keys {sorted(bad)}")
            runs.append(Run(group, name, shlex.split(entry["args"]) + shared + common, entry.get("after")))
    names = {r.name for r in runs}
    for r in runs:
        if r.after and r.after not in names:
            raise SystemExit(f"{path}: {r.name}: after: {r.after!r} is not a run of the spec")
    return runs


def find_run_dir(out: Path, name: str) -> Path | None:
    dirs = sorted(p for p in (out / "runs" / name).glob("2*") if p.is_dir()) if (out / "runs" / name).is_dir() else []
    return dirs[-1] if dirs else None


def records(run_dir: Path) -> list[dict]:
    from edg.runs import MetricsLog

    return MetricsLog(run_dir / "metrics.jsonl").records()  # leaves out a line being written


def is_training(run: Run, out: Path) -> bool:
    run.run_dir = run.run_dir or find_run_dir(out, run.name)
    return run.run_dir is not None and any(r.get("split") == "train" for r in records(run.run_dir))


def train_command(run: Run, output_dir: Path, edg: list[str]) -> list[str]:
    return [*edg, "train", "--name", run.name, f"output_dir={output_dir}", *run.args]


def start(run: Run, out: Path, edg: list[str]) -> None:
    run.log = out / "logs" / f"{run.name}.log"
    command = train_command(run, out / "runs", edg)
    run.info["command"] = shlex.join(["edg", *command[len(edg):]])
    run.process = subprocess.Popen(command, stdout=run.log.open("w"), stderr=subprocess.STDOUT,
                                   start_new_session=True)
    run.state = "training"
    print(f"[{time.strftime('%H:%M:%S')}] start {run.name}: {run.info['command']}", flush=True)


def stop_all(runs: list[Run], grace_s: float) -> None:
    live = [r for r in runs if r.process is not None and r.process.poll() is None]
    for r in live:
        r.process.send_signal(signal.SIGTERM)  # edg finishes its step and writes a checkpoint
    deadline = time.monotonic() + grace_s
    for r in live:
        try:
            r.process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(r.process.pid, signal.SIGKILL)
            r.process.wait()
            r.info["killed"] = True


def choose_checkpoints(runs: list[Run]) -> dict[str, int]:
    """Per group, the last validation step every run reached; per run, its best validation
    checkpoint at or before it, made the run's ``BEST``."""
    from edg.runs import load_config
    from edg.training import checkpoint as ckpt

    budgets = {}
    for group in dict.fromkeys(r.group for r in runs):
        members = [r for r in runs if r.group == group and r.run_dir is not None]
        valid = {}  # run name -> its validation records that hold the stopping figure
        for r in members:
            key = load_config(r.run_dir).train.early_stopping_on
            rows = [x for x in records(r.run_dir) if x.get("split") == "valid" and key in x]
            r.info.update(early_stopping_on=key,
                          last_checkpoint=getattr(ckpt.find_checkpoint(r.run_dir / "checkpoints"), "name", None))
            if rows:
                valid[r.name] = rows
        if not valid:
            continue
        reached = {name: max(x["step"] for x in rows) for name, rows in valid.items()}
        budget = budgets[group] = min(reached.values())
        for r in members:
            if r.name not in reached:
                r.info["excluded"] = "no validation before the stop"
                continue
            key = r.info["early_stopping_on"]
            best = min((x for x in valid[r.name] if x["step"] <= budget), key=lambda x: x[key])
            ckpt_dir = r.run_dir / "checkpoints"
            if not (ckpt_dir / f"step-{best['step']}").is_dir():
                r.info["excluded"] = f"checkpoint step-{best['step']} was not kept"
                continue
            ckpt.set_pointers(ckpt_dir, best=f"step-{best['step']}")
            r.info.update(budget=budget, reached=reached[r.name], evaluated_step=best["step"],
                          valid=best)
    return budgets


PREPARE_OVERRIDES = ["train.max_steps=1", "train.eval_every=1"]


def preparation_order(runs: list[Run]) -> list[Run]:
    """The runs with each one after the run it waits for (a parent outside ``runs`` is not waited for)."""
    names = {r.name for r in runs}
    order: list[Run] = []
    placed: set[str] = set()
    while len(order) < len(runs):
        ready = [r for r in runs if r.name not in placed and (r.after not in names or r.after in placed)]
        if not ready:
            raise SystemExit(f"after: the runs {sorted(names - placed)} wait for each other")
        order.extend(ready)
        placed.update(r.name for r in ready)
    return order


def prepare(runs: list[Run], out: Path, edg: list[str]) -> None:
    """Train each run for one step (``PREPARE_OVERRIDES`` after its own arguments), so that the
    cache holds its fit stage, knowledge and encodings; stop at the first that fails."""
    for r in preparation_order(runs):
        log = out / "logs" / f"{r.name}.prepare.log"
        began = time.monotonic()
        command = [*train_command(r, out / "prepare", edg), *PREPARE_OVERRIDES]
        with log.open("w") as stream:
            code = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT).returncode
        if code != 0:
            raise SystemExit(f"{r.name}: preparation failed (exit {code}); see {log}")
        print(f"[{time.strftime('%H:%M:%S')}] prepared {r.name} in {time.monotonic() - began:.0f} s", flush=True)


def check_fresh(out: Path) -> None:
    """Runs are found by name under ``OUT/runs``: an older run there would be taken for a new
    one (and its figures overwritten), so ``--out`` must not hold runs yet."""
    if (out / "runs").is_dir() and any((out / "runs").iterdir()):
        raise SystemExit(f"{out / 'runs'} already holds runs: give a new --out")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train-minutes", type=float, required=True, help="wall time of the training stage")
    parser.add_argument("--eval-minutes", type=float, default=10.0, help="limit of the test evaluations")
    parser.add_argument("--grace-s", type=float, default=90.0, help="time a stopped run has to write its checkpoint")
    parser.add_argument("--set", action="append", default=[], help="extra override for every run")
    parser.add_argument("--edg", default=None, help="the edg command (default: this Python's edg.cli)")
    parser.add_argument("--only", default=None, help="comma-separated groups to run")
    parser.add_argument("--prepare", action="store_true",
                        help="first train each run for one step, so that its knowledge and encodings are cached")
    args = parser.parse_args()

    runs = read_spec(args.spec, args.set)
    if args.only:
        runs = [r for r in runs if r.group in args.only.split(",")]
    edg = shlex.split(args.edg) if args.edg else [sys.executable, "-m", "edg.cli"]
    check_fresh(args.out)
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    if args.prepare:
        prepare(runs, args.out, edg)
    started = time.monotonic()
    stop_at = started + args.train_minutes * 60

    # -- training: start what may start, until the deadline --------------------------------
    while time.monotonic() < stop_at:
        for r in runs:
            if r.state == "waiting":
                parent = next((p for p in runs if p.name == r.after), None)
                if parent is None or is_training(parent, args.out):
                    start(r, args.out, edg)
                elif parent.state in ("failed", "skipped") or (parent.process and parent.process.poll() is not None):
                    r.state = "skipped"
                    r.info["skipped"] = f"{parent.name} never trained"
            elif r.state == "training" and r.process.poll() is not None:
                r.state = "finished" if r.process.returncode == 0 else "failed"
                r.info["returncode"] = r.process.returncode
                if r.state == "failed":
                    print(f"[{time.strftime('%H:%M:%S')}] {r.name} failed ({r.process.returncode}); "
                          f"log tail:\n{r.log.read_text()[-1500:]}", flush=True)
        if all(r.state not in ("waiting", "training") for r in runs):
            break
        time.sleep(5)
    stop_all(runs, grace_s=args.grace_s)
    for r in runs:
        r.run_dir = r.run_dir or find_run_dir(args.out, r.name)
        if r.process is not None and r.state == "training":
            r.state = "stopped"
            r.info["returncode"] = r.process.returncode
    train_s = time.monotonic() - started
    print(f"[{time.strftime('%H:%M:%S')}] training stage over after {train_s:.0f} s", flush=True)

    # -- one budget per group, then the test evaluations, all at once ---------------------
    budgets = choose_checkpoints(runs)
    print("budgets:", budgets, flush=True)
    evaluations = []
    for r in runs:
        if "evaluated_step" in r.info:
            log = (args.out / "logs" / f"{r.name}.evaluate.log").open("w")
            evaluations.append((r, subprocess.Popen([*edg, "evaluate", str(r.run_dir)], stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True)))
    eval_deadline = time.monotonic() + args.eval_minutes * 60
    for r, process in evaluations:
        try:
            process.wait(timeout=max(1.0, eval_deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        r.info["evaluate_returncode"] = process.returncode
        summary = r.run_dir / "summary.json"
        if process.returncode == 0 and summary.is_file():
            test = json.loads(summary.read_text())["evaluations"]["test"]
            r.info["test"] = {"checkpoint": test.get("checkpoint"), **test.get("metrics", {})}
    print(f"[{time.strftime('%H:%M:%S')}] evaluations over", flush=True)

    result = {"spec": str(args.spec), "train_minutes": args.train_minutes, "train_s": round(train_s, 1),
              "budgets": budgets, "runs": {r.name: {"group": r.group, "state": r.state, **r.info} for r in runs}}
    (args.out / "one_budget.json").write_text(json.dumps(result, indent=2) + "\n")
    tables = []
    for group in budgets:
        dirs = [str(r.run_dir) for r in runs if r.group == group and "test" in r.info]
        if dirs:
            report = subprocess.run([*edg, "report", *dirs], capture_output=True, text=True)
            tables.append(f"## {group} (budget {budgets[group]} steps)\n\n{report.stdout}{report.stderr}")
    (args.out / "one_budget.md").write_text("\n".join(tables))
    print("\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
