"""sox-financial-change-history."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.sox._common import HistoryOptions, financial_tables, history_tables
from plimsoll.db.lint.schema_facts import finding


class FinancialChangeHistory(SchemaRule):
    """Every financial table has a history (audit) table keeping its past versions.

    **Problem.** A financial table has no history table: no ``<table>_history``,
    ``<table>_audit``, ``<table>_log`` or ``<table>_versions`` in its schema, no table of
    the same name in an ``audit`` or ``history`` schema, and no shared audit table (such as
    the audit trigger's ``logged_actions``).

    **Why.** Sarbanes-Oxley section 404 auditors ask to see how a balance came to be: every
    version of every financial record, not only the current one. Section 802 (18 U.S.C.
    1519, 1520) requires records to be retained and makes altering them a crime; a history
    table filled by a trigger keeps the prior version of each change, so alterations are
    visible and recoverable. Suffixes, schemas and shared table names are options.

    **Fix.** Create the history table and a trigger copying the old row into it on UPDATE
    and DELETE.

    **Example.**

    ```sql
    CREATE TABLE invoices_history (LIKE invoices, changed_at timestamptz NOT NULL DEFAULT now(),
        changed_by text NOT NULL DEFAULT current_user, operation text NOT NULL);
    ```
    """

    id = "sox-financial-change-history"
    severity = Severity.WARNING
    help = "Create <table>_history (or an audit table) filled by a trigger on UPDATE and DELETE."
    version = "1.0.0"

    class Options(HistoryOptions):
        """Which tables are financial, and where their history may be kept."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each financial table without a history table."""
        for table in financial_tables(catalog, self.options):
            if not history_tables(catalog, table, self.options):
                yield finding(
                    table,
                    f"financial table {table.key} has no history table (such as"
                    f" {table.key}_history): its past versions, and any alteration, are lost",
                )
