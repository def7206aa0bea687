"""What the audit-trigger rules of the compliance libraries share: one check, per-rule scope.

Not a rule module (it defines no rule). ``hipaa-phi-audit-trigger``,
``sox-financial-audit-trigger``, ``gdpr-special-category-audit`` and ``pci-audit-trigger``
ask the same question of different tables: do the table's audit triggers record every change
(see :func:`plimsoll.db.lint.schema_facts.audited_events`)? Each rule says which tables must be
audited and how a gap is reported; its options (one of the two option sets below, whose
names the rules already publish) say which events count, which triggers count (by name), and
which extensions stand for an audit trail of every table.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.catalog import Catalog, Table
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Violation
from plimsoll.db.lint.schema_facts import (
    DML_EVENTS,
    Patterns,
    finding,
    matcher,
    missing_audit_events,
)

DEFAULT_AUDIT_TRIGGER_PATTERNS = (r"audit", r"hist", r"log", r"track", r"journal", r"change")


@dataclass(frozen=True)
class AuditRequirement:
    """What a table's audit trail must cover.

    ``events`` (upper case) must each be recorded by a trigger whose name or function name
    matches ``trigger_patterns`` (any trigger when empty), unless one of ``extensions`` is
    installed.
    """

    events: tuple[str, ...]
    trigger_patterns: tuple[str, ...]
    extensions: tuple[str, ...] = ()


class AuditTriggerOptions(BaseModel):
    """The events an audit trigger must record, and what audit triggers are called."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    events: tuple[str, ...] = Field(
        default=DML_EVENTS,
        description="The events an audit trigger must record (add TRUNCATE to require a"
        " statement-level trigger for it).",
    )
    trigger_name_patterns: Patterns = Field(
        default=DEFAULT_AUDIT_TRIGGER_PATTERNS,
        description="A trigger counts when its name or its function's name matches one of"
        " these; empty: any trigger counts.",
    )

    def audit_requirement(self) -> AuditRequirement:
        """The requirement these options set."""
        return AuditRequirement(
            tuple(e.upper() for e in self.events), tuple(self.trigger_name_patterns)
        )


class AuditTrailOptions(BaseModel):
    """What counts as an audit trail: an auditing extension, or triggers on INSERT, UPDATE, DELETE."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    audit_extensions: tuple[str, ...] = Field(
        default=("pgaudit",),
        description="Extensions whose presence counts as an audit trail of every table.",
    )
    audit_trigger_patterns: Patterns = Field(
        default=(),
        description="Trigger or trigger-function names that count as audit triggers"
        " (empty: any trigger).",
    )

    def audit_requirement(self) -> AuditRequirement:
        """The requirement these options set."""
        return AuditRequirement(
            DML_EVENTS, tuple(self.audit_trigger_patterns), tuple(self.audit_extensions)
        )


class AuditTriggerRule(SchemaRule):
    """A rule requiring audit triggers on some tables (its ``Options`` set the requirement).

    Subclasses say which tables must be audited (:meth:`audited`, each with how the message
    names it) and what a table missing some events is told (:meth:`message`); the finding
    points at the table.
    """

    @abstractmethod
    def audited(self, catalog: Catalog) -> Iterable[tuple[Table, str]]:
        """The tables that must be audited, each with how the message names it."""

    @abstractmethod
    def message(self, table: str, missing: str) -> str:
        """The finding for ``table`` (as :meth:`audited` names it), missing ``missing`` events."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each audited table whose audit triggers miss one of the required events."""
        required: AuditRequirement = self.options.audit_requirement()
        if set(required.extensions) & set(catalog.extensions):
            return
        names = matcher(required.trigger_patterns)
        for table, named in self.audited(catalog):
            missing = missing_audit_events(table, required.events, names, context.pg_version)
            if missing:
                yield finding(table, self.message(named, ", ".join(missing)))
