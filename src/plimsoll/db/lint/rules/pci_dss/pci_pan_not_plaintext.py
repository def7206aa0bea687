"""pci-pan-not-plaintext."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.pci_dss._common import PLAINTEXT, CardDataOptions, card_tables
from plimsoll.db.lint.schema_facts import column_finding, column_key


class PciPanNotPlaintext(SchemaRule):
    """Never store a card number (PAN) readable: encrypt, hash, truncate or tokenise it.

    **Problem.** A column holding a primary account number (``card_number``, ``pan``,
    ``cc_number``, ``credit_card``...) has a readable type (``text``, ``varchar``,
    ``bigint``, ``numeric``...): every role with SELECT, every dump and every replica holds
    the card numbers in clear.

    **Why.** PCI DSS v4.0 Requirement 3.5.1: the PAN is rendered unreadable anywhere it is
    stored, by one of a keyed cryptographic hash of the entire PAN (3.5.1.1), truncation,
    index tokens, or strong cryptography with key management (3.6, 3.7). Disk or
    tablespace encryption does not count for a database (3.5.1.2): it is transparent to
    every query.

    **Fix.** Store a ciphertext or a keyed hash in a ``bytea`` column (``protected_types``),
    or name the column for the protected value it holds (``pan_hash``,
    ``card_number_encrypted``: ``protected_names``), keep only the last four digits
    (``card_last4``: ``truncated_patterns``), or store the token of a tokenisation service
    (``card_vault_id``, ``card_token``: ``token_patterns``) and no PAN at all. A column named
    ``*_token`` also meets ``security-plaintext-secret``, which takes tokens for credentials:
    a name such as ``card_vault_id`` says it is a reference. Best: let the payment processor
    keep the PAN and keep your database out of the cardholder data environment.

    **Example.**

    ```sql
    CREATE TABLE cards (
        id bigint PRIMARY KEY,
        card_vault_id text NOT NULL,   -- the processor's token (a reference, no PAN)
        card_last4 text NOT NULL CHECK (card_last4 ~ '^[0-9]{4}$')
    );
    ```
    """

    id = "pci-pan-not-plaintext"
    severity = Severity.ERROR
    help = "Store a token, the last four digits, or a ciphertext/keyed hash in a bytea column."

    class Options(CardDataOptions):
        """Which columns hold a PAN and what counts as protected (shared by the pci_dss library: set them once under ``db.lint.library_options.pci_dss``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag PAN columns of a readable type."""
        for card in card_tables(catalog, self.options).values():
            for column in card.columns(PLAINTEXT):
                key = column_key(card.table, column)
                yield column_finding(
                    card.table,
                    column,
                    f"column {key} stores card numbers (PAN) readable as {column.type}: every"
                    " role with SELECT, every dump and replica holds them in clear (Req. 3.5.1)",
                )
