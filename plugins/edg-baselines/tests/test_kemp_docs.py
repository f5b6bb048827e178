"""Every command of docs/plugins/kemp.md is valid as written: each resolves to a config
(presets, options and knowledge keys exist), and the tiny smoke run completes offline."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

DOCS = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "kemp.md"


def _commands() -> list[list[str]]:
    out = []
    for block in re.findall(r"```bash\n(.*?)```", DOCS.read_text(), flags=re.S):
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


def test_every_documented_command_resolves():
    from edg.pipeline import open_session

    commands = _commands()
    assert len(commands) == 4
    presets = set()
    for args in commands:
        plugin, preset, overrides = _parse(args)
        assert plugin == "kemp"
        session = open_session(plugin, overrides=overrides, preset=preset)
        assert session.config.system == "kemp"
        presets.add(preset)
    assert presets == {"tiny", None, "wo-ece", "wo-edd"}


def test_the_documented_tiny_run_completes(ed_path, tmp_path, monkeypatch):
    from edg.cli import main

    (tiny,) = [args for args in _commands() if "tiny" in args]
    monkeypatch.chdir(DOCS.parents[2])  # the repository root: ../shared/data as written
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    assert main([*tiny, "train.threads=1", f"output_dir={tmp_path / 'runs'}"]) == 0
    (run,) = list((tmp_path / "runs" / "kemp").iterdir())
    assert (run / "test_outputs.jsonl").is_file() and (run / "summary.json").is_file()
