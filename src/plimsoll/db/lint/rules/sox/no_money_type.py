"""sox-no-money-type."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.sox._common import FinancialOptions, ScopeOptions, checked_tables
from plimsoll.db.lint.schema_facts import base_type, column_finding


class NoMoneyType(SchemaRule):
    """Financial tables do not use the ``money`` type.

    **Problem.** A column of a financial table has the type ``money``.

    **Why.** The text input and output of ``money`` depend on the database's
    ``lc_monetary`` setting: the same value prints as ``$1,000.00`` or ``1.000,00 €``, and a
    dump restored into a database with another ``lc_monetary`` can misread the amounts (the
    PostgreSQL documentation warns about this). Its number of fractional digits is fixed by
    that setting for the whole database, so currencies with another precision do not fit;
    it records no currency; dividing it by an integer truncates toward zero. Financial data whose value depends on a server setting cannot support the
    accuracy that Sarbanes-Oxley section 404 controls assert, nor survive the restore of a
    retained backup (section 802) intact.

    **Fix.** Use ``numeric`` with an explicit scale, and a currency column.

    **Example.**

    ```sql
    ALTER TABLE payments ALTER COLUMN amount TYPE numeric(19,4) USING amount::numeric;
    ```
    """

    id = "sox-no-money-type"
    severity = Severity.ERROR
    help = "Use numeric(p,s) with a currency column instead of money."
    version = "1.0.0"

    class Options(ScopeOptions, FinancialOptions):
        """Which tables are financial, and where to look."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each column of type money."""
        for table in checked_tables(catalog, self.options):
            for column in table.columns:
                if base_type(column.type) == "money":
                    key = f"{table.key}.{column.name}"
                    yield column_finding(
                        table,
                        column,
                        f"column {key} is of type money: its text form depends on"
                        " lc_monetary, so a restore under another locale can misread the"
                        " amounts, and it records no currency",
                    )
