"""Every run committed under docs/results/<system>/<seed>/ rescores to its own numbers: its
outputs (ids, hypotheses, predictions, per-sample NLL) joined by ``edg score --data`` with the
references of ../shared/data give the metrics of its summary.json, which docs/results.md
quotes. The committed files hold no dataset text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
RUNS = sorted(p for p in RESULTS.glob("*/*") if (p / "test_outputs.jsonl").is_file())


def test_there_are_committed_runs():
    assert RUNS, f"no committed runs under {RESULTS}"


@pytest.mark.parametrize("run", RUNS, ids=[f"{p.parent.name}/{p.name}" for p in RUNS])
def test_a_committed_run_rescores_to_its_summary(run):
    from edg.metrics.scoring import score_outputs
    from edg.testing import require_shared

    data = require_shared("empatheticdialogues")
    summary = json.loads((run / "summary.json").read_text())
    first = json.loads((run / "test_outputs.jsonl").open().readline())
    assert not {"context", "reference"} & set(first), "committed outputs must not hold the dataset's text"
    scores = score_outputs(run / "test_outputs.jsonl", data=data)
    assert scores.samples == scores.split_samples  # the whole test split
    expected = {k: v for k, v in summary["test"].items() if k != "bertscore"}
    assert set(expected) <= set(scores.metrics)
    for name, value in expected.items():
        assert scores.metrics[name] == pytest.approx(value, rel=1e-9, abs=1e-9), name
