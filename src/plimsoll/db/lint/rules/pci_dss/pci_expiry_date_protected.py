"""pci-expiry-date-protected."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.pci_dss._common import (
    PLAINTEXT,
    PROTECTED,
    CardDataOptions,
    cardholder_tables,
)
from plimsoll.db.lint.schema_facts import (
    Patterns,
    column_finding,
    column_key,
    matcher,
    unqualified,
)


class PciExpiryDateProtected(SchemaRule):
    """Store a card's expiry date next to its PAN only encrypted, like the PAN.

    **Problem.** A table storing the full card number (hashed, encrypted or, worse, in
    clear) also stores the card's expiry date (``exp_month``, ``exp_year``,
    ``expiry_date``...) in a readable type.

    **Why.** Stored with the PAN, the expiration date is cardholder data (PCI DSS v4.0,
    "account data"), covered by Requirement 3 and kept only when needed (3.2.1). In clear
    beside a hashed PAN, it narrows the search space of a brute force on the hash (3.5.1.1
    asks for keyed hashes for that reason); beside an encrypted PAN, it is half of what
    card-not-present fraud needs once the key leaks. This rule takes the strict reading:
    encrypt it with the PAN. A table keeping only a token or the last four digits may keep
    the expiry in clear (it is then not stored with the PAN).

    **Fix.** Encrypt the expiry date together with the PAN (one ``bytea`` ciphertext of
    both), or keep the PAN out of the table (token plus last four digits).
    ``expiry_patterns`` sets the names.

    **Example.**

    ```sql
    CREATE TABLE cards (
        id bigint PRIMARY KEY,
        card_data_enc bytea NOT NULL,   -- PAN and expiry, encrypted together
        card_last4 text NOT NULL CHECK (card_last4 ~ '^[0-9]{4}$')
    );
    ```
    """

    id = "pci-expiry-date-protected"
    severity = Severity.WARNING
    help = "Encrypt the expiry date with the PAN (bytea), or keep only a token and last4."

    class Options(CardDataOptions):
        """Which tables hold cardholder data, and which column names are expiry dates."""

        expiry_patterns: Patterns = Field(
            default=(
                r"expir(y|ation)(_?(date|month|year|mm|yy|yyyy))?$",
                r"(^|_)exp_?(date|month|year|mm|yy|yyyy|mmyy)$|(^|_)exp$",
                r"valid_(thru|through|until)$",
            ),
            description="Column names of card expiry dates.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag readable expiry columns in tables holding a full PAN."""
        is_expiry = matcher(tuple(self.options.expiry_patterns))
        opaque = {unqualified(t) for t in self.options.protected_types}
        protected_name = matcher(tuple(self.options.protected_names))
        for card in cardholder_tables(catalog, self.options):
            pans = card.columns(PLAINTEXT, PROTECTED)
            if not pans:
                continue
            for column in card.table.columns:
                if not is_expiry(column.name):
                    continue
                if unqualified(column.type) in opaque or protected_name(column.name):
                    continue
                key = column_key(card.table, column)
                yield column_finding(
                    card.table,
                    column,
                    f"column {key} stores the card expiry date readable as {column.type} next"
                    f" to the PAN ({pans[0].name}): cardholder data stored with the PAN is"
                    " protected with it (Req. 3.2.1, 3.5.1)",
                )
