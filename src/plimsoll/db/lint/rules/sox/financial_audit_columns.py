"""sox-financial-audit-columns."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.sox._common import FinancialOptions, financial_tables
from plimsoll.db.lint.schema_facts import finding, missing_columns


class FinancialAuditColumns(SchemaRule):
    """Financial tables record who created and last changed each row, and when.

    **Problem.** A financial table (ledger, journal, invoice, payment, transaction...) lacks
    one of the audit columns (by default ``created_at``, ``created_by``, ``updated_at`` and
    ``updated_by``).

    **Why.** Sarbanes-Oxley section 404 requires management to maintain, and the auditor to
    test, internal control over financial reporting; IT general controls over the data
    include being able to show who recorded or changed a financial record and when. Section
    802 (18 U.S.C. 1519) makes altering records a crime, which only matters if an alteration
    can be seen. The columns keep the last change on the row; ``sox-financial-audit-trigger``
    and ``sox-financial-change-history`` keep every change.

    **Fix.** Add the columns, filled by defaults and triggers or by the application (the
    acting user, not the shared database role). The names are the ``audit_columns`` option.

    **Example.**

    ```sql
    ALTER TABLE invoices
        ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
        ADD COLUMN created_by text NOT NULL DEFAULT current_user,
        ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
        ADD COLUMN updated_by text NOT NULL DEFAULT current_user;
    ```
    """

    id = "sox-financial-audit-columns"
    severity = Severity.ERROR
    help = "Add the missing audit columns (who and when, for creation and last change)."
    version = "1.0.0"

    class Options(FinancialOptions):
        """Which tables are financial, and the audit columns each must have."""

        audit_columns: tuple[str, ...] = Field(
            default=("created_at", "created_by", "updated_at", "updated_by"),
            description="The columns every financial table must have.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each financial table missing an audit column."""
        for table in financial_tables(catalog, self.options):
            missing = missing_columns(table, self.options.audit_columns)
            if missing:
                yield finding(
                    table,
                    f"financial table {table.key} lacks the audit columns {', '.join(missing)}:"
                    " who recorded or changed a financial record, and when, cannot be shown",
                )
