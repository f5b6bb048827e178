"""End-to-end behaviour of runs: the run directory, kill-and-resume, DDP, bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from edg.testing import TINY_TRANSFORMER as TINY

EDG = [sys.executable, "-m", "edg.cli"]


def _edg(args, cwd, timeout=300, **kw):
    env = {**os.environ, "EDG_CACHE": str(Path(cwd) / "cache")}
    return subprocess.run([*EDG, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, **kw)


def test_run_directory_is_complete(trained_run):
    for name in ["config.yaml", "env.json", "metrics.jsonl", "summary.json", "test_outputs.jsonl", "report.md",
                 "tokenizer/tokenizer.json", "checkpoints/LATEST", "checkpoints/BEST", "loss_curves.png"]:
        assert (trained_run / name).exists(), name
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["system"] == "transformer" and summary["steps"] == 12
    for key in ["ppl", "bleu-1", "bleu-4", "dist-1", "dist-2", "sent-std", "top5"]:
        assert key in summary["test"], key
    assert summary["test"]["ppl"] > 1
    env = json.loads((trained_run / "env.json").read_text())
    assert "torch" in env["versions"] and "core" in env["plugins"]
    records = [json.loads(l) for l in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert {r["split"] for r in records} == {"train", "valid"}
    assert [r["step"] for r in records if r["split"] == "valid"] == [4, 8, 12]
    outputs = [json.loads(l) for l in (trained_run / "test_outputs.jsonl").read_text().splitlines()]
    assert outputs and {"hypothesis", "reference", "context"} <= set(outputs[0])


def _start(args, cwd) -> subprocess.Popen:
    env = {**os.environ, "EDG_CACHE": str(Path(cwd) / "cache")}
    return subprocess.Popen([*EDG, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    latest = (run_dir / "checkpoints" / "LATEST").read_text().strip()
    return load_file(str(run_dir / "checkpoints" / latest / "model.safetensors"))


def test_killed_run_resumes_to_the_same_state(tmp_path):
    args = ["train", "--plugin", "transformer", *TINY, "train.max_steps=40", "train.eval_every=5", "train.patience=null"]
    # the reference: uninterrupted
    ref = _edg([*args, "name=ref"], tmp_path)
    assert ref.returncode == 0, ref.stderr
    (ref_dir,) = (tmp_path / "runs" / "ref").iterdir()

    proc = _start([*args, "name=killed"], tmp_path)
    deadline = time.time() + 240
    run_dir = None
    while time.time() < deadline and proc.poll() is None:
        found = list((tmp_path / "runs" / "killed").glob("*/checkpoints/LATEST"))
        if found and found[0].read_text().strip() in {"step-5", "step-10", "step-15"}:
            run_dir = found[0].parents[1]
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert run_dir is not None, "the run finished before it could be killed"
    killed_at = (run_dir / "checkpoints" / "LATEST").read_text().strip()
    assert killed_at != "step-40"

    resumed = _edg(["train", "--resume", str(run_dir)], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 40
    a, b = _weights(ref_dir), _weights(run_dir)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    steps = [json.loads(l)["step"] for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 40  # no duplicated records after resume


def test_sigterm_stops_after_a_checkpoint_and_the_run_resumes_to_the_same_state(tmp_path):
    args = ["train", "--plugin", "transformer", *TINY, "train.max_steps=100", "train.eval_every=50",
            "train.patience=null"]
    ref = _edg([*args, "name=ref"], tmp_path)
    assert ref.returncode == 0, ref.stderr
    (ref_dir,) = (tmp_path / "runs" / "ref").iterdir()

    proc = _start([*args, "name=stopped"], tmp_path)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        logs = list((tmp_path / "runs" / "stopped").glob("*/metrics.jsonl"))
        if logs and logs[0].read_text().strip():  # training has begun (a record every 2 steps)
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.01)
    _, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    (run_dir,) = (tmp_path / "runs" / "stopped").iterdir()
    stopped_at = int(stderr.split("SIGTERM at step ")[1].split(",")[0])
    assert 0 < stopped_at < 100, stderr
    # the step it stopped at is checkpointed and LATEST, with the steps before it logged
    assert (run_dir / "checkpoints" / "LATEST").read_text().strip() == f"step-{stopped_at}"
    steps = [json.loads(l)["step"] for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps and max(steps) <= stopped_at
    assert f"--resume runs/stopped/{run_dir.name}" in stderr and stderr.strip().splitlines()[-1].startswith("edg: interrupted by SIGTERM")

    resumed = _edg(["train", "--resume", str(run_dir)], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"from step-{stopped_at}" in resumed.stderr
    a, b = _weights(ref_dir), _weights(run_dir)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_a_second_ctrl_c_interrupts_at_once_and_handlers_are_restored():
    from edg.training.stop_request import StopRequest

    before = signal.getsignal(signal.SIGINT)
    with StopRequest() as stop:
        assert stop.agreed(False, torch.device("cpu")) is None
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.agreed(False, torch.device("cpu")) == "SIGINT"  # the first asks, and training goes on
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_corrupt_checkpoint_is_a_clear_error_and_loses_nothing(trained_run, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(trained_run, run_dir)
    best = run_dir / "checkpoints" / (run_dir / "checkpoints" / "BEST").read_text().strip()
    weights = best / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10:] = b"\x00" * 10
    weights.write_bytes(bytes(data))
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    out = _edg(["evaluate", str(run_dir)], tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "corrupt" in lines[0] and "model.safetensors" in lines[0], out.stderr
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "--plugin", "transformer", "train.lrr=1"], "unknown config key 'train.lrr'"),
        (["run", "--plugin", "transformer", "model.d_modell=8"], "unknown config key 'model.d_modell'"),
        (["run", "--plugin", "nosuchplugin"], "unknown plugin or system 'nosuchplugin'"),
        (["run", "--plugin", "transformer", "--data", "/nonexistent/ed"], "/nonexistent/ed"),
        (["run", "--plugin", "transformer", "losses=[{name: nope}]"], "unknown loss_term 'nope'"),
        (["evaluate", "/nonexistent/run"], "not a run directory"),
        (["score", "/nonexistent/out.jsonl"], "/nonexistent/out.jsonl"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, expected):
    out = _edg(args, tmp_path, timeout=120)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], out.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.safetensors"))


def test_generate_and_chat(trained_run, tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"context": ["I lost my job today."]}) + "\n"
                   + "My dog passed away. | Oh no, I am sorry. | Thanks, it was hard.\n")
    out = _edg(["generate", str(trained_run), "--input", str(inp), "--output", str(tmp_path / "o.jsonl")], tmp_path)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(l) for l in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and rows[1]["context"][0] == "My dog passed away."
    assert all(isinstance(r["response"], str) for r in rows)

    chat = _edg(["chat", str(trained_run)], tmp_path, input="hello there\n" + "x" * 5000 + "\n\n")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.count("edg>") == 2 and "cut to its first" in chat.stdout

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"context": "not a list"}\n')
    out = _edg(["generate", str(trained_run), "--input", str(bad)], tmp_path)
    assert out.returncode == 2 and "bad.jsonl line 1" in out.stderr


def test_ddp_with_gloo_on_two_cpu_processes(tmp_path):
    env = {**os.environ, "EDG_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "--module", "edg.cli", "train", "--plugin", "transformer", *TINY, "name=ddp"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs" / "ddp").iterdir()  # both ranks wrote into one run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 12
    records = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len([r for r in records if r["split"] == "valid"]) == 3  # rank 0 alone logs


def test_multi_trs_seeds_report_and_rescore(tmp_path):
    """multi-trs predicts emotion; --seeds aggregates; report and score reuse the outputs."""
    out = _edg(["run", "--plugin", "multi-trs", "--seeds", "1,2", *TINY], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    run_dirs = sorted((tmp_path / "runs" / "multi-trs").iterdir())
    run_dirs = [d for d in run_dirs if d.is_dir()]
    assert len(run_dirs) == 2
    seeds = {json.loads((d / "summary.json").read_text())["seed"] for d in run_dirs}
    assert seeds == {1, 2}
    for d in run_dirs:
        summary = json.loads((d / "summary.json").read_text())
        assert 0 <= summary["test"]["acc"] <= 100
        assert (d / "confusion_matrix.png").is_file()
        assert all("pred_emotion" in json.loads(l) for l in (d / "test_outputs.jsonl").read_text().splitlines())
    table = (tmp_path / "runs" / "multi-trs" / "seeds-1-2.md").read_text()
    assert "±" in table and "acc" in table

    report = _edg(["report", *map(str, run_dirs), "--out", str(tmp_path / "report")], tmp_path)
    assert report.returncode == 0, report.stderr
    assert "Multi-TRS" in report.stdout  # the published row beside ours
    assert {p.name for p in (tmp_path / "report").iterdir()} >= {"report.md", "report.csv", "report.tex"}

    # rescoring the written outputs reproduces the run's own text metrics
    scored = _edg(["score", str(run_dirs[0] / "test_outputs.jsonl"), "--metrics", "bleu-2,dist-1,acc"], tmp_path)
    assert scored.returncode == 0, scored.stderr
    summary = json.loads((run_dirs[0] / "summary.json").read_text())["test"]
    row = next(l for l in scored.stdout.splitlines() if l.startswith("| dist-1 "))
    assert f"{summary['dist-1']:.2f}" in row
