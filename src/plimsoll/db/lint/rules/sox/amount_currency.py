"""sox-amount-currency."""

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
from plimsoll.db.lint.schema_facts import Patterns, matcher


class AmountCurrency(SchemaRule):
    """Financial tables with amount columns have a currency column next to them.

    **Problem.** A financial table has amount columns (numbers named amount, price, cost,
    fee, tax, balance, debit, credit, total, ``*_cents``) but no currency column (by default
    a name containing ``currency``, ``ccy`` or ``iso4217``), and the amounts' names do not
    carry a currency either (``amount_usd``).

    **Why.** ``100.00`` is not a value until it says in what: the day a second currency
    appears (an acquisition, a foreign customer), every existing row becomes ambiguous, and
    converted and unconverted amounts get summed together. The accuracy and valuation
    assertions tested under Sarbanes-Oxley section 404 need each amount's currency recorded
    with it, not assumed by the application.

    **Fix.** Add a ``currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$')`` column (an
    ISO 4217 code; ``text`` with a CHECK rather than ``char(3)``, which ``ban-char-field``
    reports), with a default only if the table truly holds one currency, or name the amounts
    after their currency.

    **Example.**

    ```sql
    ALTER TABLE payments ADD COLUMN currency text NOT NULL DEFAULT 'USD'
        CHECK (currency ~ '^[A-Z]{3}$');
    ```
    """

    id = "sox-amount-currency"
    severity = Severity.WARNING
    help = "Add a currency column (ISO 4217 code, NOT NULL) next to the amounts."
    version = "1.0.0"

    class Options(AmountOptions):
        """Which tables are financial, which columns hold amounts, and what names a currency."""

        currency_patterns: Patterns = Field(
            default=DEFAULT_CURRENCY_PATTERNS,
            description="Column names that hold a currency code.",
        )
        currency_in_name_patterns: Patterns = Field(
            default=(r"_(usd|eur|gbp|jpy|chf|cad|aud|cny|inr|sek|nok|dkk)(_cents)?$",),
            description="Amount column names that carry their currency (amount_usd).",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each financial table with amounts of no stated currency."""
        amounts = matcher(self.options.amount_patterns)
        currencies = matcher(self.options.currency_patterns)
        named = matcher(self.options.currency_in_name_patterns)
        for table in financial_tables(catalog, self.options):
            if any(currencies(c.name) for c in table.columns):
                continue
            bare = [c for c in table.columns if is_amount(c, amounts) and not named(c.name)]
            if bare:
                yield Violation(
                    f"financial table {table.key} has amounts ({', '.join(c.name for c in bare)})"
                    " but no currency column: their value depends on a currency nobody recorded",
                    object=table.key,
                    origin=bare[0].origin or table.origin,
                )
