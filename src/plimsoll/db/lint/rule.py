"""The lint rule contract: what every rule declares, and what it reports.

A rule is one class in one file under ``plimsoll/db/lint/rules/``. It declares a kebab-case
``id``, a default ``severity``, the PostgreSQL versions it applies to, its own semantic
``version`` (with ``deprecated_in``/``removed_in`` and a ``replacement`` when it is retired),
``help`` (the remedy, one sentence), and options as a pydantic model; its docstring is its user
documentation, in four parts: the problem, why it matters, the fix, and an example.

Two kinds:

* :class:`StatementRule` looks at one statement of a migration at a time (what the change does
  to a live table), with a :class:`~plimsoll.db.lint.context.StatementContext` saying what came
  before it in the same file (tables created there, timeouts set, an open transaction);
* :class:`SchemaRule` looks at the whole :class:`~plimsoll.db.catalog.Catalog` (the state after
  the files are applied, or a live database).

``check`` yields :class:`Violation` objects; the engine adds the file, line, severity and rule.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from plimsoll.db.catalog import Catalog, Origin
    from plimsoll.db.lint.context import SchemaContext, StatementContext
    from plimsoll.db.sqljson import JsonStatement


class Severity(StrEnum):
    """How serious a finding is; ``--fail-on`` picks the lowest one that fails the run."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """2 for error, 1 for warning, 0 for info."""
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True)
class PgVersions:
    """The PostgreSQL major versions a rule applies to: ``minimum`` to ``maximum``, inclusive."""

    minimum: int | None = None
    maximum: int | None = None

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, int):
            return False
        if self.minimum is not None and version < self.minimum:
            return False
        return self.maximum is None or version <= self.maximum

    def __str__(self) -> str:
        if self.minimum is None and self.maximum is None:
            return "all"
        if self.maximum is None:
            return f"{self.minimum} and later"
        if self.minimum is None:
            return f"up to {self.maximum}"
        return f"{self.minimum} to {self.maximum}"


class NoOptions(BaseModel):
    """A rule without options (unknown option keys are refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


@dataclass(frozen=True)
class Violation:
    """One thing a rule found.

    Statement rules give ``location``: a byte offset into the file (a node's ``location``
    field), or None for the start of the statement. Schema rules give ``object`` (the key of
    what is wrong: ``schema.table``, ``schema.table.column``, ``schema.function(args)``) and
    ``origin`` (where it was defined, when built from files: the object's ``origin``).
    ``help`` replaces the rule's own help when the remedy depends on the case.
    """

    message: str
    location: int | None = None
    object: str | None = None
    origin: Origin | None = None
    help: str | None = None


class Rule(ABC):
    """What every rule declares (see the module docstring)."""

    id: ClassVar[str]
    severity: ClassVar[Severity]
    help: ClassVar[str]
    kind: ClassVar[str]
    pg_versions: ClassVar[PgVersions] = PgVersions()
    version: ClassVar[str] = "1.0.0"
    deprecated_in: ClassVar[str | None] = None
    removed_in: ClassVar[str | None] = None
    replacement: ClassVar[str | None] = None
    # Rule ids this one contradicts: both enabled is a conflict the composer resolves.
    conflicts_with: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, options: BaseModel | None = None) -> None:
        self.options: Any = options if options is not None else self.Options()

    @classmethod
    def documentation(cls) -> str:
        """The rule's docstring, dedented: its user documentation."""
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        """The first line of the documentation."""
        doc = cls.documentation()
        return doc.splitlines()[0] if doc else cls.id


class StatementRule(Rule):
    """A rule over the statements of a migration, one at a time."""

    kind: ClassVar[str] = "statement"
    # The statement node types it looks at ("IndexStmt", "AlterTableStmt"); empty: every one.
    node_types: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def check(self, statement: JsonStatement, context: StatementContext) -> Iterable[Violation]:
        """The violations in ``statement``; the context describes what came before it."""


class SchemaRule(Rule):
    """A rule over the whole schema model."""

    kind: ClassVar[str] = "schema"

    @abstractmethod
    def check(self, catalog: Catalog, context: SchemaContext) -> Iterable[Violation]:
        """The violations in ``catalog``."""
