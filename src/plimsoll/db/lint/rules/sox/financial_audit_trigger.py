"""sox-financial-audit-trigger."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog, Table
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules._audit_trigger import AuditTriggerOptions, AuditTriggerRule
from plimsoll.db.lint.rules.sox._common import FinancialOptions, financial_tables


class FinancialAuditTrigger(AuditTriggerRule):
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

    class Options(AuditTriggerOptions, FinancialOptions):
        """Which tables are financial, the events to audit, and what audit triggers are called."""

    def audited(self, catalog: Catalog) -> Iterator[tuple[Table, str]]:
        """The financial tables."""
        for table in financial_tables(catalog, self.options):
            yield table, table.key

    def message(self, table: str, missing: str) -> str:
        """What a financial table missing audited events is told."""
        return (
            f"financial table {table} has no audit trigger recording {missing}: those changes"
            " to financial records leave no trail"
        )
