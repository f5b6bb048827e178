"""Shared fixtures of the core tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]

from edg.testing import TINY_TRANSFORMER as TINY


@pytest.fixture()
def in_tmp(tmp_path, monkeypatch):
    """Run in a temporary directory with a private edg cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDG_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A finished tiny ``transformer`` run on the embedded sample (shared by tests that
    only read it)."""
    from edg.cli import main

    base = tmp_path_factory.mktemp("trained")
    old = Path.cwd()
    os.environ.setdefault("EDG_CACHE", str(base / "cache"))
    os.chdir(base)
    try:
        assert main(["run", "--plugin", "transformer", *TINY]) == 0
    finally:
        os.chdir(old)
    (run_dir,) = list((base / "runs" / "transformer").iterdir())
    return run_dir
