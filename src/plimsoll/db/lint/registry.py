"""Every lint rule and library there is: the built-ins and those of installed plugins.

The ``plimsoll.lint_rules`` entry points name a module, a package (all its modules are read),
a rule class, or a :class:`~plimsoll.db.lint.library.Library`. In a module, every
:class:`~plimsoll.db.lint.rule.Rule` subclass defined there with an ``id`` is a rule, and a
module-level ``LIBRARY`` is a library. The built-ins register through the same group
(``pyproject.toml``); a plugin or module that fails to import is reported by name and skipped.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
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


@dataclass
class Registry:
    """Rules by id, libraries by name, and what failed to load."""

    rules: dict[str, type[Rule]] = field(default_factory=dict)
    libraries: dict[str, Library] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, obj: Any, origin: str) -> None:
        """Register a rule class, a library or every one of them in a module or package."""
        if isinstance(obj, ModuleType):
            self._add_module(obj, origin)
        elif isinstance(obj, Library):
            self._add_library(obj, origin)
        elif isinstance(obj, type) and issubclass(obj, Rule):
            self._add_rule(obj, origin)
        else:
            self.failures.append(f"{origin}: not a rule, library or module ({type(obj).__name__})")

    def _add_module(self, module: ModuleType, origin: str) -> None:
        self._add_members(module, origin)
        if not hasattr(module, "__path__"):
            return
        for info in pkgutil.walk_packages(module.__path__, module.__name__ + "."):
            try:
                sub = importlib.import_module(info.name)
            except Exception as exc:  # noqa: BLE001 - one broken rule module is skipped
                self.failures.append(f"{info.name}: {type(exc).__name__}: {exc}")
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
        if not RULE_ID.match(getattr(rule, "id", "")):
            self.failures.append(
                f"{origin}: rule id {getattr(rule, 'id', None)!r} is not kebab-case"
            )
            return
        known = self.rules.get(rule.id)
        if known is not None and known is not rule:
            self.failures.append(
                f"{origin}: rule {rule.id} already defined by {known.__module__}; skipped"
            )
            return
        self.rules[rule.id] = rule

    def _add_library(self, library: Library, origin: str) -> None:
        known = self.libraries.get(library.name)
        if known is not None and known is not library:
            self.failures.append(f"{origin}: library {library.name} already defined; skipped")
            return
        self.libraries[library.name] = library


_CACHE: dict[str, Registry] = {}


def load_registry() -> Registry:
    """The registry of every rule and library (loaded once per process)."""
    cached = _CACHE.get("registry")
    if cached is not None:
        return cached
    registry = Registry()
    for name in BUILTIN_MODULES:
        registry.add(importlib.import_module(name), name)
    discovered = plugins.discover(plugins.LINT_RULES)
    for name, obj in discovered.loaded.items():
        registry.add(obj, name)
    registry.failures.extend(f"{f.name} ({f.value}): {f.error}" for f in discovered.failures)
    _CACHE["registry"] = registry
    return registry
