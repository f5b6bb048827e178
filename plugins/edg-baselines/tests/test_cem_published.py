"""CEM's published rows: the CEM rows of the tables in ../shared/papers that list CEM (NEC
Tables 1 and 3, CTSM Table 1, IMAGINE Table 1; ETHREED's tables have no CEM row), registered
by edg-baselines, and equal to the same rows that edg-nec, edg-ctsm and edg-imagine register."""

from edg.plugins import PluginManager
from edg.plugins.registry import import_target
from edg.reporting.published import published_for


def test_baselines_register_cem_rows():
    pm = PluginManager().load(["baselines"])
    (reference,) = [ref for plugin, _paper, ref in pm.published if plugin == "baselines"]
    cem = {(e.paper, e.table): e for e in published_for("cem", import_target(reference))}
    assert set(cem) == {("nec", "Table 1"), ("nec", "Table 3"), ("ctsm", "Table 1"), ("imagine", "Table 1")}
    assert cem[("ctsm", "Table 1")].metrics == {"acc": 39.11, "ppl": 36.11, "dist-1": 0.66, "dist-2": 2.99}
    assert cem[("imagine", "Table 1")].metrics == {"ppl": 36.11, "bleu-2": 1.35, "dist-1": 0.66, "dist-2": 2.99,
                                                   "acc": 39.11}
    assert cem[("nec", "Table 1")].metrics == {"ppl": 36.33, "bleu-1": 16.12, "bleu-2": 7.29, "bleu-3": 4.06,
                                               "bleu-4": 2.03, "dist-1": 0.62, "dist-2": 2.39, "sent-std": 61.26}
    assert cem[("nec", "Table 3")].metrics == {"top5": 36.82}
    assert all(e.notes for e in cem.values())


def test_cem_rows_shared_with_other_plugins_carry_the_same_values():
    pm = PluginManager().load(None)
    by_key: dict = {}
    for entry in pm.published_entries():
        if entry.system == "CEM":
            by_key.setdefault((entry.paper, entry.table), set()).add(tuple(sorted(entry.metrics.items())))
    assert len(by_key) == 4 and all(len(values) == 1 for values in by_key.values()), by_key
