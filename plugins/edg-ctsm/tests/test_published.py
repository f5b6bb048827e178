"""CTSM's published tables are registered by the plugin (not kept in the core)."""

from edg.plugins import PluginManager
from edg.plugins.registry import import_target
from edg.reporting.published import published_for


def test_ctsm_registers_its_tables():
    pm = PluginManager().load(["ctsm"])
    (reference,) = [ref for plugin, _paper, ref in pm.published if plugin == "ctsm"]
    assert reference == "edg_ctsm.published:PUBLISHED"
    ctsm = import_target(reference)
    t1 = {e.system: e for e in ctsm if e.table == "Table 1"}
    assert len(t1) == 8 and sum(e.table == "Table 3" for e in ctsm) == 6
    assert "acc" not in t1["Transformer"].metrics and t1["CASE"].metrics["acc"] == 40.20
    assert published_for("ctsm")[0].metrics["acc"] == 43.41
    assert published_for("ctsm w/o egm & ccl")[0].metrics["ppl"] == 36.35
