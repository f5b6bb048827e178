"""Every command in docs/plugins/ctsm.md's ```bash blocks runs as written.

Each runs through bash from the repository root, as a reader would type it, with its output
sent to a temporary directory and, for the paper-size runs, a few samples and steps appended
(later overrides win). The tiny smoke run is part of the default test run: it needs no
lexicon file (edg-vad's hand-made lexicon) and no knowledge. The paper-size commands take
about a minute each even with 3 steps, so they are marked slow.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from edg.testing import require_shared

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "plugins" / "ctsm.md"
#: appended to the paper-size runs: a few samples and steps
LIMITS = ["data.max_train=12", "data.max_valid=4", "data.max_test=4", "train.max_steps=3", "train.eval_every=3"]


def doc_commands() -> list[tuple[int, str]]:
    """(line, command) of every command in the doc's ```bash blocks (``\\`` continues a line,
    ``#`` starts a comment)."""
    commands, inside, pending, first = [], False, "", 0
    for lineno, line in enumerate(DOC.read_text().splitlines(), 1):
        if line.strip() == "```bash":
            inside = True
            continue
        if inside and line.strip() == "```":
            inside = False
            continue
        if not inside:
            continue
        if not pending:
            first = lineno
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        command = " ".join(shlex.split(pending, comments=True))
        if command:
            commands.append((first, command))
        pending = ""
    return commands


COMMANDS = doc_commands()


def test_the_doc_has_its_commands():
    assert len(COMMANDS) >= 3 and all(cmd.startswith("edg run --plugin ctsm") for _, cmd in COMMANDS)


def run_doc_command(command: str, tmp_path: Path, extra: list[str]) -> subprocess.CompletedProcess:
    require_shared("empatheticdialogues/train.csv")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               EDG_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    line = " ".join([command, *extra, f"output_dir={tmp_path / 'runs'}", "train.progress=false"])
    return subprocess.run(["bash", "-c", line], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("where,command", [(f"ctsm.md:{n}", c) for n, c in COMMANDS if "--preset tiny" in c])
def test_tiny_command_runs_offline(where, command, tmp_path):
    done = run_doc_command(command, tmp_path, [])
    assert done.returncode == 0, f"{where}: {command}\n{done.stderr[-2000:]}"
    assert list((tmp_path / "runs" / "ctsm").glob("*/summary.json")), where


@pytest.mark.slow
@pytest.mark.parametrize("where,command", [(f"ctsm.md:{n}", c) for n, c in COMMANDS if "--preset tiny" not in c])
def test_paper_size_commands_run(where, command, tmp_path):
    require_shared("nrc_vad/NRC-VAD-Lexicon.txt")
    done = run_doc_command(command, tmp_path, LIMITS)
    assert done.returncode == 0, f"{where}: {command}\n{done.stderr[-2000:]}"
    assert list((tmp_path / "runs" / "ctsm").glob("*/summary.json")), where
