"""KEMP's published numbers are registered by edg-baselines, and edg's evaluator scores KEMP's
released test outputs (qtli/KEMP ``result/KEMP/KEMP.txt``) with the BLEU the authors' script
printed for them."""

from __future__ import annotations

import json

import pytest


def test_kemp_rows_are_registered():
    from edg.plugins import PluginManager
    from edg.plugins.registry import import_target
    from edg.reporting.published import published_for

    pm = PluginManager().load(["baselines"])
    (reference,) = [ref for plugin, _paper, ref in pm.published if plugin == "baselines"]
    kemp = {(e.paper, e.table): e for e in published_for("kemp", import_target(reference))}
    assert set(kemp) == {("ctsm", "Table 1"), ("imagine", "Table 1"), ("kemp-release", "KEMP.txt")}
    assert kemp[("ctsm", "Table 1")].metrics == {"acc": 39.31, "ppl": 36.89, "dist-1": 0.55, "dist-2": 2.29}
    assert kemp[("imagine", "Table 1")].metrics["bleu-2"] == 1.34
    assert kemp[("kemp-release", "KEMP.txt")].metrics == {"bleu-1": 17.34, "bleu-2": 7.50, "bleu-4": 2.44}
    # the same rows registered by other plugins (edg-ctsm, edg-imagine, edg-ethreed) carry the same values
    everywhere: dict = {}
    for entry in PluginManager().load(None).published_entries():
        if entry.system == "KEMP":
            everywhere.setdefault((entry.paper, entry.table), set()).add(tuple(sorted(entry.metrics.items())))
    assert all(len(values) == 1 for values in everywhere.values()), everywhere


def read_kemp_outputs(path) -> list[dict]:
    """``Emotion:``/``Context:``/``Concept:``/``Pred:``/``Ref:`` blocks -> outputs lines (the
    prefixes removed, not ``str.strip``-ped as the authors' script does)."""
    rows, current = [], {}
    for line in path.read_text(encoding="utf-8").splitlines():
        for prefix, key in (("Emotion:", "emotion"), ("Pred:", "hypothesis"), ("Ref:", "reference")):
            if line.startswith(prefix):
                current[key] = line[len(prefix):].strip()
                if key == "reference":
                    rows.append(current)
                    current = {}
    return rows


def test_the_evaluator_reproduces_the_bleu_of_kemps_released_outputs(tmp_path):
    from edg.metrics.scoring import score_outputs
    from edg.testing import require_shared

    rows = read_kemp_outputs(require_shared("published_outputs/kemp_KEMP.txt"))
    assert len(rows) == 5255 and all(set(r) == {"emotion", "hypothesis", "reference"} for r in rows)
    outputs = tmp_path / "kemp.jsonl"
    outputs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scores = score_outputs(outputs)
    assert scores.samples == 5255
    m = scores.metrics
    # result/cal_metrics.py printed BLEU-1 17.34, BLEU-2 7.50, BLEU-4 2.44, Dist-1 0.61, Dist-2 2.65
    assert (round(m["bleu-1"], 2), round(m["bleu-2"], 2), round(m["bleu-4"], 2)) == (17.34, 7.50, 2.44)
    # its Distinct-n differs slightly (str.strip('Pred:') eats leading letters; bigrams joined as strings)
    assert m["dist-1"] == pytest.approx(0.61, abs=0.015) and m["dist-2"] == pytest.approx(2.65, abs=0.015)
