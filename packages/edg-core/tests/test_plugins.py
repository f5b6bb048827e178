import inspect
import os
import subprocess
import sys
import types

import pytest

from edg import hookspecs
from edg.errors import PluginError
from edg.hookspecs import hookimpl
from edg.plugins import PluginManager, load_for_system


def _plugin(name, **hooks):
    module = types.ModuleType(name)
    for hook_name, fn in hooks.items():
        setattr(module, hook_name, hookimpl(fn))
    return module


def test_core_registers_baselines():
    pm = PluginManager().load(["core"])
    assert {"transformer", "multi-trs"} <= set(pm.registries["system"].names())
    assert {"nll", "emotion"} <= set(pm.registries["loss_term"].names())
    assert pm.registered_by("core")["decoder"] == ["transformer"]


def test_duplicate_name_names_both_plugins():
    pm = PluginManager().load(["core"])
    dup = _plugin("dup", register_loss_terms=lambda register: register("nll", "x:Y"))
    with pytest.raises(PluginError, match="'nll' is registered twice: by plugin 'core' and by plugin 'dup'"):
        pm.add_module("dup", dup)


def test_plugin_may_take_a_subset_of_arguments_and_is_checked_on_use():
    pm = PluginManager().load(["core"])
    pm.add_module("bad", _plugin("bad", register_rerankers=lambda register: register("bad.r", "edg.config:RunConfig")))
    with pytest.raises(PluginError, match="'bad.r' from plugin 'bad' is not a subclass of Reranker"):
        pm.get("reranker", "bad.r")


def test_broken_component_module_reported_by_plugin_name():
    pm = PluginManager().load(["core"])
    pm.add_module("broken", _plugin("broken", register_decoders=lambda register: register("b", "no_such_module_xyz:D")))
    with pytest.raises(PluginError, match="plugin 'broken' failed to load decoder 'b'.*ModuleNotFoundError"):
        pm.get("decoder", "b")


def test_hook_raising_is_reported():
    def boom(register):
        raise RuntimeError("kaput")

    pm = PluginManager().load(["core"])
    with pytest.raises(PluginError, match="plugin 'boom' raised in register_systems: RuntimeError: kaput"):
        pm.add_module("boom", _plugin("boom", register_systems=boom))


def test_unknown_plugin_and_system():
    with pytest.raises(PluginError, match="unknown plugin 'nope'"):
        PluginManager().load(["nope"])
    with pytest.raises(PluginError, match="unknown plugin or system 'nope'"):
        load_for_system("nope")


def test_unknown_component_lists_known():
    pm = PluginManager().load(["core"])
    with pytest.raises(PluginError, match=r"unknown loss_term 'nlll' \(registered: .*nll"):
        pm.get("loss_term", "nlll")


def test_allow_list_environment_variable(monkeypatch):
    monkeypatch.setenv("EDG_PLUGINS", "core")
    pm = PluginManager()
    assert set(pm.available) == {"core"}


def test_listing_plugins_does_not_import_torch():
    code = (
        "import sys\n"
        "from edg.plugins import PluginManager\n"
        "PluginManager().load(None)\n"
        "from edg.cli import main\n"
        "main(['plugins'])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert "transformer" in out.stdout


def test_every_hookspec_is_documented():
    specs = [f for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("register_")]
    assert len(specs) >= 6
    for fn in specs:
        assert fn.__doc__ and ":param register:" in fn.__doc__, fn.__name__
