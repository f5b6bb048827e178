"""MoEL's and MIME's published numbers are registered by edg-baselines (not kept in the core)."""

from edg.plugins import PluginManager
from edg.plugins.registry import import_target
from edg.reporting.published import published_for


def test_baselines_register_moel_and_mime_rows():
    pm = PluginManager().load(["baselines"])
    (reference,) = [ref for plugin, _paper, ref in pm.published if plugin == "baselines"]
    entries = import_target(reference)
    assert {"MoEL", "MIME"} <= {e.system for e in entries}
    moel = {(e.paper, e.table): e for e in published_for("moel", entries)}
    assert set(moel) == {("nec", "Table 1"), ("nec", "Table 3"), ("ctsm", "Table 1"), ("imagine", "Table 1")}
    assert moel[("ctsm", "Table 1")].metrics == {"acc": 32.00, "ppl": 38.04, "dist-1": 0.44, "dist-2": 2.10}
    assert moel[("nec", "Table 1")].metrics["sent-std"] == 40.15
    mime = {(e.paper, e.table): e for e in published_for("mime", entries)}
    assert mime[("ctsm", "Table 1")].metrics["acc"] == 34.24
    release = mime[("mime-release", "output.txt")]
    assert release.metrics == {"ppl": 37.5363, "acc": 34.88} and release.extra["bleu (greedy, multi-bleu)"] == "2.76"
    assert all(e.tokenizer_kind == "word" and e.notes for e in entries)


def test_rows_shared_with_other_plugins_carry_the_same_values():
    """NEC's and CTSM's plugins register the same rows; reports keep one, so they must agree."""
    pm = PluginManager().load(None)
    by_key: dict = {}
    for entry in pm.published_entries():
        if entry.system in ("MoEL", "MIME"):
            by_key.setdefault((entry.paper, entry.table, entry.system), set()).add(tuple(sorted(entry.metrics.items())))
    assert by_key and all(len(values) == 1 for values in by_key.values()), by_key
