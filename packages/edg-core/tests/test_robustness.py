"""Runs that never hang and never lose or mix results (issue 15): empty splits, resuming,
provenance, fingerprints, evaluation records, a full disk, and one-line errors."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from edg.cli import main
from edg.testing import TINY_TRANSFORMER as TINY

EDG = [sys.executable, "-m", "edg.cli"]


def _edg(args, cwd, timeout=120, **kw):
    env = {**os.environ, "EDG_CACHE": str(Path(cwd) / "cache"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([*EDG, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, **kw)


def _one_line_error(capsys, argv, expected: str) -> str:
    """``edg argv`` exits 2 with exactly one stderr line containing ``expected``."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and expected in lines[0], err
    return lines[0]


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and p.name != ".lock"}


@pytest.fixture()
def run_copy(trained_run, tmp_path):
    """A private copy of the finished tiny run."""
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    return copy


def _sample_copy(tmp_path: Path) -> Path:
    from edg.data import SAMPLE_DATA_DIR

    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA_DIR, data)
    return data


# ------------------------------------------------------------------ 1. empty splits
def test_empty_train_split_is_one_line_not_a_hang(tmp_path):
    out = _edg(["train", "--plugin", "transformer", *TINY, "data.max_train=0"], tmp_path, timeout=90)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "train split" in lines[0] and "data.max_train=0" in lines[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("config.yaml"))


@pytest.mark.parametrize("override, split", [("data.max_valid=0", "valid"), ("data.max_test=0", "test")])
def test_empty_valid_or_test_split_is_one_line_before_training(in_tmp, capsys, override, split):
    line = _one_line_error(capsys, ["run", "--plugin", "transformer", *TINY, override], f"the {split} split")
    assert override in line
    assert not any((in_tmp / "runs").rglob("*.safetensors")) if (in_tmp / "runs").exists() else True
    assert not any((in_tmp / "runs").rglob("config.yaml")) if (in_tmp / "runs").exists() else True


def test_training_split_without_listener_turns(tmp_path):
    data = _sample_copy(tmp_path)
    lines = (data / "train.csv").read_text().splitlines()
    # keep only each conversation's first (speaker) turn: no (context, listener response) sample
    kept = [lines[0]] + [ln for ln in lines[1:] if ln.split(",")[1] == "1"]
    (data / "train.csv").write_text("\n".join(kept) + "\n")
    # a subprocess: a regression would loop forever
    out = _edg(["train", "--plugin", "transformer", "--data", str(data), *TINY], tmp_path, timeout=90)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "the train split" in lines[0] and "listener" in lines[0]


# ------------------------------------------------------------------ 2. resume and locking
def test_a_locked_run_directory_refuses_a_second_writer(run_copy, capsys):
    import fcntl

    before = _snapshot(run_copy)
    with open(run_copy / ".lock", "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        _one_line_error(capsys, ["train", "--resume", str(run_copy)], "in use by another edg process")
        _one_line_error(capsys, ["evaluate", str(run_copy)], "in use by another edg process")
    assert _snapshot(run_copy) == before


def test_resume_before_the_first_checkpoint_says_so_and_keeps_no_duplicates(run_copy, capsys):
    shutil.rmtree(run_copy / "checkpoints")
    before = (run_copy / "metrics.jsonl").read_text().splitlines()
    assert main(["train", "--resume", str(run_copy)]) == 0
    err = capsys.readouterr().err
    assert "no checkpoint yet" in err and "step 0" in err
    after = (run_copy / "metrics.jsonl").read_text().splitlines()
    steps = [(json.loads(line)["step"], json.loads(line)["split"]) for line in after]
    assert len(steps) == len(set(steps)) == len(before)


# ------------------------------------------------------------------ 3. resume validates first
@pytest.mark.parametrize("extra, expected", [
    (["model.d_model=64"], "model.d_model cannot be changed when resuming"),
    (["train.seed=7"], "train.seed cannot be changed when resuming"),
    (["--data", "/elsewhere"], "--data cannot be used with --resume"),
    (["--name", "other"], "--name cannot be used with --resume"),
    (["--seeds", "1,2"], "--seeds cannot be used with --resume"),
])
def test_resume_rejects_what_it_cannot_honour_and_writes_nothing(run_copy, capsys, extra, expected):
    before = _snapshot(run_copy)
    _one_line_error(capsys, ["run", "--resume", str(run_copy), *extra], expected)
    assert _snapshot(run_copy) == before


def test_resume_with_a_changed_model_shape_is_one_line_and_keeps_provenance(run_copy, capsys):
    import yaml

    config = yaml.safe_load((run_copy / "config.yaml").read_text())
    config["model"]["d_model"] = 64
    (run_copy / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    before = _snapshot(run_copy)
    line = _one_line_error(capsys, ["run", "--resume", str(run_copy)], "does not fit the model")
    assert "[" in line and "was the model config changed" in line
    assert _snapshot(run_copy) == before


def test_resume_keeps_the_original_config_and_environment(run_copy, capsys):
    provenance = {name: (run_copy / name).read_bytes() for name in ("config.yaml", "env.json")}
    assert main(["train", "--resume", str(run_copy), "train.progress=false"]) == 0
    assert {name: (run_copy / name).read_bytes() for name in provenance} == provenance
    # progress of the edg logger reaches the terminal: which run resumed from which checkpoint
    err = capsys.readouterr().err
    assert f"edg: resuming {run_copy} from step-" in err and "edg: info" not in err


# ------------------------------------------------------------------ 4. fingerprints
def test_a_missing_tokenizer_is_not_rebuilt(run_copy, capsys):
    shutil.rmtree(run_copy / "tokenizer")
    before = _snapshot(run_copy)
    for argv in (["evaluate", str(run_copy)], ["train", "--resume", str(run_copy)]):
        line = _one_line_error(capsys, argv, "tokenizer is missing")
        assert str(run_copy / "tokenizer") in line
    assert _snapshot(run_copy) == before


def test_a_changed_tokenizer_is_refused(run_copy, capsys):
    tok = run_copy / "tokenizer" / "tokenizer.json"
    data = json.loads(tok.read_text())
    vocab = data["model"]["vocab"]
    a, b = list(vocab)[10:12]
    vocab[a], vocab[b] = vocab[b], vocab[a]  # two ids swapped: every metric would silently change
    tok.write_text(json.dumps(data))
    _one_line_error(capsys, ["evaluate", str(run_copy)], "not the tokenizer this run was trained with")


def test_changed_data_under_a_run_is_refused(run_copy, tmp_path, capsys):
    import yaml

    data = _sample_copy(tmp_path)
    config = yaml.safe_load((run_copy / "config.yaml").read_text())
    config["data"]["path"] = str(data)  # the same data, now from a directory
    (run_copy / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    test = data / "test.csv"
    assert " the " in test.read_text()
    test.write_text(test.read_text().replace(" the ", " a ", 5))
    summary = (run_copy / "summary.json").read_bytes()
    _one_line_error(capsys, ["evaluate", str(run_copy)], "the test split")
    assert (run_copy / "summary.json").read_bytes() == summary


def test_the_run_records_its_fingerprints(trained_run):
    fps = json.loads((trained_run / "fingerprints.json").read_text())
    assert set(fps["data"]) == {"train", "valid", "test"} and len(fps["tokenizer"]) == 64
    own = json.loads((trained_run / "summary.json").read_text())["evaluations"]["test"]
    assert own["fingerprints"] == {"data": fps["data"]["test"], "tokenizer": fps["tokenizer"]}


# ------------------------------------------------------------------ 5. evaluations keep their settings
def test_an_evaluation_with_other_settings_is_recorded_beside_the_run_own(run_copy, capsys):
    own_summary = json.loads((run_copy / "summary.json").read_text())
    own_outputs = (run_copy / "test_outputs.jsonl").read_bytes()
    assert main(["evaluate", str(run_copy), "generation.strategy=beam", "generation.beam_size=2"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((run_copy / "summary.json").read_text())
    assert summary["test"] == own_summary["test"]
    assert (run_copy / "test_outputs.jsonl").read_bytes() == own_outputs
    (key,) = [k for k in summary["evaluations"] if k != "test"]
    assert key in out
    record = json.loads((run_copy / "evaluations" / key / "evaluation.json").read_text())
    assert record["settings"]["generation"]["strategy"] == "beam"
    assert summary["evaluations"]["test"]["settings"]["generation"]["strategy"] == "greedy"
    assert record == summary["evaluations"][key]
    assert (run_copy / "evaluations" / key / "test_outputs.jsonl").is_file()


def test_evaluate_rejects_overrides_that_contradict_the_trained_model(run_copy, capsys):
    _one_line_error(capsys, ["evaluate", str(run_copy), "model.layers=3"], "model.layers cannot be changed")


# ------------------------------------------------------------------ 6. disk full, partial lines, corrupt checkpoints
@pytest.mark.parametrize("failure", ["torch", "oserror"])
def test_a_full_disk_during_a_checkpoint_write_is_one_line_and_leaves_no_temporaries(in_tmp, capsys, monkeypatch,
                                                                                      failure):
    from edg.training import checkpoint

    def full_disk(*args, **kwargs):
        if failure == "torch":  # how torch reports ENOSPC
            raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0\n"
                               "PytorchStreamWriter failed writing file data/0: file write failed")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real = checkpoint.torch.save
    state = {"calls": 0}

    def second_save_fails(*args, **kwargs):
        state["calls"] += 1
        return full_disk() if state["calls"] == 2 else real(*args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", second_save_fails)
    line = _one_line_error(capsys, ["train", "--plugin", "transformer", *TINY], "cannot write checkpoint")
    assert "step-8" in line
    monkeypatch.setattr(checkpoint.torch, "save", real)
    (run_dir,) = (in_tmp / "runs" / "transformer").iterdir()
    assert not [p for p in run_dir.rglob(".*") if p.name != ".lock"]
    assert main(["train", "--resume", str(run_dir)]) == 0  # the step-4 checkpoint is intact
    assert json.loads((run_dir / "summary.json").read_text())["steps"] == 12


def test_a_partial_last_metrics_line_is_tolerated_on_resume(run_copy, capsys):
    records = (run_copy / "metrics.jsonl").read_text()
    with (run_copy / "metrics.jsonl").open("a") as f:
        f.write('{"step": 13, "split": "tr')
    assert main(["train", "--resume", str(run_copy)]) == 0
    assert "incomplete last line" in capsys.readouterr().err
    assert (run_copy / "metrics.jsonl").read_text() == records


def test_a_corrupt_metrics_line_before_the_end_names_the_line(run_copy, capsys):
    lines = (run_copy / "metrics.jsonl").read_text().splitlines()
    lines[2] = lines[2][:10]
    (run_copy / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    _one_line_error(capsys, ["train", "--resume", str(run_copy)], "metrics.jsonl:3")


def test_a_corrupt_latest_checkpoint_falls_back_to_the_newest_intact_one(run_copy, capsys):
    ckpt = run_copy / "checkpoints"
    latest = ckpt / (ckpt / "LATEST").read_text().strip()
    weights = latest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    assert main(["train", "--resume", str(run_copy)]) == 0
    err = capsys.readouterr().err
    assert latest.name in err and "corrupt" in err and "falling back" in err
    assert (ckpt / "LATEST").read_text().strip() == latest.name  # retrained and rewritten
    steps = [(json.loads(line)["step"], json.loads(line)["split"])
             for line in (run_copy / "metrics.jsonl").read_text().splitlines()]
    assert len(steps) == len(set(steps)) and max(s for s, _ in steps) == 12


# ------------------------------------------------------------------ 9. the smaller items
@pytest.mark.parametrize("argv, expected", [
    (["run", "--plugin", "transformer", "--seeds", "1,x"], "--seeds 1,x"),
    (["run", "--plugin", "transformer", "train.batch_size=0"], "train.batch_size"),
    (["run", "--plugin", "transformer", "train.max_steps=-5"], "train.max_steps"),
    (["run", "--plugin", "transformer", "train.eval_every=0"], "train.eval_every"),
])
def test_bad_numbers_are_one_line(in_tmp, capsys, argv, expected):
    _one_line_error(capsys, argv, expected)
    assert not (in_tmp / "runs").exists()


def test_generate_input_errors_are_one_line(trained_run, tmp_path, capsys):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Caf\xe9 au lait | oui\n".encode("latin-1"))
    _one_line_error(capsys, ["generate", str(trained_run), "--input", str(latin1)], "not UTF-8")
    array = tmp_path / "array.jsonl"
    array.write_text('["I lost my job.", "Oh no."]\n')
    _one_line_error(capsys, ["generate", str(trained_run), "--input", str(array)], "array.jsonl line 1: a JSON array")
    good = tmp_path / "in.txt"
    good.write_text("My dog passed away.\n")
    _one_line_error(capsys, ["generate", str(trained_run), "--input", str(good), "--output",
                             str(tmp_path / "missing" / "out.jsonl")], "does not exist")


def test_generate_takes_overrides_after_its_options(trained_run, tmp_path, capsys):
    good = tmp_path / "in.txt"
    good.write_text("My dog passed away.\n")
    assert main(["generate", str(trained_run), "--input", str(good), "--output", str(tmp_path / "o.jsonl"),
                 "generation.max_length=3"]) == 0
    (row,) = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert len(row["response"].split()) <= 3


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_directory(in_tmp, capsys):
    # a pretrained tokenizer without a name fails after the run directory was created
    _one_line_error(capsys, ["run", "--plugin", "transformer", *TINY, "tokenizer.kind=pretrained"],
                    "tokenizer.name_or_path")
    assert not [d for d in (in_tmp / "runs" / "transformer").iterdir()] if (in_tmp / "runs").exists() else True


def test_chat_interrupted_does_not_talk_about_resume(trained_run, capsys, monkeypatch):
    def ctrl_c(prompt=""):
        raise KeyboardInterrupt

    monkeypatch.setattr("builtins.input", ctrl_c)
    assert main(["chat", str(trained_run)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "resume" not in err


def test_one_permission_policy_following_the_umask(tmp_path):
    from edg.runs import atomic_write_text

    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        (tmp_path / "b.md").write_text("x")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "a.json") == mode(tmp_path / "b.md") == 0o640


def test_run_files_share_one_permission_policy(trained_run):
    modes = {p.name: stat.S_IMODE(p.stat().st_mode)
             for p in (trained_run / n for n in ("summary.json", "config.yaml", "metrics.jsonl", "report.md"))}
    assert len(set(modes.values())) == 1, modes


def test_a_full_disk_during_an_atomic_write_names_the_file_and_leaves_no_temporary(tmp_path, monkeypatch, capsys):
    from edg import runs

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runs.os, "fsync", no_space)
    target = tmp_path / "summary.json"
    with pytest.raises(OSError) as err:
        runs.write_json(target, {"a": 1})
    assert err.value.filename == str(target) and err.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_evaluate_uses_the_configured_cpu_threads(run_copy, monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert main(["evaluate", str(run_copy), "train.threads=1", "train.progress=false"]) == 0
        assert torch.get_num_threads() == 1  # more threads than free cores slows a shared CPU
    finally:
        torch.set_num_threads(before)
