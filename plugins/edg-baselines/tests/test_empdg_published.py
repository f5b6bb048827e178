"""EmpDG's published rows (the tables of ../shared/papers that list EmpDG) are registered by
edg-baselines and agree with the same rows other plugins register."""

from edg.plugins import PluginManager
from edg.plugins.registry import import_target
from edg.reporting.published import published_for


def test_empdg_rows_of_the_later_papers_are_registered():
    pm = PluginManager().load(["baselines"])
    (reference,) = [ref for plugin, _paper, ref in pm.published if plugin == "baselines"]
    empdg = {(e.paper, e.table): e for e in published_for("empdg", import_target(reference))}
    assert set(empdg) == {("nec", "Table 1"), ("nec", "Table 3"), ("ctsm", "Table 1"), ("imagine", "Table 1")}
    assert empdg[("nec", "Table 1")].metrics == {"ppl": 37.43, "bleu-1": 19.96, "bleu-2": 9.11, "bleu-3": 4.74,
                                                 "bleu-4": 2.80, "dist-1": 0.46, "dist-2": 1.99,
                                                 "sent-std": 26.94}
    assert empdg[("nec", "Table 3")].metrics == {"top5": 29.94}
    assert empdg[("ctsm", "Table 1")].metrics == {"acc": 34.31, "ppl": 37.29, "dist-1": 0.46, "dist-2": 2.02}
    assert empdg[("imagine", "Table 1")].metrics == {"ppl": 37.29, "bleu-2": 1.30, "dist-1": 0.46, "dist-2": 2.02,
                                                     "acc": 30.41}
    assert all(e.tokenizer_kind == "word" and e.notes for e in empdg.values())


def test_empdg_rows_shared_with_other_plugins_carry_the_same_values():
    by_key: dict = {}
    for entry in PluginManager().load(None).published_entries():
        if entry.system == "EmpDG":
            by_key.setdefault((entry.paper, entry.table), set()).add(tuple(sorted(entry.metrics.items())))
    assert ("ethreed", "Table 1") in by_key  # edg-ethreed's row, not duplicated here
    assert by_key and all(len(values) == 1 for values in by_key.values()), by_key
