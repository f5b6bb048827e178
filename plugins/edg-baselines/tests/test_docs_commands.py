"""Every command of docs/plugins/moel.md, mime.md and cem.md is valid as written: each
resolves to a config (presets and options exist), and the tiny smoke run completes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins"


def _commands(name: str) -> list[list[str]]:
    text = (DOCS / f"{name}.md").read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                args = shlex.split(line)
                out.append(args[args.index("edg") + 1:])
    return out


def _parse(args: list[str]) -> tuple[str, str | None, list[str]]:
    assert args[0] == "run"
    plugin, preset, overrides, i = None, None, [], 1
    while i < len(args):
        if args[i] in ("--plugin", "--preset", "--data"):
            value = args[i + 1]
            if args[i] == "--plugin":
                plugin = value
            elif args[i] == "--preset":
                preset = value
            else:
                overrides.append(f"data.path={value}")
            i += 2
        else:
            overrides.append(args[i])
            i += 1
    return plugin, preset, overrides


@pytest.mark.parametrize("name", ["moel", "mime", "cem"])
def test_every_documented_command_resolves(name):
    from edg.pipeline import open_session

    commands = _commands(name)
    assert len(commands) >= 3
    for args in commands:
        plugin, preset, overrides = _parse(args)
        assert plugin == name
        session = open_session(plugin, overrides=overrides, preset=preset)
        assert session.config.system == name


@pytest.mark.parametrize("name", ["moel", "mime", "cem"])
def test_the_documented_tiny_run_completes(name, ed_path, tmp_path, monkeypatch):
    from edg.cli import main

    (tiny,) = [args for args in _commands(name) if "tiny" in args]
    monkeypatch.chdir(DOCS.parents[1])  # the repository root: ../shared/data as written
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    assert main([*tiny, "train.threads=1", f"output_dir={tmp_path / 'runs'}"]) == 0
    assert len(list((tmp_path / "runs" / name).iterdir())) == 1
