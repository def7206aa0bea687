"""sox-financial-audit-trigger."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import ConfigDict, Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import DML_EVENTS, Patterns, audited_events, matcher
from plimsoll.db.lint.rules.sox._common import FinancialOptions, financial_tables

DEFAULT_AUDIT_TRIGGER_PATTERNS = (r"audit", r"hist", r"log", r"track", r"journal", r"change")


class FinancialAuditTrigger(SchemaRule):
    """Financial tables have audit triggers recording every INSERT, UPDATE and DELETE.

    **Problem.** A financial table has no audit trigger for some of the row events: changes
    of that kind to financial records leave no trail in the database.

    **Why.** Sarbanes-Oxley section 404 auditors test that changes to financial data are
    logged and reviewable whoever made them; section 802 (18 U.S.C. 1519) punishes altering
    or destroying records, and an audit trail is what makes an alteration visible. A trigger
    records changes made by any client: the application, a script, an administrator in
    ``psql``. A row-level trigger counts; so does a statement-level one with transition
    tables (``REFERENCING NEW TABLE``, PostgreSQL 10 and later). ``TRUNCATE`` fires no row
    trigger: add it to ``events`` to require a statement-level trigger for it.

    **Fix.** Create an ``AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW`` trigger writing
    the old and new rows to a history table. Only triggers whose name or function name
    matches ``trigger_name_patterns`` count; an empty list accepts any trigger.

    **Example.**

    ```sql
    CREATE TRIGGER invoices_audit AFTER INSERT OR UPDATE OR DELETE ON invoices
        FOR EACH ROW EXECUTE FUNCTION audit.log_change();
    ```
    """

    id = "sox-financial-audit-trigger"
    severity = Severity.ERROR
    help = (
        "Add an AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW trigger writing an audit trail."
    )
    version = "1.0.0"

    class Options(FinancialOptions):
        """Which tables are financial, the events to audit, and what audit triggers are called."""

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
        """Flag each financial table whose audit triggers miss one of the required events."""
        names = matcher(self.options.trigger_name_patterns)
        wanted = [e.upper() for e in self.options.events]
        for table in financial_tables(catalog, self.options):
            covered = audited_events(table, names, context.pg_version)
            missing = [e for e in wanted if e not in covered]
            if missing:
                yield Violation(
                    f"financial table {table.key} has no audit trigger recording"
                    f" {', '.join(missing)}: those changes to financial records leave no trail",
                    object=table.key,
                    origin=table.origin,
                )
