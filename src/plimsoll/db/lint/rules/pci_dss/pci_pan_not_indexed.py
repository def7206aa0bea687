"""pci-pan-not-indexed."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.pci_dss._common import PLAINTEXT, CardDataOptions, card_tables
from plimsoll.db.lint.schema_facts import identifiers, origin_of


class PciPanNotIndexed(SchemaRule):
    """Do not index a readable card number: the index is one more clear-text copy.

    **Problem.** An index or a unique or exclusion constraint covers a column holding
    readable card numbers (or an expression over it, such as ``lower(card_number)``). A
    primary key on the card number is ``pci-cardholder-primary-key``'s finding.

    **Why.** An index stores every key value again, sorted, in its own files: one more
    place holding the PAN readable, copied by every backup and replica, and where a lookup
    by number invites scanning for PANs. PCI DSS v4.0 Requirement 3.5.1 asks for the PAN to
    be unreadable *anywhere* it is stored, and 3.2.1 for stored account data kept to a
    minimum. (``pci-pan-not-plaintext`` reports the column itself.)

    **Fix.** Look cards up by a keyed hash of the PAN (an HMAC in a ``bytea`` column, which
    may be indexed) or by token, and drop the index on the clear PAN.

    **Example.**

    ```sql
    DROP INDEX cards_card_number_idx;
    CREATE INDEX cards_pan_hmac_idx ON cards (pan_hmac);  -- pan_hmac bytea
    ```
    """

    id = "pci-pan-not-indexed"
    severity = Severity.ERROR
    help = "Drop the index; look cards up by a keyed hash (bytea) or a token instead."

    class Options(CardDataOptions):
        """Which columns hold a PAN and what counts as protected (shared by the pci_dss library: set them once under ``db.lint.library_options.pci_dss``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag indexes and key constraints over readable PAN columns."""
        for card in card_tables(catalog, self.options).values():
            plain = {c.name.lower() for c in card.columns(PLAINTEXT)}
            if not plain:
                continue
            table = card.table
            for constraint in table.constraints:
                if constraint.kind not in (
                    "u",
                    "x",
                ):  # a PAN primary key: pci-cardholder-primary-key
                    continue
                hit = sorted(plain.intersection(c.lower() for c in constraint.columns))
                if hit:
                    yield Violation(
                        f"constraint {constraint.name} on {table.key} indexes the readable card"
                        f" number column {', '.join(hit)}: its index is another clear-text copy"
                        " of the PANs (Req. 3.5.1)",
                        object=f"{table.key}.{constraint.name}",
                        origin=origin_of(table, constraint),
                    )
            for index in table.indexes:
                words: set[str] = set()
                for column in index.columns:
                    words |= identifiers(column)
                hit = sorted(plain & words)
                if hit:
                    yield Violation(
                        f"index {index.name} on {table.key} covers the readable card number"
                        f" column {', '.join(hit)}: another clear-text copy of the PANs"
                        " (Req. 3.5.1)",
                        object=f"{table.schema}.{index.name}",
                        origin=origin_of(table, index),
                    )
