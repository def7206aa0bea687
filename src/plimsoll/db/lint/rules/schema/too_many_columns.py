"""too-many-columns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.catalog import Table
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules.schema._objects import TableLimitRule


class TooManyColumns(TableLimitRule):
    """Tables stay narrow (100 columns at most by default).

    **Problem.** A table with a hundred columns usually holds several things at once: a
    core record, optional feature settings, denormalised copies of other tables, columns
    ``field_1`` to ``field_40``.

    **Why.** PostgreSQL's MVCC writes a whole new row version on every UPDATE, however
    few columns change: wide rows multiply write I/O, WAL volume and bloat. Rows over about
    2 kB are compressed or moved out of line (TOAST), reading a column late in a wide row
    means walking every column before it, and the hard limit of 1600 columns (dropped
    columns included) is closer than it looks on a table that keeps growing.

    **Fix.** Split the table by what changes together and what is read together: a 1:1
    table for optional or rarely read groups of columns, a child table for repeated
    fields, ``jsonb`` for sparse attributes. ``max_columns`` (default 100) sets the limit.

    **Example.**

    ```sql
    -- instead of 120 columns on customers:
    CREATE TABLE customer_billing_settings (
        customer_id bigint PRIMARY KEY REFERENCES customers (id),
        invoice_email text, vat_number text, payment_terms_days integer
    );
    ```
    """

    id = "too-many-columns"
    severity = Severity.WARNING
    help = "Split the table: move groups of columns that change or are read together out."
    counted = "columns"
    cost = "every UPDATE writes a whole new version of its wide rows"

    class Options(BaseModel):
        """``max_columns``: the most columns a table may have."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        max_columns: int = Field(default=100, ge=1)

    def limit(self) -> int:
        """``max_columns``."""
        limit: int = self.options.max_columns
        return limit

    def count(self, table: Table, limit: int) -> int:
        """The table's columns."""
        return len(table.columns)
