"""Every command of docs/plugins/imagine.md and of the plugin's README is valid as written:
each resolves to a config (presets and options exist), and the documented tiny run completes
from the repository root."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "docs" / "plugins" / "imagine.md", ROOT / "plugins" / "edg-imagine" / "README.md"]


def _commands(page: Path) -> list[list[str]]:
    out = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].strip() if not line.strip().startswith("#") else ""
            args = shlex.split(line) if line else []
            if "edg" in args:  # `pip install ...` lines are not edg commands
                out.append(args[args.index("edg") + 1:])
    return out


def _parse(args: list[str]) -> tuple[str, str | None, list[str]]:
    assert args[0] == "run", args
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


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_documented_command_resolves(page, monkeypatch):
    from edg.pipeline import open_session

    monkeypatch.chdir(ROOT)
    commands = _commands(page)
    assert len(commands) >= 3
    for args in commands:
        plugin, preset, overrides = _parse(args)
        assert plugin == "imagine"
        session = open_session(plugin, overrides=overrides, preset=preset)
        assert session.config.system == "imagine"


def test_the_documented_tiny_run_completes(ed_path, reccon_dir, tmp_path, monkeypatch):
    from edg.cli import main

    (tiny,) = [args for args in _commands(PAGES[0]) if "tiny" in args]
    monkeypatch.chdir(ROOT)  # ../shared/data as written
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    assert main([*tiny, "train.threads=1", f"output_dir={tmp_path / 'runs'}"]) == 0
    assert len(list((tmp_path / "runs" / "imagine").iterdir())) == 1
