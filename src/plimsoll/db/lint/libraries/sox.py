"""The ``sox`` library: controls over financial records under Sarbanes-Oxley (opt-in)."""

from plimsoll.db.lint.library import Library

LIBRARY = Library.of(
    "sox",
    "1.0.0",
    "Sarbanes-Oxley 404/802 controls for financial tables: audit columns and triggers,"
    " change history, append-only ledgers that nothing deletes or cascades into, segregation"
    " of duties, and exact, complete amounts with their currency.",
    "sox-financial-audit-columns",
    "sox-financial-audit-trigger",
    "sox-financial-change-history",
    "sox-financial-primary-key",
    "sox-financial-timestamptz",
    "sox-ledger-no-delete-grant",
    "sox-ledger-delete-blocked",
    "sox-ledger-append-only",
    "sox-ledger-no-cascade-delete",
    "sox-segregation-of-duties",
    "sox-amount-not-float",
    "sox-no-money-type",
    "sox-amount-not-null",
    "sox-amount-currency",
    shared_options=(
        "financial_table_patterns",
        "ledger_table_patterns",
        "amount_patterns",
    ),
)
