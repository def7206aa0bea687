"""ban-money-type."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation


def is_money(type_text: str) -> bool:
    """Whether a column type is ``money`` (or an array of it)."""
    base = type_text.strip().lower().removeprefix("pg_catalog.")
    return base == "money" or base.startswith("money[")


class BanMoneyType(SchemaRule):
    """Do not use the money type; use numeric with a currency column.

    **Problem.** ``money`` stores an amount with a fixed number of fraction digits taken
    from the server's ``lc_monetary`` setting, and prints and parses it in that locale's
    format (``$1,000.00``). It knows no currency.

    **Why.** The same value reads differently, or fails to load, on a server with another
    ``lc_monetary`` (a dump restored elsewhere); amounts in currencies with other than two
    fraction digits (JPY, BHD), exchange rates and unit prices with more precision cannot
    be held; division and conversion to ``numeric`` go through the locale. The PostgreSQL
    wiki ("Don't Do This") advises against it.

    **Fix.** Use ``numeric(p, s)`` (or an integer count of minor units such as cents) and
    keep the currency in a column of its own. Changing the type of an existing column
    rewrites the table: plan it as a migration.

    **Example.**

    ```sql
    CREATE TABLE payments (id bigint PRIMARY KEY, amount money);                  -- flagged
    CREATE TABLE payments (id bigint PRIMARY KEY, amount numeric(14, 4) NOT NULL,
                           currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'));
    ```
    """

    id = "ban-money-type"
    severity = Severity.WARNING
    help = "Use numeric(p, s) (or integer minor units) and a currency column instead of money."

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each column of type money."""
        for table in catalog.all_tables():
            for column in table.columns:
                if column.type[:1] in ("m", "M", "p") and is_money(column.type):
                    key = f"{table.key}.{column.name}"
                    yield Violation(
                        f"{key} is money: its precision and format follow the server's"
                        " lc_monetary locale, and it holds no currency",
                        object=key,
                        origin=column.origin,
                    )
