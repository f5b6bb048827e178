"""IMAGINE's Tables 1 and 2 are registered through the plugin hook."""

from __future__ import annotations


def test_published_tables_are_registered():
    from edg.reporting.published import all_published, published_for

    rows = [e for e in all_published() if e.paper == "imagine"]
    by = {(e.table, e.system): e for e in rows}
    assert by[("Table 1", "IMAGINE")].metrics == {"ppl": 35.10, "bleu-2": 1.37, "dist-1": 0.76, "dist-2": 3.40,
                                                  "acc": 39.60}
    assert {s for t, s in by if t == "Table 2"} == {
        "IMAGINE", "IMAGINE w/o cause", "IMAGINE w/o cm", "IMAGINE w/o know", "IMAGINE w/o DIV"}
    assert by[("Table 2", "IMAGINE w/o DIV")].metrics["ppl"] == 34.50
    assert "acc" not in by[("Table 1", "Transformer")].metrics
    assert {s for t, s in by if t == "Table 1"} >= {"MoEL", "MIME", "EmpDG", "CEM", "KEMP"}
    assert any(e.table == "Table 2" for e in published_for("imagine w/o know", rows))
