"""Fault injection: training runs killed at random points (inside checkpoint writes,
half-way through a metrics line, between a checkpoint's rename and the ``LATEST`` update,
by SIGKILL after a random delay) and resumed, again and again, must end with exactly the
metrics records, weights and checkpoint pointers of an uninterrupted run.

The runs execute in children forked from a server process that has imported edg and torch
but computed nothing (so a fork is safe and costs no start-up time). In a child the
harness wraps the file operations of a run (``os.replace``, ``os.rename``,
``shutil.rmtree``, the checkpoint's ``save_weights`` and ``torch.save``, the metrics log's
``write``); each call is an *event*, and the child dies with ``os._exit`` at a chosen event
(before or after the operation, or half-way through it). Only this file reads the job
description: edg itself has no fault hooks.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KILLED = 137  # the exit status of an injected kill, as after SIGKILL in a shell

RUN_ARGS = [
    "model.d_model=32", "model.layers=1", "model.heads=2", "model.ffn_dim=64",
    "train.batch_size=4", "train.eval_batch_size=16", "train.max_steps=8", "train.eval_every=2",
    "train.log_every=1", "train.warmup_steps=4", "train.lr=1e-3", "train.progress=false",
    "train.patience=null", "train.keep_checkpoints=2",
]


# ---------------------------------------------------------------------------- child side
class _Injector:
    """Counts events; at event number ``kill_at`` (or the ``occurrence``-th event named
    ``kill_on``) runs the event's partial action, if any, and exits at once."""

    def __init__(self, job: dict) -> None:
        self.kill_at = job.get("kill_at")
        self.kill_on, self.occurrence = job.get("kill_on"), job.get("occurrence", 1)
        self.count, self.named = 0, 0
        self.names: list[str] = []

    def event(self, name: str, partial=None) -> None:
        self.count += 1
        self.names.append(name)
        hit = self.count == self.kill_at
        if self.kill_on is not None and name == self.kill_on:
            self.named += 1
            hit = hit or self.named == self.occurrence
        if hit:
            if partial is not None:
                partial()
            os._exit(KILLED)


def _install(inj: _Injector) -> None:
    import shutil as _shutil

    import torch

    from edg import runs
    from edg.training import checkpoint

    real_replace, real_rename, real_rmtree = os.replace, os.rename, _shutil.rmtree
    real_save_weights, real_torch_save, real_write = checkpoint.save_weights, torch.save, runs.MetricsLog.write

    def replace(src, dst, *a, **kw):
        inj.event(f"before replace {Path(dst).name}")
        real_replace(src, dst, *a, **kw)
        inj.event(f"after replace {Path(dst).name}")

    def rename(src, dst, *a, **kw):
        inj.event(f"before rename {Path(dst).parent.parent.name}")
        real_rename(src, dst, *a, **kw)
        inj.event(f"after rename {Path(dst).parent.parent.name}")

    def rmtree(path, *a, **kw):
        def remove_one_file():  # killed half-way through the removal
            for f in sorted(Path(path).rglob("*")):
                if f.is_file():
                    f.unlink()
                    return
        if Path(path).exists():
            inj.event(f"rmtree {Path(path).name}", remove_one_file)
        real_rmtree(path, *a, **kw)

    def save_weights(model, filename, *a, **kw):
        inj.event("before save_weights")
        real_save_weights(model, filename, *a, **kw)
        inj.event("after save_weights", lambda: _truncate_half(filename))

    def torch_save(obj, f, *a, **kw):
        inj.event("before torch.save")
        real_torch_save(obj, f, *a, **kw)
        if isinstance(f, (str, os.PathLike)):
            inj.event("after torch.save", lambda: _truncate_half(f))

    def write(self, record):
        line = json.dumps(record) + "\n"

        def half_line():
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line[: len(line) // 2])
        inj.event(f"write {record.get('split')} {record.get('step')}", half_line)
        real_write(self, record)

    os.replace, os.rename, _shutil.rmtree = replace, rename, rmtree
    checkpoint.save_weights, torch.save, runs.MetricsLog.write = save_weights, torch_save, write


def _truncate_half(path) -> None:
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)


def _child(job: dict) -> int:
    import traceback

    log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.chdir(job["cwd"])
    os.environ.update(job.get("env", {}))
    inj = _Injector(job)
    _install(inj)
    from edg.cli import main

    try:
        code = main(job["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    Path(job["events"]).write_text(json.dumps(inj.names))
    return code


def serve() -> None:
    """Read one JSON job per line from stdin; fork a child for it; answer its exit status
    (``KILLED`` for an injected kill, ``-9`` for a SIGKILL after ``kill_after`` seconds)."""
    import signal
    import time

    # imports only (no tensor computed, no thread started) so that a fork is safe and a
    # child starts at once
    import importlib

    for module in ("datasets", "pandas", "pyarrow", "scipy", "sympy", "tokenizers", "transformers",
                   "safetensors.torch", "edg.cli", "edg.pipeline", "edg.training.loop", "edg.evaluation",
                   "edg.tokenization", "edg.data", "edg.baseline.transformer_system"):
        importlib.import_module(module)
    from edg.plugins import load_for_system

    load_for_system("transformer", [])

    for line in sys.stdin:
        job = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(job)
            finally:
                os._exit(code)
        deadline = time.monotonic() + job["kill_after"] if job.get("kill_after") is not None else None
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if deadline is not None and time.monotonic() >= deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = None
            time.sleep(0.005)
        code = os.waitstatus_to_exitcode(status)
        print(json.dumps({"status": code}), flush=True)


# ---------------------------------------------------------------------------- test side
class Server:
    def __init__(self, base: Path) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
               "EDG_CACHE": str(base / "cache")}
        self.base = base
        self.proc = subprocess.Popen([sys.executable, __file__, "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=base)
        self.jobs = 0

    def run(self, argv: list[str], cwd: Path, **kill) -> tuple[int, list[str], str]:
        """(exit status, event names, log text) of one run of ``edg argv`` in ``cwd``."""
        self.jobs += 1
        log, events = self.base / f"job{self.jobs}.log", self.base / f"job{self.jobs}.events"
        job = {"argv": argv, "cwd": str(cwd), "log": str(log), "events": str(events), **kill}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        assert answer, "the fork server died"
        names = json.loads(events.read_text()) if events.exists() else []
        return json.loads(answer)["status"], names, log.read_text() if log.exists() else ""

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _run_dirs(root: Path, name: str) -> list[Path]:
    base = root / "runs" / name
    return sorted(d for d in base.iterdir() if d.is_dir() and not d.name.startswith(".")) if base.is_dir() else []


def _outcome(run_dir: Path) -> dict:
    """What an uninterrupted run and a killed-and-resumed one must share."""
    from safetensors.torch import load_file

    ckpt = run_dir / "checkpoints"
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for r in records:
        r.pop("samples_per_s", None)  # wall-clock speed
    summary = json.loads((run_dir / "summary.json").read_text())
    pointers = {p: (ckpt / p).read_text().strip() for p in ("LATEST", "BEST")}
    weights = {p: load_file(str(ckpt / name / "model.safetensors")) for p, name in pointers.items()}
    return {"records": records, "pointers": pointers, "weights": weights,
            "steps": sorted(d.name for d in ckpt.iterdir() if d.name.startswith("step-")),
            "summary": {k: summary[k] for k in ("steps", "best_step", "best_valid_loss", "stopped_early")}}


def _assert_same(got: dict, want: dict) -> None:
    import torch

    assert got["records"] == want["records"]
    assert got["pointers"] == want["pointers"] and got["steps"] == want["steps"]
    assert got["summary"] == want["summary"]
    for p in want["weights"]:
        assert got["weights"][p].keys() == want["weights"][p].keys()
        for k, v in want["weights"][p].items():
            assert torch.equal(got["weights"][p][k], v), (p, k)


def _assert_clean(run_dir: Path) -> None:
    """No temporary file or directory of an interrupted write survives a resumed run."""
    leftovers = [p for p in run_dir.rglob(".*") if p.name != ".lock"]
    assert not leftovers, leftovers


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("faults"))
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def reference(server):
    """An uninterrupted run: its outcome and its event names."""
    status, names, log = server.run(["train", "--plugin", "transformer", *RUN_ARGS, "name=ref"], server.base)
    assert status == 0, log
    (run_dir,) = _run_dirs(server.base, "ref")
    return _outcome(run_dir), names


def _kill_and_resume(server, name: str, kills: list[dict]) -> tuple[Path, list[list[str]]]:
    """Start a run, apply each kill in turn (restarting a run that died before its
    directory existed, resuming otherwise), then resume to the end without a kill.
    Returns the run directory and the events of each process."""
    new = ["train", "--plugin", "transformer", *RUN_ARGS, f"name={name}"]
    events = []
    for kill in [*kills, {}]:
        dirs = _run_dirs(server.base, name)
        assert len(dirs) <= 1, dirs
        argv = ["train", "--resume", str(dirs[0])] if dirs else new
        status, names, log = server.run(argv, server.base, **kill)
        events.append(names)
        if kill:
            assert status in (KILLED, -9, 0), log
        else:
            assert status == 0, log
        assert "Traceback" not in log, log
    (run_dir,) = _run_dirs(server.base, name)
    return run_dir, events


@pytest.mark.parametrize("kill_on, occurrence, why", [
    ("after replace step-4", 1, "between the checkpoint's rename and the LATEST update"),
    ("before replace LATEST", 2, "inside the LATEST update (its temporary file written)"),
    ("after torch.save", 2, "half-way through writing training_state.pt"),
    ("write valid 4", 1, "half-way through a metrics line"),
    ("write train 1", 1, "before the first checkpoint"),
    ("rmtree step-2", 1, "half-way through pruning an old checkpoint"),
])
def test_kill_at_a_chosen_point_then_resume(server, reference, kill_on, occurrence, why):
    want, names = reference
    assert kill_on in names, f"no event {kill_on!r} ({why}) in an uninterrupted run"
    run_dir, events = _kill_and_resume(server, f"at-{names.index(kill_on)}-{occurrence}",
                                       [{"kill_on": kill_on, "occurrence": occurrence}])
    _assert_same(_outcome(run_dir), want)
    _assert_clean(run_dir)
    if kill_on.startswith("after replace step-"):  # the renamed checkpoint is committed: not trained again
        assert kill_on not in events[1]


def _random_kills(reference, n: int, seed: int) -> list[dict]:
    """Kills at random events of a run (checkpoint writes included), and every fourth a
    SIGKILL after a random delay."""
    rng = random.Random(seed)
    _want, names = reference
    return [{"kill_after": rng.uniform(0.5, 6.0)} if i % 4 == 3 else {"kill_at": rng.randint(1, len(names))}
            for i in range(n)]


def test_random_kills_short(server, reference):
    run_dir, _events = _kill_and_resume(server, "random-short", _random_kills(reference, 4, seed=15))
    _assert_same(_outcome(run_dir), reference[0])
    _assert_clean(run_dir)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_kills_long(server, reference, seed):
    run_dir, _events = _kill_and_resume(server, f"random-long-{seed}", _random_kills(reference, 12, seed=seed))
    _assert_same(_outcome(run_dir), reference[0])
    _assert_clean(run_dir)


def test_a_second_writer_is_refused_while_a_run_holds_its_directory(server, reference, tmp_path):
    """Two ``--resume`` of one run directory: the second fails in one line, the first's
    records are not duplicated."""
    import fcntl

    from edg.runs import LOCK_FILE

    (ref_dir,) = _run_dirs(server.base, "ref")
    run_dir = tmp_path / "copy"
    shutil.copytree(ref_dir, run_dir)
    before = (run_dir / "metrics.jsonl").read_text()
    with open(run_dir / LOCK_FILE, "a") as held:  # another process writing the run
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        status, _names, log = server.run(["train", "--resume", str(run_dir)], tmp_path)
    assert status == 2, log
    lines = log.strip().splitlines()
    assert len(lines) == 1 and "in use by another edg process" in lines[0], log
    assert (run_dir / "metrics.jsonl").read_text() == before


if __name__ == "__main__" and sys.argv[1:] == ["serve"]:
    serve()
