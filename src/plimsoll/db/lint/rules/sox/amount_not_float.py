"""sox-amount-not-float."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.sox._common import AmountOptions, ScopeOptions, checked_tables
from plimsoll.db.lint.schema_facts import FLOAT_TYPES, base_type, column_finding, matcher


class AmountNotFloat(SchemaRule):
    """Amounts of money are never ``real`` or ``double precision``.

    **Problem.** A column named like an amount of money (amount, price, cost, fee, tax,
    balance, debit, credit, total) is ``real`` or ``double precision``.

    **Why.** Floating-point types are inexact: 0.1 has no binary representation, sums drift
    by fractions of a cent, and equal amounts compare unequal. Books that do not balance to
    the cent, or totals that differ between a report and the ledger, are exactly what
    Sarbanes-Oxley section 404 controls over the accuracy of financial reporting must
    prevent. ``numeric`` is exact (the PostgreSQL documentation recommends it for monetary
    amounts); integer minor units (cents) are exact too. By default only financial tables
    are checked (``only_financial_tables``).

    **Fix.** ``ALTER COLUMN ... TYPE numeric(19,4)`` (or an integer of minor units), after
    checking the existing values round as expected.

    **Example.**

    ```sql
    ALTER TABLE invoices ALTER COLUMN amount TYPE numeric(19,4) USING round(amount::numeric, 4);
    ```
    """

    id = "sox-amount-not-float"
    severity = Severity.ERROR
    help = (
        "Use numeric (or integer minor units) for amounts of money, never real or double precision."
    )
    version = "1.0.0"

    class Options(ScopeOptions, AmountOptions):
        """Which tables are financial, which columns hold amounts, and where to look."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each floating-point amount column."""
        amounts = matcher(self.options.amount_patterns)
        for table in checked_tables(catalog, self.options):
            for column in table.columns:
                if amounts(column.name) and base_type(column.type) in FLOAT_TYPES:
                    key = f"{table.key}.{column.name}"
                    yield column_finding(
                        table,
                        column,
                        f"column {key} holds an amount of money as {column.type}: floating"
                        " point is inexact, so sums drift and the books stop balancing to the"
                        " cent",
                    )
