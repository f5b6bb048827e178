"""NEC's published tables are registered by the plugin (not kept in the core)."""

from edg.plugins import PluginManager
from edg.plugins.registry import import_target
from edg.reporting.published import published_for


def test_nec_registers_its_tables():
    pm = PluginManager().load(["nec"])
    assert [(plugin, paper) for plugin, paper, _ in pm.published] == [("core", "core"), ("nec", "nec")]
    (reference,) = [ref for plugin, _paper, ref in pm.published if plugin == "nec"]
    assert reference == "edg_nec.published:PUBLISHED"
    nec = import_target(reference)
    t1 = {e.system: e for e in nec if e.table == "Table 1"}
    assert len(t1) == 9 and sum(e.table == "Table 3" for e in nec) == 8 and sum(e.table == "Table 4" for e in nec) == 6
    assert t1["Transformer"].metrics == {"ppl": 37.62, "bleu-1": 18.07, "bleu-2": 8.34, "bleu-3": 4.57, "bleu-4": 2.86,
                                         "dist-1": 0.36, "dist-2": 1.35, "sent-std": 47.35}
    assert t1["NEC"].metrics["sent-std"] == 18.61 and t1["MIME"].metrics["sent-std"] == 216.08
    assert t1["Human"].metrics == {"dist-1": 19.49, "dist-2": 43.55, "sent-std": 0.71}
    assert t1["NEC"].tokenizer_kind == "bpe" and t1["Transformer"].tokenizer_kind == "word"
    assert t1["Human"].tokenizer_kind is None


def test_report_lookup_finds_nec_rows():
    assert [e.table for e in published_for("nec")] == ["Table 1", "Table 3", "Table 4"]
    assert published_for("nec w/o neg")[0].system == "NEC w/o DiffEmo"
    assert published_for("NEC-wo-Entity")[0].metrics["ppl"] == 12.71
