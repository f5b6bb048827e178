import inspect
import os
import subprocess
import sys
import types

import pytest

from edg.plugins import hookspecs
from edg.errors import PluginError
from edg.plugins.hookspecs import hookimpl
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
    with pytest.raises(PluginError, match=r"unknown loss_term 'nlll'; did you mean 'nll'\? \(registered: emotion, nll\)"):
        pm.get("loss_term", "nlll")


def test_allow_list_environment_variable(monkeypatch):
    monkeypatch.setenv("EDG_PLUGINS", "core")
    pm = PluginManager()
    assert set(pm.available) == {"core"}


def test_loading_plugins_does_not_import_torch():
    """Discovery and registration stay light (lazy references); describing systems in
    ``edg plugins`` imports their classes."""
    code = (
        "import sys\n"
        "from edg.plugins import PluginManager\n"
        "pm = PluginManager().load(None)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(pm.registries['system'].names())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert "transformer" in out.stdout


def test_every_hookspec_is_documented():
    specs = [f for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("register_")]
    assert len(specs) >= 6
    for fn in specs:
        assert fn.__doc__ and ":param register:" in fn.__doc__, fn.__name__


# -- installed distributions (fake ones on sys.path, as a wheel install would lay them out) ---------
def _distribution(site, name, entry_points=None, requires=(), modules=None, version="1.0"):
    """Write ``name``'s dist-info (metadata, entry points) and its modules into ``site``."""
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {name} for tests"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (dist / "METADATA").write_text("\n".join(lines) + "\n")
    if entry_points:
        (dist / "entry_points.txt").write_text(
            "[edg]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    for module, code in (modules or {}).items():
        (site / f"{module}.py").write_text(code)


PLUGIN_CODE = ("from edg.plugins.hookspecs import hookimpl\n"
               "@hookimpl\n"
               "def register_loss_terms(register):\n"
               "    register({name!r}, 'edg.baseline.nll_loss:NllLoss')\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))  # also invalidates importlib's caches
    return path


def test_plugin_dependencies_are_loaded_from_package_metadata(site):
    _distribution(site, "edg-depa", {"depa": "edg_test_depa"}, requires=["edg-depb", "edg-core"],
                  modules={"edg_test_depa": PLUGIN_CODE.format(name="depa.loss")})
    _distribution(site, "edg-depb", {"depb": "edg_test_depb"},
                  modules={"edg_test_depb": PLUGIN_CODE.format(name="depb.loss")})
    pm = PluginManager().load(["depa"])
    assert {"core", "depa", "depb"} <= set(pm.loaded)
    assert pm.get("loss_term", "depb.loss")  # the dependency's registrations are there
    assert pm.plugin_dependencies("depa") == ["depb"]


def test_every_missing_requirement_is_reported_at_once(site):
    _distribution(site, "edg-needy", {"needy": "edg_test_needy"},
                  requires=["edg-absent-plugin", "nosuchpkg-xyz>=1", "edg-core>=99", "extra-only; extra == 'gpu'"],
                  modules={"edg_test_needy": PLUGIN_CODE.format(name="needy.loss")})
    with pytest.raises(PluginError) as err:
        PluginManager().load(["needy"])
    message = str(err.value)
    assert "\n" not in message
    assert "edg-absent-plugin (required by edg-needy)" in message
    assert "nosuchpkg-xyz>=1 (required by edg-needy)" in message
    assert "edg-core>=99 (required by edg-needy; 0.1.0 is installed)" in message
    assert "extra-only" not in message  # optional extras are not required
    assert message.endswith("pip install edg-absent-plugin 'nosuchpkg-xyz>=1' 'edg-core>=99'")
    assert "needy" not in PluginManager().load(None).loaded  # listing records it instead of failing


def test_second_core_distribution_is_ignored_with_a_warning(site, tmp_path, monkeypatch, caplog):
    marker = tmp_path / "imported"
    _distribution(site, "evil-core", {"core": "edg_test_evil_core"},
                  modules={"edg_test_evil_core": f"open({str(marker)!r}, 'w').close()\n"})
    monkeypatch.setenv("EDG_PLUGINS", "core")
    with caplog.at_level("WARNING", logger="edg"):
        pm = PluginManager().load(["core"])
    assert pm.loaded["core"].distribution == "edg-core"
    assert not marker.exists(), "the second 'core' was imported"
    assert "transformer" in pm.registries["system"].entries
    assert any("'core' is also registered by evil-core 1.0" in r.getMessage() and "edg-core" in r.getMessage()
               for r in caplog.records)


def test_duplicate_plugin_name_is_an_error_naming_both(site):
    _distribution(site, "edg-twin-one", {"twin": "edg_test_twin1"}, modules={"edg_test_twin1": "raise SystemExit(3)\n"})
    _distribution(site, "edg-twin-two", {"twin": "edg_test_twin2"}, modules={"edg_test_twin2": "raise SystemExit(3)\n"})
    with pytest.raises(PluginError, match=r"plugin 'twin' is registered by two distributions, "
                                          r"edg-twin-one 1.0 \(edg_test_twin1\) and edg-twin-two 1.0"):
        PluginManager().load(["twin"])
    listed = PluginManager().load(None)
    assert "twin" not in listed.loaded and "edg-twin-two" in listed.failures["twin"]


def test_not_loaded_plugin_hint(site):
    _distribution(site, "edg-extra-loss", {"extraloss": "edg_test_extraloss"},
                  modules={"edg_test_extraloss": PLUGIN_CODE.format(name="extraloss.penalty")})
    pm = PluginManager().load(["core"])
    with pytest.raises(PluginError, match="plugin 'extraloss' registers it but is not loaded; load it with --with extraloss"):
        pm.get("loss_term", "extraloss.penalty")
    with pytest.raises(PluginError, match=r"did you mean 'extraloss.penalty' \(plugin 'extraloss', load it with --with extraloss\)"):
        pm.get("loss_term", "extraloss.penaltyy")


LENRANK = (
    "from edg.plugins.hookspecs import hookimpl\n"
    "@hookimpl\n"
    "def register_systems(register):\n"
    "    register('lenrank.trs', 'edg.baseline.transformer_system:TransformerSystem')\n"
)


def test_plugin_with_one_system_runs_it_by_plugin_name(site):
    from edg.pipeline import open_session

    _distribution(site, "edg-lenrank", {"lenrank": "edg_test_lenrank"}, modules={"edg_test_lenrank": LENRANK})
    session = open_session("lenrank")
    assert session.config.system == "lenrank.trs" and session.system.registered_name == "lenrank.trs"
    assert session.plugins.loaded["lenrank"].distribution == "edg-lenrank"


def test_plugin_without_a_system_says_how_to_use_it(site):
    _distribution(site, "edg-only-loss", {"onlyloss": "edg_test_onlyloss"},
                  modules={"edg_test_onlyloss": PLUGIN_CODE.format(name="onlyloss.x")})
    with pytest.raises(PluginError, match="plugin 'onlyloss' registers no system;.*--with onlyloss"):
        load_for_system("onlyloss")


def test_config_values_never_import_modules(tmp_path, monkeypatch):
    """A config names registered components only: a module that exists (even in the working
    directory) is not imported when a config names it."""
    from edg.errors import EdgError
    from edg.pipeline import open_session

    marker = tmp_path / "imported"
    (tmp_path / "edg_test_trojan.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # as `python -m edg.cli` would put the cwd first
    attempts = [
        ("edg_test_trojan", []),
        ("transformer", ["losses=[{name: 'edg_test_trojan:Loss'}]"]),
        ("transformer", ["generation.reranker=edg_test_trojan"]),
        ("transformer", ["model.decoder=edg_test_trojan:Decoder"]),
        ("transformer", ["knowledge={'edg_test_trojan:K': {}}"]),
        ("transformer", ["plugins=[edg_test_trojan]"]),
    ]
    for system, overrides in attempts:
        with pytest.raises(EdgError):
            open_session(system, overrides=overrides)
    assert not marker.exists()


def test_component_options_are_validated_before_any_data_work(caplog):
    from edg.errors import ConfigError
    from edg.pipeline import open_session

    cases = [
        (["losses=[{name: nll, options: {smoothing: 0.1}}]"], "unknown config key 'losses[0].options.smoothing' "
                                                              "(loss_term 'nll' takes: label_smoothing, reduction)"),
        (["model.decoder_options.layerz=2"], "unknown config key 'model.decoder_options.layerz'"),
        (["model.decoder_options.dropout=high"], "config key 'model.decoder_options.dropout'"),
        (["model.decoder=transfomer"], "unknown decoder 'transfomer'; did you mean 'transformer'?"),
    ]
    for overrides, message in cases:
        with pytest.raises((ConfigError, PluginError), match=message.replace("[", r"\[").replace("]", r"\]")
                           .replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
            open_session("transformer", overrides=overrides)
    with pytest.raises(ConfigError, match=r"unknown config key 'model.emotion_options.bogus'"):
        open_session("multi-trs", overrides=["model.emotion_options.bogus=1"])


def test_reranker_that_cannot_act_is_warned_about(site, caplog):
    _distribution(site, "edg-rr", {"rr": "edg_test_rr"}, modules={"edg_test_rr": (
        "from edg.plugins.hookspecs import hookimpl\n"
        "from edg.interfaces.reranker import Reranker\n"
        "class Keep(Reranker):\n"
        "    def rerank(self, *args, **kwargs):\n"
        "        raise AssertionError('not called here')\n"
        "@hookimpl\n"
        "def register_rerankers(register):\n"
        "    register('rr.keep', Keep)\n")})
    from edg.pipeline import open_session

    with caplog.at_level("WARNING", logger="edg"):
        open_session("transformer", overrides=["generation.reranker=rr.keep"], extra_plugins=["rr"])
        open_session("transformer", overrides=["generation.reranker=rr.keep", "generation.strategy=beam",
                                               "generation.num_return=1"], extra_plugins=["rr"])
        quiet = len(caplog.records)
        open_session("transformer", overrides=["generation.reranker=rr.keep", "generation.strategy=beam",
                                               "generation.num_return=3"], extra_plugins=["rr"])
    messages = [r.getMessage() for r in caplog.records]
    assert "reranker 'rr.keep' cannot act: greedy decoding" in messages[0]
    assert "reranker 'rr.keep' cannot act: generation.num_return: 1" in messages[1]
    assert len(caplog.records) == quiet == 2  # beam with 3 candidates: no warning


def test_edg_config_prints_a_config_that_runs_back(tmp_path, capsys):
    import yaml

    from edg.cli import main
    from edg.pipeline import open_session

    assert main(["config", "multi-trs"]) == 0
    text = capsys.readouterr().out
    data = yaml.safe_load(text)
    assert data["system"] == "multi-trs" and data["model"]["emotion_module"] == "pooled"
    assert "d_model" in data["model"]  # every model option written out
    (tmp_path / "c.yaml").write_text(text)
    from_file, default = open_session(None, str(tmp_path / "c.yaml")), open_session("multi-trs")
    assert from_file.config.model_dump(exclude={"model"}) == default.config.model_dump(exclude={"model"})
    assert from_file.system.options == default.system.options
    assert main(["config", "multi-trs", "--preset", "nope"]) == 2
    assert "system 'multi-trs' has no preset 'nope'" in capsys.readouterr().err


def test_edg_plugins_describes_systems(capsys):
    import json

    from edg.cli import main

    assert main(["plugins", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    systems = {s["name"]: s for s in rows["core"]["systems"]}
    assert systems["multi-trs"]["description"].startswith("Transformer + emotion classifier")
    assert systems["multi-trs"]["components"]["emotion_module"] == ["pooled"]
    assert systems["multi-trs"]["components"]["loss_term"] == ["nll", "emotion"]
    assert isinstance(systems["transformer"]["presets"], list)
    assert rows["core"]["published"] == ["core"]
    assert main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert "  system multi-trs: Transformer + emotion classifier" in text and "    uses decoder: transformer" in text


def test_published_results_come_from_plugins(site):
    from edg.reporting.published import PUBLISHED, all_published, published_for

    assert {e.system for e in PUBLISHED} == {"Transformer", "Multi-TRS"}  # the core's own rows only
    _distribution(site, "edg-paper", {"paper": "edg_test_paper"}, modules={"edg_test_paper": (
        "from edg.plugins.hookspecs import hookimpl\n"
        "from edg.reporting.published import rows\n"
        "ROWS = rows('paperx', 'Table 9', ('ppl', 'dist-1'), [('PaperSys', 30.5, 1.25), ('Transformer', 37.62, None)],"
        " 'notes')\n"
        "@hookimpl\n"
        "def register_published_results(register):\n"
        "    register('paperx', 'edg_test_paper:ROWS')\n")})
    (entry,) = published_for("papersys")
    assert (entry.paper, entry.table, entry.metrics, entry.source) == (
        "paperx", "Table 9", {"ppl": 30.5, "dist-1": 1.25}, "published (paperx, Table 9)")
    assert "paperx" in {e.paper for e in published_for("transformer")}
    keys = [(e.paper, e.table, e.system) for e in all_published()]
    assert len(keys) == len(set(keys))


def test_declared_dependency_loads_from_its_distribution_despite_a_duplicate_name(site, tmp_path, monkeypatch):
    """``depa`` depends on the package edg-depb; a second distribution also calls its plugin
    ``depb``: loading ``depa`` takes the declared one and never imports the other, and the
    allow-list does not block a declared dependency."""
    marker = tmp_path / "imported"
    _distribution(site, "edg-depa", {"depa": "edg_test_depa2"}, requires=["edg-depb"],
                  modules={"edg_test_depa2": PLUGIN_CODE.format(name="depa.loss")})
    _distribution(site, "edg-depb", {"depb": "edg_test_depb2"},
                  modules={"edg_test_depb2": PLUGIN_CODE.format(name="depb.loss")})
    _distribution(site, "other-depb", {"depb": "edg_test_other_depb"},
                  modules={"edg_test_other_depb": f"open({str(marker)!r}, 'w').close()\n"})
    monkeypatch.setenv("EDG_PLUGINS", "depa")
    pm = PluginManager().load(["depa"])
    assert pm.loaded["depb"].distribution == "edg-depb" and pm.get("loss_term", "depb.loss")
    assert not marker.exists()
