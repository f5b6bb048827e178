"""A third-party plugin, built and installed as a user would, then used in a run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edg.testing import TINY_TRANSFORMER

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example plugin installed into its own target directory (a real wheel install)."""
    target = tmp_path_factory.mktemp("site")
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to install the example plugin")
    out = subprocess.run([uv, "pip", "install", "--no-deps", "--target", str(target), str(HERE / "example_plugin")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return target


def _edg(args, cwd, site, **env_extra):
    env = {**os.environ, "PYTHONPATH": str(site), "EDG_CACHE": str(Path(cwd) / "cache"), **env_extra}
    return subprocess.run([sys.executable, "-m", "edg.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)


def test_listed_by_edg_plugins(installed, tmp_path):
    out = _edg(["plugins", "--json"], tmp_path, installed)
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["example"]["distribution"] == "edg-example-loss"
    assert rows["example"]["registers"] == {"loss_term": ["example.confidence_penalty"],
                                            "reranker": ["example.length"], "system": ["example.trs"]}


def test_used_in_a_run(installed, tmp_path):
    losses = "losses=[{name: nll}, {name: example.confidence_penalty, weight: 0.1}]"
    out = _edg(["run", "--plugin", "transformer", "--with", "example", losses, *TINY_TRANSFORMER], tmp_path, installed)
    assert out.returncode == 0, out.stderr[-2000:]
    (run_dir,) = (tmp_path / "runs" / "transformer").iterdir()
    records = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    assert all("example.confidence_penalty" in r and "entropy" in r for r in train)
    # the total is nll + 0.1 * penalty, and the penalty is minus the entropy
    r = train[-1]
    assert r["example.confidence_penalty"] == pytest.approx(-r["entropy"], rel=1e-5)
    assert r["loss"] == pytest.approx(r["nll"] + 0.1 * r["example.confidence_penalty"], rel=1e-4)
    env = json.loads((run_dir / "env.json").read_text())
    assert env["plugins"]["example"] == "0.1.0"


def test_blocked_by_allow_list(installed, tmp_path):
    out = _edg(["run", "--plugin", "transformer", "--with", "example"], tmp_path, installed, EDG_PLUGINS="vad")
    assert out.returncode == 2
    assert "unknown plugin 'example'" in out.stderr and "EDG_PLUGINS" in out.stderr


def test_broken_plugin_is_reported_and_others_keep_working(tmp_path):
    """A plugin that raises at import: listed with its error; other plugins still load."""
    site = tmp_path / "site"
    pkg = site / "edg_broken_plugin"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('this plugin is broken on purpose')\n")
    dist = site / "edg_broken_plugin-0.0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: edg-broken-plugin\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text("[edg]\nbroken = edg_broken_plugin\n")
    out = _edg(["plugins"], tmp_path, site)
    assert out.returncode == 0, out.stderr
    assert "plugin 'broken' failed to import: ImportError: this plugin is broken on purpose" in out.stdout
    assert "system: multi-trs, transformer" in out.stdout
    out = _edg(["run", "--plugin", "broken"], tmp_path, site)
    assert out.returncode == 2
    assert out.stderr.strip() == "edg: error: plugin 'broken' failed to import: ImportError: this plugin is broken on purpose"


def test_its_system_reuses_the_baseline_and_reranks(installed, tmp_path):
    out = _edg(["run", "--plugin", "example", "--preset", "tiny", "train.progress=false"], tmp_path, installed)
    assert out.returncode == 0, out.stderr[-2000:]
    (run_dir,) = (tmp_path / "runs" / "example.trs").iterdir()
    records = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert all("example.confidence_penalty" in r for r in records if r["split"] == "train")
    assert "example.length" in (run_dir / "config.yaml").read_text()


def test_length_reranker_orders_by_penalised_logprob(installed, monkeypatch):
    monkeypatch.syspath_prepend(str(installed))
    from edg_example_loss.length_reranker import LengthReranker, LengthRerankerOptions

    from edg.interfaces.types import Candidate

    short = Candidate([1], logprob=-2.0, score=-2.0)
    long = Candidate([1, 2, 3, 4, 5, 6, 7], logprob=-3.0, score=-0.43)
    by_total = LengthReranker(LengthRerankerOptions(alpha=0.0)).rerank([[long, short]], None, {}, None)
    assert [c.token_ids for c in by_total[0]] == [[1], [1, 2, 3, 4, 5, 6, 7]]
    by_length = LengthReranker(LengthRerankerOptions(alpha=2.0)).rerank([[short, long]], None, {}, None)
    assert by_length[0][0].token_ids == [1, 2, 3, 4, 5, 6, 7]
    assert by_length[0][0].score == pytest.approx(-3.0 / (12 / 6) ** 2)
    assert by_length[0][0].extras["search_score"] == -0.43
