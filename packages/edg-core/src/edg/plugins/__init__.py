"""The plugin machinery: what a plugin implements (:mod:`~edg.plugins.hookspecs`), where its
components are registered (:mod:`~edg.plugins.registry`), how installed plugins are found and
loaded (:mod:`~edg.plugins.manager`), and the core's own plugin (:mod:`~edg.plugins.builtin`).

The names below are the machinery's public surface, used by the CLI and by plugin tests.
"""

from edg.plugins.manager import (
    ENTRY_POINT_GROUP,
    PluginInfo,
    PluginManager,
    default_config,
    load_for_system,
    model_components,
    system_summary,
)

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "PluginManager", "default_config", "load_for_system",
           "model_components", "system_summary"]
