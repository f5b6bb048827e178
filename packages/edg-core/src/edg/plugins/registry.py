"""One registry per component kind.

A registry maps a name to a component class, remembers which plugin registered it,
rejects duplicate names (naming both plugins) and checks the base class when the
component is first resolved. Targets may be lazy ``"module:attribute"`` strings.

Only references that a loaded plugin registered in its own hook code (and the base
classes below) are ever imported: a config value is a registered *name*, looked up in a
registry, and a name that is not registered is an error -- it is never taken as a module.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any

from edg.errors import PluginError

# kind -> (hook name, "module:BaseClass")
KINDS: dict[str, tuple[str, str]] = {
    "knowledge_source": ("register_knowledge_sources", "edg.interfaces.knowledge:KnowledgeSource"),
    "emotion_module": ("register_emotion_modules", "edg.interfaces.emotion:EmotionModule"),
    "decoder": ("register_decoders", "edg.interfaces.decoder:Decoder"),
    "loss_term": ("register_loss_terms", "edg.interfaces.loss:LossTerm"),
    "reranker": ("register_rerankers", "edg.interfaces.reranker:Reranker"),
    "system": ("register_systems", "edg.interfaces.system:System"),
    "schedule": ("register_schedules", "edg.interfaces.schedule:Schedule"),
}


def import_target(ref: str) -> Any:
    """Import ``"package.module:attribute"``: a reference from a plugin's registration
    code or :data:`KINDS`, never from a config value."""
    module_name, _, attr = ref.partition(":")
    if not attr:
        raise PluginError(f"invalid reference {ref!r}: expected 'module:attribute'")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise PluginError(f"{module_name} has no attribute {attr!r}") from None


@dataclass
class Registration:
    name: str
    target: Any  # a class or a "module:attr" string
    plugin: str

    @property
    def reference(self) -> str:
        if isinstance(self.target, str):
            return self.target
        return f"{self.target.__module__}:{self.target.__qualname__}"


@dataclass
class Registry:
    kind: str
    entries: dict[str, Registration] = field(default_factory=dict)
    #: other names of registered entries (a plugin's name for its only system)
    aliases: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, target: Any, plugin: str) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin '{plugin}' registered a {self.kind} with an invalid name {name!r}")
        if name in self.entries:
            other = self.entries[name].plugin
            raise PluginError(
                f"{self.kind} '{name}' is registered twice: by plugin '{other}' and by plugin '{plugin}'"
            )
        self.entries[name] = Registration(name, target, plugin)

    def alias(self, alias: str, name: str) -> None:
        """Let ``alias`` stand for the registered ``name``."""
        if alias in self.entries:
            raise PluginError(f"{self.kind} '{alias}' is already registered")
        self.aliases[alias] = name

    def canonical(self, name: str) -> str:
        """The registered name that ``name`` is (or is an alias of)."""
        return self.aliases.get(name, name)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def get(self, name: str) -> type:
        """Resolve ``name`` to its class, importing it if it was registered lazily."""
        try:
            entry = self.entries[self.canonical(name)]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
            hint = "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else ""
            raise PluginError(f"unknown {self.kind} '{name}'{hint} (registered: {known})") from None
        if isinstance(entry.target, str):
            try:
                entry.target = import_target(entry.target)
            except PluginError:
                raise
            except Exception as exc:  # a broken plugin module: report it by name
                raise PluginError(
                    f"plugin '{entry.plugin}' failed to load {self.kind} '{name}' "
                    f"({entry.target}): {type(exc).__name__}: {exc}"
                ) from exc
        base = import_target(KINDS[self.kind][1])
        if not (isinstance(entry.target, type) and issubclass(entry.target, base)):
            raise PluginError(
                f"{self.kind} '{name}' from plugin '{entry.plugin}' is not a subclass of {base.__name__}"
            )
        return entry.target

    def plugin_of(self, name: str) -> str:
        return self.entries[self.canonical(name)].plugin
