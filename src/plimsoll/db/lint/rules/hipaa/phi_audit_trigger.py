"""hipaa-phi-audit-trigger."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import ConfigDict, Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import (
    DML_EVENTS,
    Patterns,
    PhiOptions,
    audited_events,
    matcher,
    phi_tables,
)

DEFAULT_AUDIT_TRIGGER_PATTERNS = (r"audit", r"hist", r"log", r"track", r"journal", r"change")


class PhiAuditTrigger(SchemaRule):
    """Tables holding PHI have audit triggers recording every INSERT, UPDATE and DELETE.

    **Problem.** A table holding PHI has no audit trigger for some of the row events: a
    change of that kind leaves no trace in the database.

    **Why.** 45 CFR 164.312(b) (audit controls) requires hardware, software or procedural
    mechanisms that record and examine activity in systems containing ePHI. Audit columns
    keep only the last change; a row-level trigger writing the old and new row to an audit
    table keeps every change, including deletions, whatever client made it (the application,
    a script, an administrator in ``psql``). A row-level trigger fires for each row; a
    statement-level trigger counts only when it declares transition tables (``REFERENCING
    NEW TABLE AS ...``, PostgreSQL 10 and later), which hold every row the statement
    changed. ``TRUNCATE`` fires no row trigger: add ``TRUNCATE`` to ``events`` to require a
    statement-level trigger for it too. Reads fire no trigger at all: see
    ``hipaa-access-log-table``.

    **Fix.** Create an ``AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW`` trigger calling
    an audit function. Only triggers whose name or function name matches
    ``trigger_name_patterns`` count (a trigger that sets ``updated_at`` audits nothing); an
    empty list accepts any trigger.

    **Example.**

    ```sql
    CREATE TRIGGER patients_audit AFTER INSERT OR UPDATE OR DELETE ON patients
        FOR EACH ROW EXECUTE FUNCTION audit.log_change();
    ```
    """

    id = "hipaa-phi-audit-trigger"
    severity = Severity.ERROR
    help = (
        "Add an AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW trigger writing an audit trail."
    )
    version = "1.0.0"

    class Options(PhiOptions):
        """Which tables hold PHI, the events to audit, and what an audit trigger is called."""

        model_config = ConfigDict(extra="forbid", frozen=True)

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

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each PHI table whose audit triggers miss one of the required events."""
        names = matcher(self.options.trigger_name_patterns)
        wanted = [e.upper() for e in self.options.events]
        for phi in phi_tables(catalog, self.options):
            covered = audited_events(phi.table, names, context.pg_version)
            missing = [e for e in wanted if e not in covered]
            if missing:
                yield Violation(
                    f"table {phi.describe()} has no audit trigger recording"
                    f" {', '.join(missing)}: those changes to PHI leave no audit trail",
                    object=phi.key,
                    origin=phi.table.origin,
                )
