"""edg-nec and edg-ctsm each installed alone, from wheels, into a fresh virtual environment,
then their tiny presets run end to end: everything a plugin needs must come from its own
package metadata (plugin-to-plugin needs are package dependencies, offline resources are
extras), nothing from the checkout.

The workspace's packages are built as wheels and installed with ``--no-index --find-links``
(no network); the third-party packages are the versions of ``uv.lock``, installed from the
local uv cache (``--offline``) before the plugin, so that the plugin's own install resolves
its workspace dependencies from its wheel metadata alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edg.testing import require_shared

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def _uv() -> str:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to build and install the workspace's wheels")
    return uv


def _run(args, cwd, timeout=900, env=None):
    out = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert out.returncode == 0, f"{' '.join(map(str, args))}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def _clean_env(**extra) -> dict[str, str]:
    """The environment without anything that points back into the checkout's venv."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}}
    env.update(OMP_NUM_THREADS="1", **extra)
    return env


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    _run([_uv(), "build", "--wheel", "--all-packages", "--offline", "--out-dir", out], cwd=REPO)
    return out


def install_alone(root: Path, wheels: Path, package: str, extra: str | None = None) -> Path:
    """A fresh venv holding ``package`` (with ``extra``) and exactly what it depends on;
    returns its ``bin`` directory."""
    uv = _uv()
    lock = root / "pylock.toml"
    extras = ["--extra", extra] if extra else []
    # the third-party closure of the package, at uv.lock's versions
    _run([uv, "export", "--frozen", "--package", package, *extras, "--no-dev", "--no-emit-workspace",
          "--format", "pylock.toml", "--output-file", lock, "--quiet"], cwd=REPO)
    venv = root / "venv"
    _run([uv, "venv", "--offline", "--quiet", "--python", sys.executable, venv], cwd=root)
    python = venv / "bin" / "python"
    env = _clean_env()
    _run([uv, "pip", "install", "--offline", "--python", python, "-r", lock], cwd=root, env=env)
    # the workspace packages: only from the wheels, resolved from their metadata
    spec = f"{package}[{extra}]" if extra else package
    _run([uv, "pip", "install", "--offline", "--no-index", "--find-links", wheels, "--python", python, spec],
         cwd=root, env=env)
    return venv / "bin"


def _installed_plugins(bin_dir: Path, cwd: Path) -> set[str]:
    out = _run([bin_dir / "edg", "plugins", "--json"], cwd=cwd, env=_clean_env())
    rows = json.loads(out.stdout)
    assert all(r["error"] is None for r in rows), rows
    return {r["name"] for r in rows}


def _run_tiny(bin_dir: Path, cwd: Path, plugin: str, limits: list[str]) -> dict:
    data = require_shared("empatheticdialogues/train.csv").parent
    out = subprocess.run([bin_dir / "edg", "run", "--plugin", plugin, "--preset", "tiny", "--data", str(data),
                          *limits, f"output_dir={cwd / 'runs'}"], cwd=cwd, capture_output=True, text=True,
                         timeout=1200, env=_clean_env(EDG_CACHE=str(cwd / "cache")))
    assert out.returncode == 0, out.stderr[-3000:]
    (run_dir,) = list((cwd / "runs").glob("*/*"))
    summary = json.loads((run_dir / "summary.json").read_text())
    env = json.loads((run_dir / "env.json").read_text())
    return {"summary": summary, "env": env, "run_dir": run_dir}


def _assert_not_from_checkout(bin_dir: Path, modules: list[str]) -> None:
    code = "import importlib, sys; print('\\n'.join(importlib.import_module(m).__file__ for m in sys.argv[1:]))"
    out = _run([bin_dir / "python", "-c", code, *modules], cwd=bin_dir, env=_clean_env())
    for path in out.stdout.split():
        assert str(REPO) not in path and "site-packages" in path, path


def test_nec_installed_alone_runs_its_tiny_preset(wheels, tmp_path):
    bin_dir = install_alone(tmp_path, wheels, "edg-nec", "offline")
    _assert_not_from_checkout(bin_dir, ["edg", "edg_nec", "edg_comet"])
    assert _installed_plugins(bin_dir, tmp_path) == {"core", "comet", "nec"}
    result = _run_tiny(bin_dir, tmp_path, "nec", ["data.max_train=24", "data.max_valid=8", "data.max_test=8",
                                                  "train.max_steps=2", "train.eval_every=2"])
    assert {"ppl", "bleu-1", "dist-1", "sent-std"} <= set(result["summary"]["test"])
    assert set(result["env"]["plugins"]) >= {"core", "comet", "nec"}


def test_ctsm_installed_alone_runs_its_tiny_preset(wheels, tmp_path):
    bin_dir = install_alone(tmp_path, wheels, "edg-ctsm")
    _assert_not_from_checkout(bin_dir, ["edg", "edg_ctsm", "edg_comet", "edg_vad"])
    assert _installed_plugins(bin_dir, tmp_path) == {"core", "comet", "vad", "baselines", "ctsm"}
    result = _run_tiny(bin_dir, tmp_path, "ctsm", ["data.max_train=48", "data.max_valid=8", "data.max_test=8",
                                                   "train.max_steps=2", "train.eval_every=2"])
    assert {"acc", "ppl", "dist-1", "dist-2"} <= set(result["summary"]["test"])
    assert set(result["env"]["plugins"]) >= {"core", "comet", "vad", "baselines", "ctsm"}
    # without the plugins it depends on (as after `pip install --no-deps`): one error names every package
    _run([_uv(), "pip", "uninstall", "--python", bin_dir / "python", "edg-comet", "edg-vad"], cwd=tmp_path,
         env=_clean_env())
    out = subprocess.run([bin_dir / "edg", "run", "--plugin", "ctsm", "--preset", "tiny"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, env=_clean_env())
    assert out.returncode == 2
    assert out.stderr.strip() == ("edg: error: missing packages: edg-comet (required by edg-baselines); "
                                  "edg-vad (required by edg-baselines); edg-comet (required by edg-ctsm); "
                                  "edg-vad (required by edg-ctsm); install them: pip install edg-comet edg-vad")


def test_third_party_plugin_with_only_edg_core(wheels, tmp_path):
    """The example plugin (a System reusing the baseline through edg.api, a Reranker and a
    LossTerm) in an environment that holds only edg-core and it."""
    _run([_uv(), "build", "--wheel", "--offline", "--out-dir", wheels, REPO / "integration_tests" / "example_plugin"],
         cwd=REPO)
    bin_dir = install_alone(tmp_path, wheels, "edg-core")
    _run([_uv(), "pip", "install", "--offline", "--no-index", "--find-links", wheels, "--python",
          bin_dir / "python", "edg-example-loss"], cwd=tmp_path, env=_clean_env())
    _assert_not_from_checkout(bin_dir, ["edg", "edg_example_loss"])
    assert _installed_plugins(bin_dir, tmp_path) == {"core", "example"}
    result = _run_tiny(bin_dir, tmp_path, "example", ["data.max_train=64", "data.max_valid=8", "data.max_test=8"])
    assert result["run_dir"].parent.name == "example.trs"
    assert set(result["env"]["plugins"]) == {"core", "example"}
