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


def test_the_presets_are_recorded_and_a_config_file_may_name_them(tmp_path):
    from edg import pipeline
    from edg.errors import ConfigError

    assert pipeline.open_session("transformer").config.preset is None
    chosen = pipeline.open_session("transformer", preset="tiny").config
    assert chosen.preset == "tiny"
    # a saved config.yaml (or any file) naming the preset applies it, as --preset does
    (tmp_path / "run.yaml").write_text("preset: tiny\n")
    from_file = pipeline.open_session("transformer", str(tmp_path / "run.yaml")).config
    assert from_file.model_dump() == chosen.model_dump()
    (tmp_path / "bad.yaml").write_text("preset: nothing-like-it\n")
    with pytest.raises(ConfigError, match="system 'transformer' has no preset 'nothing-like-it'"):
        pipeline.open_session("transformer", str(tmp_path / "bad.yaml"))
    with pytest.raises(ConfigError, match="config key 'preset'"):
        pipeline.open_session("transformer", None, ["preset=3"])
    # `edg config --preset` writes the same file (a run from it is named by its presets)
    from edg.plugins import default_config

    written = default_config("transformer", ["tiny"])
    assert written["preset"] == "tiny" and written["train"] == chosen.model_dump(mode="json")["train"]
