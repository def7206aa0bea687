"""Every lint rule and library there is: the built-ins and those of installed plugins.

The ``plimsoll.lint_rules`` entry points name a module, a package (all its modules are read),
a rule class, or a :class:`~plimsoll.db.lint.library.Library`. In a module, every
:class:`~plimsoll.db.lint.rule.Rule` subclass defined there with an ``id`` is a rule, and a
module-level ``LIBRARY`` is a library. The built-ins register through the same group
(``pyproject.toml``); a plugin or module that fails to import is reported by name and skipped.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from plimsoll.core import plugins
from plimsoll.db.lint.library import Library
from plimsoll.db.lint.rule import Rule, SchemaRule, StatementRule

# Where the built-ins live, read even when the installed metadata is stale (an editable
# install made before a new built-in module was added still finds it).
BUILTIN_MODULES = ("plimsoll.db.lint.rules", "plimsoll.db.lint.libraries")
RULE_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class PluginSource:
    """Where a plugin's rules come from: its entry point and the distribution holding it."""

    entry_point: str
    value: str
    distribution: str | None

    def as_dict(self) -> dict[str, str | None]:
        """Plain data (``--list-rules --format json``, ``--explain --format json``)."""
        return {
            "entry_point": self.entry_point,
            "value": self.value,
            "distribution": self.distribution,
        }

    def __str__(self) -> str:
        package = f"package {self.distribution}, " if self.distribution else ""
        return f"{package}entry point {self.entry_point} = {self.value}"


@dataclass
class Registry:
    """Rules by id, libraries by name, where each came from, and what failed to load.

    ``origins`` and ``library_origins`` name what registered each rule and library (an entry
    point name for a plugin, listed in ``plugins``); ``failures`` are one line each, naming
    what was skipped and why.
    """

    rules: dict[str, type[Rule]] = field(default_factory=dict)
    libraries: dict[str, Library] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)
    library_origins: dict[str, str] = field(default_factory=dict)
    plugins: set[str] = field(default_factory=set)

    def add(self, obj: Any, origin: str) -> None:
        """Register a rule class, a library or every one of them in a module or package."""
        if isinstance(obj, ModuleType):
            self._add_module(obj, origin)
        elif isinstance(obj, Library):
            self._add_library(obj, origin)
        elif isinstance(obj, type) and issubclass(obj, Rule):
            self._add_rule(obj, origin)
        else:
            self.failures.append(
                f"{self._of(origin)} skipped: not a rule, library or module ({type(obj).__name__})"
            )

    def _of(self, origin: str) -> str:
        """``plugin NAME`` for a plugin's entry point, else the origin as given."""
        return f"plugin {origin}" if origin in self.plugins else origin

    def from_plugin(self, rule_id: str) -> str | None:
        """The entry point name of the plugin that provides ``rule_id``; None for a built-in."""
        origin = self.origins.get(rule_id)
        return origin if origin in self.plugins else None

    def library_from_plugin(self, name: str) -> str | None:
        """The entry point name of the plugin that provides library ``name``, else None."""
        origin = self.library_origins.get(name)
        return origin if origin in self.plugins else None

    def _add_module(self, module: ModuleType, origin: str) -> None:
        self._add_members(module, origin)
        if not hasattr(module, "__path__"):
            return
        for info in pkgutil.walk_packages(module.__path__, module.__name__ + "."):
            try:
                sub = importlib.import_module(info.name)
            except Exception as exc:  # noqa: BLE001 - one broken rule module is skipped
                self.failures.append(
                    f"module {info.name} of {self._of(origin)} skipped: failed to import:"
                    f" {type(exc).__name__}: {exc}"
                )
                continue
            self._add_members(sub, origin)

    def _add_members(self, module: ModuleType, origin: str) -> None:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, (StatementRule, SchemaRule))
                and value.__module__ == module.__name__
                and "id" in vars(value)
            ):
                self._add_rule(value, origin)
        library = getattr(module, "LIBRARY", None)
        if isinstance(library, Library):
            self._add_library(library, origin)

    def _add_rule(self, rule: type[Rule], origin: str) -> None:
        rule_id = getattr(rule, "id", "")
        if not RULE_ID.match(rule_id):
            self.failures.append(
                f"rule {rule_id!r} of {self._of(origin)} skipped: its id is not kebab-case"
            )
            return
        known = self.rules.get(rule.id)
        if known is not None and known is not rule:
            self.failures.append(
                f"rule {rule.id} of {self._of(origin)} skipped: already defined by"
                f" {known.__module__}"
            )
            return
        self.rules[rule.id] = rule
        self.origins.setdefault(rule.id, origin)

    def _add_library(self, library: Library, origin: str) -> None:
        known = self.libraries.get(library.name)
        if known is not None and known is not library:
            self.failures.append(
                f"library {library.name} of {self._of(origin)} skipped: already defined"
            )
            return
        self.libraries[library.name] = library
        self.library_origins.setdefault(library.name, origin)


@functools.cache
def plugin_source(name: str) -> PluginSource | None:
    """The entry point ``name`` of the lint rules group, with its distribution (read from the
    installed metadata only when asked: ``--explain``, ``--list-rules``)."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=plugins.LINT_RULES):
        if ep.name == name:
            dist = getattr(ep, "dist", None)
            return PluginSource(ep.name, ep.value, dist.name if dist is not None else None)
    return None


_CACHE: dict[object, Registry] = {}
_RULES = "plimsoll.db.lint.rules"
# The built-in libraries' rule folders: a lint run with these libraries imports only those
# folders (the compliance libraries' rules are half the modules and most runs do not use them).
LIBRARY_FOLDERS = {
    "safety": "safety",
    "general": "schema",
    "hipaa": "hipaa",
    "sox": "sox",
    "gdpr": "gdpr",
    "pci_dss": "pci_dss",
}


def _plugins(registry: Registry) -> None:
    # The lint run says a failed plugin once, in its report's warnings and the SARIF log.
    discovered = plugins.discover(plugins.LINT_RULES, quiet=True)
    for name, obj in discovered.loaded.items():
        if getattr(obj, "__name__", None) in BUILTIN_MODULES:
            continue  # the built-ins' own entry points: loaded (or chosen) above
        registry.plugins.add(name)
        registry.add(obj, name)
    registry.failures.extend(
        f"plugin {f.name} ({f.value}) skipped: failed to load: {f.error}"
        for f in discovered.failures
    )


def load_registry(libraries: Sequence[str] | None = None, rule_ids: Iterable[str] = ()) -> Registry:
    """The registry of rules and libraries (loaded once per process).

    Without ``libraries``, every rule there is. With them, the libraries are all known but
    only the built-in rule folders those libraries use are imported, plus the plugins; when a
    library or a rule id in ``rule_ids`` is still missing after that, everything is loaded (so
    an unknown name is reported against the whole registry).
    """
    full = _CACHE.get("full")
    if full is not None:
        return full
    if libraries is None:
        return _load_full()
    folders = tuple(sorted({LIBRARY_FOLDERS.get(name, "") for name in libraries}))
    key = ("partial", folders)
    registry = _CACHE.get(key)
    if registry is None:
        if "" in folders:  # a library that is not a built-in one: its rules may be anywhere
            return _load_full()
        registry = Registry()
        registry.add(importlib.import_module("plimsoll.db.lint.libraries"), "builtin")
        for folder in folders:
            registry.add(importlib.import_module(f"{_RULES}.{folder}"), "builtin")
        _plugins(registry)
        _CACHE[key] = registry
    wanted = set(rule_ids)
    for name in libraries:
        library = registry.libraries.get(name)
        if library is None:
            return _load_full()
        wanted.update(library.rule_ids)
    if not wanted <= set(registry.rules):
        return _load_full()
    return registry


def _load_full() -> Registry:
    registry = Registry()
    for name in BUILTIN_MODULES:
        registry.add(importlib.import_module(name), name)
    _plugins(registry)
    _CACHE["full"] = registry
    return registry
