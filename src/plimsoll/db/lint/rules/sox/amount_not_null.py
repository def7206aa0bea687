"""sox-amount-not-null."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.sox._common import (
    DEFAULT_CURRENCY_PATTERNS,
    AmountOptions,
    financial_tables,
    is_amount,
)
from plimsoll.db.lint.schema_facts import Patterns, column_finding, matcher


class AmountNotNull(SchemaRule):
    """Amount and currency columns of financial tables are NOT NULL.

    **Problem.** A column holding an amount of money (a number named amount, price, cost,
    fee, tax, balance, debit, credit, total, ``*_cents``) or a currency, in a financial
    table, accepts NULL.

    **Why.** SQL aggregates skip NULLs: ``sum(amount)`` over an invoice's lines silently
    leaves out a line whose amount is NULL, and ``amount = 0`` is neither true nor false for
    it. A total that excludes records without saying so undermines the completeness and
    accuracy assertions that Sarbanes-Oxley section 404 controls over financial reporting
    test. An amount without a currency cannot be valued at all. A value not yet known
    belongs in a status, not in a NULL amount.

    **Fix.** Fill the missing values, then ``ALTER COLUMN ... SET NOT NULL`` (on a large
    table, first add a ``CHECK (col IS NOT NULL) NOT VALID`` and validate it, so that on
    PostgreSQL 12 and later SET NOT NULL skips its scan).

    **Example.**

    ```sql
    ALTER TABLE invoice_lines ALTER COLUMN amount SET NOT NULL, ALTER COLUMN currency SET NOT NULL;
    ```
    """

    id = "sox-amount-not-null"
    severity = Severity.ERROR
    help = "SET NOT NULL on amount and currency columns (fill the missing values first)."
    version = "1.0.0"

    class Options(AmountOptions):
        """Which tables are financial, and which columns hold amounts and currencies."""

        currency_patterns: Patterns = Field(
            default=DEFAULT_CURRENCY_PATTERNS,
            description="Column names that hold a currency code.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each nullable amount or currency column of a financial table."""
        amounts = matcher(self.options.amount_patterns)
        currencies = matcher(self.options.currency_patterns)
        for table in financial_tables(catalog, self.options):
            for column in table.columns:
                if not column.nullable:
                    continue
                if is_amount(column, amounts):
                    what = "an amount"
                    effect = "sum() silently leaves the row out of totals"
                elif currencies(column.name):
                    what = "a currency"
                    effect = "an amount without its currency cannot be valued"
                else:
                    continue
                key = f"{table.key}.{column.name}"
                yield column_finding(
                    table, column, f"column {key} holds {what} and accepts NULL: {effect}"
                )
