"""pci-no-public-grants."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.pci_dss._common import CardDataOptions, cardholder_tables
from plimsoll.db.lint.schema_facts import (
    grant_finding,
    privileges_by_grantee,
    public_column_grants,
    revoke_column_help,
)


class PciNoPublicGrants(SchemaRule):
    """Grant nothing to PUBLIC on cardholder-data tables and the views reading them.

    **Problem.** ``GRANT ... TO PUBLIC`` on a table storing card numbers (encrypted or not),
    or on a view reading one, gives every database role, present and future, access to it.

    **Why.** PCI DSS v4.0 Requirement 7.2.1 and 7.2.2: access to system components and data
    is assigned by job function with least privilege, and 7.2.6 restricts queries of
    repositories of stored cardholder data to the roles that need them. PUBLIC is every
    role: the opposite of need to know. Even a protected PAN is in scope: its ciphertext or
    hash is one key or one brute force away.

    Column privileges count too: ``GRANT SELECT (id, pan) ON cards TO PUBLIC`` is reported on
    each card-number column it reaches (every column of a table that holds cardholder data
    by its name).

    **Fix.** ``REVOKE ... FROM PUBLIC`` and grant to the roles that need the data (see
    ``pci-restricted-access``). Views are checked through the tables they read.

    **Example.**

    ```sql
    REVOKE ALL ON cards FROM PUBLIC;
    GRANT SELECT, INSERT ON cards TO payment_service;
    ```
    """

    id = "pci-no-public-grants"
    severity = Severity.ERROR
    help = "REVOKE ... FROM PUBLIC and grant to the roles that need cardholder data."

    class Options(CardDataOptions):
        """Which tables hold cardholder data (shared by the pci_dss library: set them once under ``db.lint.library_options.pci_dss``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag PUBLIC grants on cardholder tables and on views reading them."""
        holding = {t.key: t for t in cardholder_tables(catalog, self.options)}
        for key, card in holding.items():
            granted = privileges_by_grantee(card.table.grants).get("PUBLIC")
            if granted:
                yield grant_finding(
                    card.table,
                    card.table.grants,
                    f"table {key} holds cardholder data and grants {', '.join(sorted(granted))}"
                    " to PUBLIC: every role can reach the card numbers (Req. 7.2.1, 7.2.2)",
                )
                continue
            pans = [column for column, _form in card.pans]
            for grant in public_column_grants(card.table, pans or None):
                yield grant.finding(
                    f"card-number column {key}.{grant.column.name} is granted to PUBLIC"
                    f" ({grant.statement}): every role can reach the card numbers"
                    " (Req. 7.2.1, 7.2.2)",
                    help=revoke_column_help(grant),
                )
        for view in catalog.views.values():
            granted = privileges_by_grantee(view.grants).get("PUBLIC")
            sources = [k for k in view.depends_on if k in holding] if granted else []
            if granted and sources:
                yield grant_finding(
                    view,
                    view.grants,
                    f"view {view.key} reads cardholder data ({', '.join(sources)}) and grants"
                    f" {', '.join(sorted(granted))} to PUBLIC: every role can reach the card"
                    " numbers (Req. 7.2.1, 7.2.2)",
                )
