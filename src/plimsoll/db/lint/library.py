"""Rule libraries: named, versioned groups of rules with their own severities and options.

A library is a :class:`Library` object named ``LIBRARY`` in a module that the registry loads
(the built-ins live in ``plimsoll/db/lint/libraries/``; a third party's come through the
``plimsoll.lint_rules`` entry points). Each entry names a rule and may set the severity and
options the library wants for it.

A library may declare **shared options**: option names that several of its rules take (the
patterns that decide which columns hold PHI, say). The configuration sets them once for the
whole library (``[db.lint.library_options.hipaa]``); each rule of the library that has the
option takes the value, and a rule's own ``options`` still override it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plimsoll.db.lint.rule import Severity


@dataclass(frozen=True)
class LibraryRule:
    """A rule as a library enables it: its id, and the severity and options it asks for."""

    id: str
    severity: Severity | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Library:
    """A named, versioned (semver) group of rules."""

    name: str
    version: str
    description: str
    rules: tuple[LibraryRule, ...]
    shared_options: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        name: str,
        version: str,
        description: str,
        *rules: str | LibraryRule,
        shared_options: tuple[str, ...] = (),
    ) -> Library:
        """A library from rule ids (defaults) and :class:`LibraryRule` entries."""
        entries = tuple(r if isinstance(r, LibraryRule) else LibraryRule(r) for r in rules)
        return cls(name, version, description, entries, shared_options)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The ids of its rules, in order."""
        return tuple(r.id for r in self.rules)
