"""Plugin discovery and loading.

Plugins are modules exposed through the ``edg`` entry-point group (the core itself is
the plugin ``core``). Nothing is imported until :meth:`PluginManager.load` is called, and
then only the plugins asked for, plus the ones they declare in ``REQUIRES``.

``EDG_PLUGINS=comet,nec`` restricts which installed plugins may load (``core`` always
loads); a plugin outside that list is treated as not installed. A plugin that fails to
import is recorded in :attr:`PluginManager.failures` and the others keep working, unless
it was asked for by name, in which case loading raises :class:`~edg.errors.PluginError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Iterable

import pluggy

from edg import hookspecs
from edg.errors import PluginError
from edg.registry import KINDS, Registry

ENTRY_POINT_GROUP = "edg"
ALLOW_ENV = "EDG_PLUGINS"
CORE = "core"


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str


def _allowed() -> set[str] | None:
    raw = os.environ.get(ALLOW_ENV)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()} | {CORE}


def discover() -> dict[str, tuple[metadata.EntryPoint, PluginInfo]]:
    """Installed (and allowed) plugins, without importing any of them."""
    allowed = _allowed()
    found: dict[str, tuple[metadata.EntryPoint, PluginInfo]] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        dist = ep.dist
        info = PluginInfo(
            name=ep.name,
            module=ep.value,
            distribution=dist.name if dist else "?",
            version=dist.version if dist else "?",
        )
        found[ep.name] = (ep, info)
    return found


@dataclass
class PluginManager:
    """Loads plugins and collects their registrations into one registry per kind."""

    available: dict[str, tuple[metadata.EntryPoint, PluginInfo]] = field(default_factory=discover)
    loaded: dict[str, PluginInfo] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    registries: dict[str, Registry] = field(default_factory=lambda: {k: Registry(k) for k in KINDS})

    def __post_init__(self) -> None:
        self._pm = pluggy.PluginManager("edg")
        self._pm.add_hookspecs(hookspecs)

    # -- loading -----------------------------------------------------------------------
    def load(self, names: Iterable[str] | None = None) -> "PluginManager":
        """Load ``names`` (and what they require); ``None`` loads every allowed plugin.

        Explicitly named plugins must load; others that fail are recorded in ``failures``.
        """
        if names is None:
            for name in sorted(self.available):
                self._load_one(name, explicit=False)
            return self
        self._load_one(CORE, explicit=True)
        for name in names:
            self._load_one(name, explicit=True)
        return self

    def add_module(self, name: str, module: ModuleType, version: str = "local") -> None:
        """Register an already imported plugin module (used by tests and notebooks)."""
        self.available[name] = (None, PluginInfo(name, module.__name__, name, version))  # type: ignore[assignment]
        self._register(name, module, explicit=True)

    def _load_one(self, name: str, explicit: bool) -> None:
        if name in self.loaded or name in self.failures:
            if explicit and name in self.failures:
                raise PluginError(self.failures[name])
            return
        if name not in self.available:
            if not explicit:
                return
            installed = ", ".join(sorted(self.available)) or "none"
            hint = f" ({ALLOW_ENV} restricts loading)" if _allowed() is not None else ""
            raise PluginError(f"unknown plugin '{name}' (installed: {installed}){hint}")
        ep, _info = self.available[name]
        try:
            module = ep.load()
        except Exception as exc:
            self.failures[name] = f"plugin '{name}' failed to import: {type(exc).__name__}: {exc}"
            if explicit:
                raise PluginError(self.failures[name]) from exc
            return
        self._register(name, module, explicit)

    def _register(self, name: str, module: ModuleType, explicit: bool) -> None:
        for required in getattr(module, "REQUIRES", ()):
            if required not in self.available:
                msg = f"plugin '{name}' requires plugin '{required}', which is not installed"
                self.failures[name] = msg
                if explicit:
                    raise PluginError(msg)
                return
            self._load_one(required, explicit=explicit)
        self._pm.register(module, name=name)
        self.loaded[name] = self.available[name][1]
        self._collect(name)

    def _collect(self, plugin: str) -> None:
        """Call the plugin's collector hooks, attributing each registration to it."""
        for kind, (hook_name, _base) in KINDS.items():
            hook = getattr(self._pm.hook, hook_name)
            registry = self.registries[kind]

            def register(name: str, target: object, _registry: Registry = registry) -> None:
                _registry.add(name, target, plugin)

            for impl in hook.get_hookimpls():
                if impl.plugin_name != plugin:
                    continue
                kwargs = {"register": register}
                try:
                    impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
                except PluginError:
                    raise
                except Exception as exc:
                    raise PluginError(
                        f"plugin '{plugin}' raised in {hook_name}: {type(exc).__name__}: {exc}"
                    ) from exc

    # -- lookup ------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> type:
        return self.registries[kind].get(name)

    def registered_by(self, plugin: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for kind, registry in self.registries.items():
            names = [n for n, e in registry.entries.items() if e.plugin == plugin]
            if names:
                out[kind] = sorted(names)
        return out

    def system_plugin(self, system_name: str) -> str:
        return self.registries["system"].plugin_of(system_name)


def load_for_system(name: str, extra: Iterable[str] = ()) -> PluginManager:
    """Plugins for ``edg run --plugin NAME``.

    ``NAME`` is a plugin (which should register a system of the same name) or a system
    of an already loadable plugin (e.g. the core's ``transformer``).
    """
    manager = PluginManager()
    if name in manager.available:
        manager.load([name, *extra])
    else:
        manager.load(list(extra))
        if name not in manager.registries["system"].entries:
            manager.load(None)  # the system may live in any allowed plugin
    if name not in manager.registries["system"].entries:
        known = ", ".join(manager.registries["system"].names()) or "none"
        installed = ", ".join(sorted(manager.available))
        raise PluginError(
            f"unknown plugin or system '{name}' (plugins: {installed}; systems: {known})"
        )
    return manager
