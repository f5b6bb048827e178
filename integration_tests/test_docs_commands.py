"""Every ``edg`` command written in README.md, docs/ and the plugins' READMEs is valid as
written: it parses, and a ``run``/``train`` command resolves to a config (its plugin, presets
and every option exist) from the repository root. The plugins' own docs tests also run their
documented tiny runs end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("docs/plugins/*.md"),
                *ROOT.glob("plugins/*/README.md"), *ROOT.glob("packages/*/README.md")])


def test_the_pages_hold_commands():
    from edg.testing import documented_commands

    assert sum(len(documented_commands(page)) for page in PAGES) >= 40


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_documented_command_is_valid(page, monkeypatch, tmp_path):
    from edg.cli import build_parser, parse_arguments
    from edg.testing import documented_commands, run_command_session

    monkeypatch.chdir(ROOT)  # the docs write paths from the repository root (../shared/data)
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    for args in documented_commands(page):
        try:
            parsed = parse_arguments(build_parser(), args)  # as `edg` parses: overrides may follow options
        except SystemExit:
            pytest.fail(f"{page.name}: `edg {' '.join(args)}` does not parse")
        if parsed.command in ("run", "train"):
            run_command_session(args)
