"""pci-cardholder-primary-key."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.pci_dss._common import CardDataOptions, cardholder_tables
from plimsoll.db.lint.schema_facts import origin_of, primary_key


class PciCardholderPrimaryKey(SchemaRule):
    """Give every cardholder-data table a primary key that is not the card number.

    **Problem.** A table storing card numbers has no primary key, or its primary key is the
    card number itself (in whatever form).

    **Why.** Stored account data must be kept to a minimum and securely deleted once past
    its retention period (PCI DSS v4.0 Requirement 3.2.1), and each audit event names the
    affected data (10.2.2): both need a stable identifier for one card record. A PAN used as
    the key is copied into every referencing table and log line, spreading account data
    across the environment (3.2.1, 3.5.1).

    **Fix.** Add a surrogate primary key (``bigint GENERATED ALWAYS AS IDENTITY`` or a UUID)
    and reference it.

    **Example.**

    ```sql
    CREATE TABLE cards (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, pan_enc bytea);
    ```
    """

    id = "pci-cardholder-primary-key"
    severity = Severity.WARNING
    help = "Add a surrogate PRIMARY KEY (an identity column or a UUID), not the card number."

    class Options(CardDataOptions):
        """Which tables hold cardholder data (shared by the pci_dss library: set them once under ``db.lint.library_options.pci_dss``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag cardholder tables without a primary key, or keyed on the PAN."""
        for card in cardholder_tables(catalog, self.options):
            table = card.table
            key = primary_key(table)
            pans = {c.name for c, _ in card.pans}
            if key is None:
                problem = "has no primary key: one card record cannot be named, purged or audited"
            elif pans & set(key.columns):
                problem = (
                    f"is keyed on the card number ({', '.join(sorted(pans & set(key.columns)))}):"
                    " every reference copies account data"
                )
            else:
                continue
            yield Violation(
                f"cardholder table {table.key} {problem} (Req. 3.2.1, 10.2.2)",
                object=table.key,
                origin=origin_of(table, key),
            )
