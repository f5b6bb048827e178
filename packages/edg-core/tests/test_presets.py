"""Every core system has a ``tiny`` preset that runs the whole job offline."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("system", ["transformer", "multi-trs"])
def test_tiny_preset_runs_end_to_end(system, in_tmp):
    from edg.cli import main

    assert main(["run", "--plugin", system, "--preset", "tiny", "train.progress=false"]) == 0
    (run_dir,) = list((in_tmp / "runs" / system).iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 40
    assert ('"acc":' in json.dumps(summary)) == (system == "multi-trs")  # emotion accuracy reported
