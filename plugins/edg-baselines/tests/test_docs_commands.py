"""The documented tiny run of each baseline's page (docs/plugins/<system>.md) completes as
written from the repository root; that every documented command resolves to a config is
integration_tests/test_docs_commands.py."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SYSTEMS = ["moel", "mime", "cem", "empdg", "kemp"]


@pytest.mark.parametrize("name", SYSTEMS)
def test_the_page_documents_its_system(name):
    from edg.testing import documented_commands

    commands = documented_commands(ROOT / "docs" / "plugins" / f"{name}.md")
    assert len(commands) >= 3
    assert all(args[args.index("--plugin") + 1] == name for args in commands if args[0] == "run")
    assert any("tiny" in args for args in commands)


@pytest.mark.parametrize("name", SYSTEMS)
def test_the_documented_tiny_run_completes(name, ed_path, tmp_path, monkeypatch):
    from edg.cli import main
    from edg.testing import documented_commands

    (tiny,) = [args for args in documented_commands(ROOT / "docs" / "plugins" / f"{name}.md") if "tiny" in args]
    monkeypatch.chdir(ROOT)  # ../shared/data and the plugin's sample files as written
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    assert main([*tiny, "train.threads=1", f"output_dir={tmp_path / 'runs'}"]) == 0
    (run,) = list((tmp_path / "runs" / name).iterdir())
    assert (run / "summary.json").is_file() and (run / "test_outputs.jsonl").is_file()
