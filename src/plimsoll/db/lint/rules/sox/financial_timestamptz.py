"""sox-financial-timestamptz."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.sox._common import FinancialOptions, financial_tables
from plimsoll.db.lint.schema_facts import base_type, column_finding


class FinancialTimestamptz(SchemaRule):
    """Timestamps of financial tables are ``timestamp with time zone``.

    **Problem.** A column of a financial table is ``timestamp`` (without time zone).

    **Why.** A ``timestamp without time zone`` stores wall-clock digits with no zone: the
    same instant is written differently by servers or clients in different zones, and an
    hour repeats at each daylight-saving change. Which period a transaction is posted to
    (period-end cut-off), and the order of events in an audit trail, then depend on where
    it was written: a control tested under Sarbanes-Oxley section 404 cannot rely on it.
    ``timestamptz`` stores an absolute instant (UTC) and takes the same 8 bytes.

    **Fix.** Convert the column to ``timestamptz``. When the stored values are UTC, run the
    ``ALTER COLUMN ... TYPE timestamptz`` with the session ``TimeZone`` set to UTC: the
    values are read as UTC, and on PostgreSQL 12 and later the table is not rewritten.
    Otherwise add ``USING <col> AT TIME ZONE '<the zone they were written in>'`` (a
    rewrite under an ACCESS EXCLUSIVE lock).

    **Example.**

    ```sql
    SET TimeZone = 'UTC';
    ALTER TABLE payments ALTER COLUMN paid_at TYPE timestamptz;
    ```
    """

    id = "sox-financial-timestamptz"
    severity = Severity.WARNING
    help = "Use timestamptz (timestamp with time zone) for instants on financial tables."
    version = "1.0.0"

    class Options(FinancialOptions):
        """Which tables are financial (shared by the sox library: set them once under ``db.lint.library_options.sox``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each timestamp-without-time-zone column of a financial table."""
        for table in financial_tables(catalog, self.options):
            for column in table.columns:
                if base_type(column.type) == "timestamp without time zone":
                    key = f"{table.key}.{column.name}"
                    yield column_finding(
                        table,
                        column,
                        f"column {key} of financial table {table.key} is timestamp without"
                        " time zone: the instant (and the period it is posted to) depends on"
                        " the writer's time zone",
                    )
