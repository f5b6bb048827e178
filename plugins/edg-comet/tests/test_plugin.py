"""The plugin registers its sources through the hooks, lazily."""

from __future__ import annotations

import subprocess
import sys

from edg.plugins import PluginManager


def test_plugin_registers_the_four_sources():
    manager = PluginManager().load(["comet"])
    assert manager.registered_by("comet") == {
        "knowledge_source": ["comet.entity", "comet.file", "comet.imagine", "comet.social"]
    }
    from edg_comet.file_source import FileKnowledge
    from edg_comet.social import SocialKnowledge

    assert manager.get("knowledge_source", "comet.social") is SocialKnowledge
    assert manager.get("knowledge_source", "comet.file") is FileKnowledge
    for name in ("comet.entity", "comet.imagine"):
        manager.get("knowledge_source", name)  # resolves to a KnowledgeSource subclass


def test_importing_the_plugin_does_not_import_torch():
    code = "import edg_comet.plugin, sys; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
