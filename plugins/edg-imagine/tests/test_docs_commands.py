"""The documented tiny run of docs/plugins/imagine.md completes as written, from the repository
root (that every documented command resolves is integration_tests/test_docs_commands.py)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "docs" / "plugins" / "imagine.md", ROOT / "plugins" / "edg-imagine" / "README.md"]


def test_the_pages_document_the_ablations():
    from edg.testing import documented_commands

    commands = [args for page in PAGES for args in documented_commands(page)]
    presets = {args[args.index("--preset") + 1] for args in commands if "--preset" in args}
    assert {"tiny", "wo-cause", "wo-cm", "wo-know", "wo-div"} <= {p for ps in presets for p in ps.split(",")}


def test_the_documented_tiny_run_completes(ed_path, reccon_dir, tmp_path, monkeypatch):
    from edg.cli import main
    from edg.testing import documented_commands

    (tiny,) = [args for args in documented_commands(PAGES[0]) if "tiny" in args]
    monkeypatch.chdir(ROOT)  # ../shared/data as written
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    assert main([*tiny, "train.threads=1", f"output_dir={tmp_path / 'runs'}"]) == 0
    assert len(list((tmp_path / "runs" / "imagine").iterdir())) == 1
