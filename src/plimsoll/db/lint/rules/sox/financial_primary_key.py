"""sox-financial-primary-key."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.sox._common import FinancialOptions, financial_tables
from plimsoll.db.lint.schema_facts import finding, primary_key


class FinancialPrimaryKey(SchemaRule):
    """Financial tables have a primary key.

    **Problem.** A financial table has no primary key.

    **Why.** An auditor tracing a figure in a report back to its source records
    (Sarbanes-Oxley section 404 testing) needs each record to have a stable identity; audit
    and history rows must say which record they are about; and without a key, a row
    inserted twice (a payment recorded twice) cannot be told from two real ones. Logical
    replication, often how retained copies are fed (section 802), cannot replicate UPDATE
    and DELETE on a table without a replica identity.

    **Fix.** Add a primary key (an identity column, or the natural key such as the invoice
    number).

    **Example.**

    ```sql
    ALTER TABLE payments ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
    ```
    """

    id = "sox-financial-primary-key"
    severity = Severity.ERROR
    help = "Add a PRIMARY KEY (for example a bigint identity column, or the document number)."
    version = "1.0.0"

    class Options(FinancialOptions):
        """Which tables are financial (shared by the sox library: set them once under ``db.lint.library_options.sox``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each financial table without a primary key."""
        for table in financial_tables(catalog, self.options):
            if primary_key(table) is None:
                yield finding(
                    table,
                    f"financial table {table.key} has no primary key: a record cannot be"
                    " traced from a report or an audit row, and duplicates go unnoticed",
                )
