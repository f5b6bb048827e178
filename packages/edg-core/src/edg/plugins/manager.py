"""Plugin discovery and loading.

Plugins are modules exposed through the ``edg`` entry-point group (the core itself is
the plugin ``core``). Nothing is imported until :meth:`PluginManager.load` is called, and
then only the plugins asked for, plus the plugins of the distributions that their own
distribution requires (its package dependencies, read from the installed metadata):
``edg-nec`` depends on ``edg-comet``, so loading ``nec`` loads ``comet``. Every missing
requirement of everything asked for is reported at once, naming the packages to install.

``EDG_PLUGINS=comet,nec`` restricts which installed plugins may be asked for (``core``
always loads, and so do the plugins that an allowed plugin's package depends on); a plugin
outside that list is treated as not installed. A plugin that fails to import is recorded
in :attr:`PluginManager.failures` and the others keep working, unless it was asked for by
name, in which case loading raises :class:`~edg.errors.PluginError`.

Two distributions that register the same plugin name are never resolved silently: the
name ``core`` always means the ``edg-core`` distribution's entry point (the other one is
ignored with a warning naming both), and any other duplicated name cannot be loaded by
name (an error naming both distributions); a plugin that depends on one of them by
package still gets the one from its declared distribution.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import shlex
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any, Callable, Iterable, Optional

import pluggy

from edg.plugins import hookspecs
from edg.errors import PluginError
from edg.plugins.registry import KINDS, Registry

log = logging.getLogger("edg")

ENTRY_POINT_GROUP = "edg"
ALLOW_ENV = "EDG_PLUGINS"
CORE = "core"
CORE_DISTRIBUTION = "edg-core"
#: the hook for papers' result tables (the other hooks are per component kind, in KINDS)
PUBLISHED_HOOK = "register_published_results"

_WARNED: set[str] = set()


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str
    #: the distribution's one-line summary (``description`` in its pyproject)
    summary: str = ""


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Edg_Nec`` -> ``edg-nec``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _allowed() -> set[str] | None:
    raw = os.environ.get(ALLOW_ENV)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()} | {CORE}


def _info(ep: metadata.EntryPoint) -> PluginInfo:
    dist = ep.dist
    return PluginInfo(
        name=ep.name,
        module=ep.value,
        distribution=dist.name if dist else "?",
        version=dist.version if dist else "?",
        summary=(dist.metadata.get("Summary") or "") if dist else "",
    )


Found = dict[str, tuple[metadata.EntryPoint, PluginInfo]]


def scan() -> tuple[Found, dict[str, list[PluginInfo]], dict[str, list[tuple[metadata.EntryPoint, PluginInfo]]]]:
    """Every installed plugin, without importing any of them.

    Returns ``(unique, duplicates, by_distribution)``: the plugins whose name one
    distribution registers (``core`` resolved to ``edg-core``), the names that several
    distributions register (name -> their infos), and every entry point per normalised
    distribution name (used to load a plugin's package dependencies).
    """
    by_name: dict[str, list[tuple[metadata.EntryPoint, PluginInfo]]] = {}
    by_distribution: dict[str, list[tuple[metadata.EntryPoint, PluginInfo]]] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        pair = (ep, _info(ep))
        if any(other.value == ep.value and other.dist and ep.dist
               and normalize(other.dist.name) == normalize(ep.dist.name) for other, _ in by_name.get(ep.name, [])):
            continue  # the same distribution seen twice on sys.path
        by_name.setdefault(ep.name, []).append(pair)
        by_distribution.setdefault(normalize(pair[1].distribution), []).append(pair)
    unique: Found = {}
    duplicates: dict[str, list[PluginInfo]] = {}
    for name, pairs in by_name.items():
        if len(pairs) == 1:
            unique[name] = pairs[0]
            continue
        duplicates[name] = sorted((info for _, info in pairs), key=lambda i: normalize(i.distribution))
        if name == CORE:
            real = [p for p in pairs if normalize(p[1].distribution) == CORE_DISTRIBUTION]
            if real:
                unique[name] = real[0]
    return unique, duplicates, by_distribution


def _describe(infos: list[PluginInfo]) -> str:
    return " and ".join(f"{i.distribution} {i.version} ({i.module})" for i in infos)


def _requirements(distribution: str) -> list[Any]:
    """The distribution's unconditional requirements (extras left out), as
    ``packaging.requirements.Requirement`` objects."""
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for raw in metadata.requires(distribution) or []:
        try:
            req = Requirement(raw)
        except InvalidRequirement:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        out.append(req)
    return out


def _installed_version(distribution: str) -> Optional[str]:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@dataclass
class PluginManager:
    """Loads plugins and collects their registrations into one registry per kind."""

    available: Found = field(default_factory=dict)
    loaded: dict[str, PluginInfo] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    registries: dict[str, Registry] = field(default_factory=lambda: {k: Registry(k) for k in KINDS})
    #: published result tables as (plugin, paper, entries or "module:attr"), in load order
    published: list[tuple[str, str, Any]] = field(default_factory=list)
    #: plugin names that several distributions register -> their infos
    duplicates: dict[str, list[PluginInfo]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._pm = pluggy.PluginManager("edg")
        self._pm.add_hookspecs(hookspecs)
        unique, self.duplicates, self._by_distribution = scan()
        allowed = _allowed()
        self.available.update({n: p for n, p in unique.items() if allowed is None or n in allowed})
        for name, infos in sorted(self.duplicates.items()):
            if name == CORE and CORE in self.available:
                ignored = [i for i in infos if normalize(i.distribution) != CORE_DISTRIBUTION]
                msg = (f"plugin name 'core' is also registered by {_describe(ignored)}; ignored: "
                       f"the core is {CORE_DISTRIBUTION}'s")
            else:
                msg = (f"plugin name '{name}' is registered by two distributions, {_describe(infos)}; "
                       f"it cannot be loaded by name until one of them is uninstalled")
            if msg not in _WARNED:  # once per process, however many managers are made
                _WARNED.add(msg)
                log.warning("%s", msg)

    # -- loading -----------------------------------------------------------------------
    def load(self, names: Iterable[str] | None = None) -> "PluginManager":
        """Load ``names`` (and the plugins their packages depend on); ``None`` loads every
        allowed plugin.

        Explicitly named plugins must load; others that fail are recorded in ``failures``.
        """
        if names is None:
            for name in sorted(self.available):
                self._load_one(name, explicit=False)
            for name in sorted(self.duplicates):
                if name not in self.available and name not in self.loaded:
                    self.failures[name] = self._duplicate_message(name)
            return self
        names = [CORE, *names]
        self._check_requirements(names)
        for name in names:
            self._load_one(name, explicit=True)
        return self

    def add_module(self, name: str, module: ModuleType, version: str = "local") -> None:
        """Register an already imported plugin module (used by tests and notebooks)."""
        self.available[name] = (None, PluginInfo(name, module.__name__, name, version))  # type: ignore[assignment]
        self._register(name, module)

    def _duplicate_message(self, name: str) -> str:
        return (f"plugin '{name}' is registered by two distributions, {_describe(self.duplicates[name])}; "
                f"uninstall one of them")

    def _entry(self, name: str, explicit: bool) -> Optional[tuple[metadata.EntryPoint, PluginInfo]]:
        if name in self.available:
            return self.available[name]
        if not explicit:
            return None
        if name in self.duplicates:
            raise PluginError(self._duplicate_message(name))
        installed = ", ".join(sorted(self.available)) or "none"
        close = difflib.get_close_matches(name, list(self.available), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        if _allowed() is not None:
            hint += f" ({ALLOW_ENV} restricts loading)"
        raise PluginError(f"unknown plugin '{name}' (installed: {installed}){hint}")

    def _dependencies(self, info: PluginInfo) -> tuple[list[tuple[metadata.EntryPoint, PluginInfo]], list[str]]:
        """The plugins that ``info``'s distribution depends on (transitively, through
        plugin distributions) and the requirements that are not satisfied."""
        plugins: list[tuple[metadata.EntryPoint, PluginInfo]] = []
        missing: list[str] = []
        seen: set[str] = set()

        def visit(distribution: str) -> None:
            key = normalize(distribution)
            if key in seen or _installed_version(distribution) is None:
                return
            seen.add(key)
            for req in _requirements(distribution):
                version = _installed_version(req.name)
                if version is None:
                    missing.append(f"{req} (required by {distribution})")
                    continue
                if req.specifier and not req.specifier.contains(version, prereleases=True):
                    missing.append(f"{req} (required by {distribution}; {version} is installed)")
                    continue
                provided = self._by_distribution.get(normalize(req.name), [])
                for pair in provided:
                    if pair not in plugins:
                        plugins.append(pair)
                if provided:  # a plugin package: its own requirements are checked too
                    visit(req.name)

        if info.distribution != "?":
            visit(info.distribution)
        return plugins, missing

    def _check_requirements(self, names: list[str]) -> None:
        """Raise one error listing every unmet requirement of the plugins ``names``."""
        missing: list[str] = []
        for name in names:
            pair = self._entry(name, explicit=True)
            if pair is None or pair[0] is None or name in self.loaded:
                continue
            for item in self._dependencies(pair[1])[1]:
                if item not in missing:
                    missing.append(item)
        if missing:
            install = " ".join(shlex.quote(package) for package in dict.fromkeys(m.split(" (")[0] for m in missing))
            raise PluginError(f"missing packages: {'; '.join(missing)}; install them: pip install {install}")

    def _load_one(self, name: str, explicit: bool) -> None:
        if name in self.loaded or name in self.failures:
            if explicit and name in self.failures:
                raise PluginError(self.failures[name])
            return
        pair = self._entry(name, explicit)
        if pair is None:
            return
        ep, info = pair
        if ep is None:  # added with add_module
            return
        dependencies, missing = self._dependencies(info)
        if missing:
            self.failures[name] = f"plugin '{name}' cannot load: missing {'; '.join(missing)}"
            if explicit:
                raise PluginError(self.failures[name])
            return
        for dep_ep, dep_info in dependencies:
            self._load_dependency(dep_ep, dep_info, needed_by=name, explicit=explicit)
            if dep_info.name in self.failures and dep_info.name not in self.loaded:
                self.failures[name] = (f"plugin '{name}' needs plugin '{dep_info.name}' "
                                       f"({dep_info.distribution}): {self.failures[dep_info.name]}")
                if explicit:
                    raise PluginError(self.failures[name])
                return
        self._import_and_register(name, ep, explicit)

    def _load_dependency(self, ep: metadata.EntryPoint, info: PluginInfo, needed_by: str, explicit: bool) -> None:
        name = info.name
        if name in self.loaded:
            if normalize(self.loaded[name].distribution) != normalize(info.distribution):
                raise PluginError(f"plugin '{needed_by}' needs plugin '{name}' from {info.distribution}, but "
                                  f"'{name}' is already loaded from {self.loaded[name].distribution}")
            return
        if name in self.failures:
            return
        self.available.setdefault(name, (ep, info))  # declared, so allowed even outside EDG_PLUGINS
        self._import_and_register(name, ep, explicit, info=info)

    def _import_and_register(self, name: str, ep: metadata.EntryPoint, explicit: bool,
                             info: Optional[PluginInfo] = None) -> None:
        try:
            module = ep.load()
        except Exception as exc:
            self.failures[name] = f"plugin '{name}' failed to import: {type(exc).__name__}: {exc}"
            if explicit:
                raise PluginError(self.failures[name]) from exc
            return
        self._register(name, module, info=info)

    def _register(self, name: str, module: ModuleType, info: Optional[PluginInfo] = None) -> None:
        self._pm.register(module, name=name)
        self.loaded[name] = info or self.available[name][1]
        self._collect(name)

    def _collect(self, plugin: str) -> None:
        """Call the plugin's collector hooks, attributing each registration to it."""

        def add_published(paper: str, entries: Any) -> None:
            self.published.append((plugin, paper, entries))

        registers: dict[str, Callable[[str, Any], None]] = {PUBLISHED_HOOK: add_published}
        for kind, (hook_name, _base) in KINDS.items():
            registers[hook_name] = lambda name, target, _registry=self.registries[kind]: _registry.add(
                name, target, plugin)
        for hook_name, register in registers.items():
            for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
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
        registry = self.registries[kind]
        if name not in registry.entries and name not in registry.aliases:
            raise PluginError(self._unknown(kind, name))
        return registry.get(name)

    def _unknown(self, kind: str, name: str) -> str:
        """``unknown KIND 'NAME'`` with a "did you mean" or "load it with --with" hint."""
        known = self.registries[kind].names()
        message = f"unknown {kind} '{name}'"
        elsewhere = self._not_loaded_names(kind)
        if name in elsewhere:
            plugin = elsewhere[name]
            return f"{message}: plugin '{plugin}' registers it but is not loaded; load it with --with {plugin}"
        close = difflib.get_close_matches(name, [*known, *elsewhere], n=3, cutoff=0.6)
        if close:
            message += "; did you mean " + " or ".join(
                f"'{c}'" + (f" (plugin '{elsewhere[c]}', load it with --with {elsewhere[c]})" if c in elsewhere else "")
                for c in close) + "?"
        return f"{message} (registered: {', '.join(known) or 'none'})"

    def _not_loaded_names(self, kind: str) -> dict[str, str]:
        """Names of ``kind`` that installed, allowed plugins which are not loaded register
        (name -> plugin). Loading them to find out imports only their registration modules."""
        if all(n in self.loaded or n in self.failures for n in self.available):
            return {}
        probe = PluginManager()
        probe.load(None)
        registry = probe.registries[kind]
        return {n: e.plugin for n, e in registry.entries.items() if e.plugin not in self.loaded}

    def check_options(self, kind: str, name: str, options: Optional[dict[str, Any]], *, key: str,
                      partial: bool = False) -> None:
        """Check that ``name`` is registered and that ``options`` fit its ``Options`` class,
        before any data work (errors name the config key). ``partial``: the options are
        completed by the system before the component is built, so only unknown keys and
        wrong values are errors, not missing ones."""
        from pydantic import ValidationError

        from edg.errors import ConfigError

        cls = self.get(kind, name)
        options_cls = getattr(cls, "Options", None)
        if options_cls is None:
            return
        try:
            options_cls.model_validate(dict(options or {}))
        except ValidationError as exc:
            errors = [e for e in exc.errors() if not (partial and e["type"] == "missing")]
            if errors:
                err = errors[0]
                where = ".".join([key, *(str(p) for p in err["loc"])])
                if err["type"] == "extra_forbidden":
                    known = ", ".join(options_cls.model_fields) or "none"
                    raise ConfigError(f"unknown config key '{where}' ({kind} '{name}' takes: {known})") from None
                raise ConfigError(f"config key '{where}': {err['msg']} (got {err.get('input')!r})") from None

    def plugin_dependencies(self, name: str) -> list[str]:
        """The plugins that plugin ``name``'s package depends on (loaded with it)."""
        pair = self.available.get(name)
        if pair is None or pair[0] is None:
            return []
        return sorted({info.name for _ep, info in self._dependencies(pair[1])[0]} - {CORE})

    def registered_by(self, plugin: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for kind, registry in self.registries.items():
            names = [n for n, e in registry.entries.items() if e.plugin == plugin]
            if names:
                out[kind] = sorted(names)
        return out

    def system_plugin(self, system_name: str) -> str:
        return self.registries["system"].plugin_of(system_name)

    def published_entries(self) -> list[Any]:
        """Every published result row the loaded plugins registered (lazy references
        resolved), in load order."""
        from edg.plugins.registry import import_target

        out: list[Any] = []
        for plugin, paper, entries in self.published:
            if isinstance(entries, str):
                try:
                    entries = import_target(entries)
                except PluginError:
                    raise
                except Exception as exc:
                    raise PluginError(f"plugin '{plugin}' failed to load its published results for "
                                      f"'{paper}' ({entries}): {type(exc).__name__}: {exc}") from exc
            out.extend(entries)
        return out


def load_for_system(name: str, extra: Iterable[str] = ()) -> PluginManager:
    """Plugins for ``edg run --plugin NAME``.

    ``NAME`` is a system (e.g. the core's ``transformer``, or ``lenrank.trs``) or a plugin:
    a plugin that registers a system of its own name runs it; one that registers exactly
    one system runs that one (``NAME`` becomes an alias of it).
    """
    manager = PluginManager()
    systems = manager.registries["system"]
    if name in manager.available:
        manager.load([name, *extra])
        if name not in systems.entries:
            own = [n for n, e in systems.entries.items() if e.plugin == name]
            if len(own) == 1:
                systems.alias(name, own[0])
            elif own:
                raise PluginError(f"plugin '{name}' registers several systems ({', '.join(sorted(own))}); "
                                  f"choose one, e.g. --plugin {sorted(own)[0]}")
            else:
                raise PluginError(f"plugin '{name}' registers no system; run a system with --plugin SYSTEM "
                                  f"and load '{name}' with --with {name}")
        return manager
    manager.load(list(extra))
    if name not in systems.entries:
        manager.load(None)  # the system may live in any allowed plugin
    if name not in systems.entries:
        known = systems.names()
        installed = ", ".join(sorted(manager.available))
        close = difflib.get_close_matches(name, [*known, *manager.available], n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise PluginError(
            f"unknown plugin or system '{name}'{hint} (plugins: {installed}; systems: {', '.join(known) or 'none'})"
        )
    return manager


#: the config fields of a system's ``model:`` section that name a component, by suffix
#: (``decoder``, ``trait_module``...), and the kind of component they name
MODEL_COMPONENT_FIELDS = (("decoder", "decoder"), ("_module", "emotion_module"), ("reranker", "reranker"))


def model_components(options: Any) -> list[tuple[str, str, dict[str, Any], str]]:
    """The components a system's validated ``model:`` options name, as ``(kind, name,
    options, config key)``.

    The convention (docs/plugin-guide.md): a field ``X`` (``decoder``, ``*_module``) holds the
    registered name and ``X_options`` (or, for ``Y_module``, ``Y_options``) its options.
    """
    out = []
    values = options.model_dump()
    for field_name, value in values.items():
        if not isinstance(value, str):
            continue
        for suffix, kind in MODEL_COMPONENT_FIELDS:
            if field_name == suffix.lstrip("_") or field_name.endswith(suffix):
                break
        else:
            continue
        stem = field_name[: -len("_module")] if field_name.endswith("_module") else field_name
        for options_field in (f"{field_name}_options", f"{stem}_options"):
            if isinstance(values.get(options_field), dict):
                out.append((kind, value, values[options_field], f"model.{options_field}"))
                break
        else:
            out.append((kind, value, {}, f"model.{field_name}"))
    return out


def system_summary(manager: PluginManager, name: str) -> dict[str, Any]:
    """What ``edg plugins`` shows of a system: description, presets and the components its
    default config uses (kind -> names). Imports the system's class."""
    try:
        cls = manager.get("system", name)
        from edg.config import RunConfig, deep_merge

        defaults = cls.default_config()
        config = RunConfig.model_validate(deep_merge({"system": name}, defaults))
        options = cls.Options.model_validate(config.model)
    except Exception as exc:  # one broken system must not hide the others
        return {"name": name, "error": f"{type(exc).__name__}: {exc}"}
    components: dict[str, list[str]] = {}

    def add(kind: str, component: str) -> None:
        components.setdefault(kind, [])
        if component not in components[kind]:
            components[kind].append(component)

    for kind, component, _options, _key in model_components(options):
        add(kind, component)
    for component in config.knowledge:
        add("knowledge_source", component)
    for spec in config.losses:
        add("loss_term", spec.name)
    if config.generation.reranker:
        add("reranker", config.generation.reranker)
    return {"name": name, "description": cls.description, "presets": sorted(cls.presets),
            "components": components}


def system_layers(cls: Any, system: str, presets: Iterable[str]) -> list[dict[str, Any]]:
    """The config layers every run of system ``system`` starts from, lowest first: its name,
    the system's defaults (``cls.default_config()``) and its ``presets`` in order (edg's own
    defaults are the config model's)."""
    return [{"system": system}, cls.default_config(), *preset_layers(cls, system, presets)]


def preset_layers(cls: Any, system: str, presets: Iterable[str]) -> list[dict[str, Any]]:
    """The config layers of ``presets`` of system class ``cls``, in order; an unknown name is a
    one-line :class:`~edg.errors.ConfigError` listing the system's presets."""
    from edg.errors import ConfigError

    layers = []
    for preset in presets:
        if preset not in cls.presets:
            known = ", ".join(sorted(cls.presets)) or "none"
            raise ConfigError(f"system '{system}' has no preset '{preset}' (presets: {known})")
        layers.append(cls.presets[preset])
    return layers


def default_config(name: str, presets: Iterable[str] = (), extra: Iterable[str] = ()) -> dict[str, Any]:
    """The full config of system ``name`` before any file or override: edg's defaults <
    the system's defaults < ``presets`` in order, with every ``model:`` option written out.
    ``edg run --config`` accepts it back."""
    from edg.config import resolve, validate

    manager = load_for_system(name, extra)
    system = manager.registries["system"].canonical(name)
    cls = manager.get("system", system)
    presets = list(presets)
    layers = system_layers(cls, system, presets)
    layers.append({"plugins": sorted(set(extra)), "preset": ",".join(presets) or None})
    config = resolve(layers).model_dump(mode="json")
    config["model"] = validate(cls.Options, config["model"], prefix="model.").model_dump(mode="json")
    return config
