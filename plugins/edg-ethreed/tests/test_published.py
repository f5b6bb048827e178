"""ETHREED's Tables 1 and 3 are registered through the plugin hook and read as reports
expect (percentages, the parameter count as an extra)."""

from __future__ import annotations


def test_published_tables_are_registered():
    from edg.reporting.published import all_published

    rows = [e for e in all_published() if e.paper == "ethreed"]
    by = {(e.table, e.system): e for e in rows}
    main = by[("Table 1", "ETHREED")]
    assert main.metrics == {"acc": 42.94, "ppl": 27.74, "dist-1": 1.14, "dist-2": 4.76, "bertscore": 22.6}
    assert main.extra == {"params": "11.98M"}
    assert {s for t, s in by if t == "Table 3"} == {
        "ETHREED", "ETHREED w/o emp-policy", "ETHREED w/o GPS", "ETHREED w/o GRU_p", "ETHREED w/o GRU_e",
        "ETHREED w/o emo-track"}
    assert by[("Table 3", "ETHREED w/o GRU_e")].metrics["acc"] == 43.49
    assert len({t for t, _ in by}) == 2 and len(rows) == 11
