"""pci-restricted-access."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.pci_dss._common import CardDataOptions, cardholder_tables
from plimsoll.db.lint.schema_facts import finding, holders


class PciRestrictedAccess(SchemaRule):
    """Let only the listed roles read cardholder data, unless row-level security filters it.

    **Problem.** A role that is not in ``allowed_roles`` holds ``SELECT`` (or another of
    ``privileges``) on a table storing card numbers, and the table has no row-level security
    to narrow what it sees.

    **Why.** PCI DSS v4.0 Requirement 7.2.1 asks for an access control model that grants
    access by need to know, 7.2.2 for least privilege by job function, and 7.2.6 that all
    user access to query repositories of stored cardholder data is restricted to the
    application and the few roles with a documented need. A reporting or analyst role with
    SELECT on the card table is a copy of the PANs waiting to be exported.

    **Fix.** List in ``allowed_roles`` the roles with an approved need (the payment service,
    the key-rotation job), ``REVOKE`` the others' privileges, or enable row-level security
    with policies that give each role only its rows. Grants to PUBLIC are reported by
    ``pci-no-public-grants``. ``privileges`` (default ``SELECT``) sets which privileges are
    restricted.

    **Example.**

    ```sql
    REVOKE SELECT ON cards FROM reporting;
    GRANT SELECT, INSERT ON cards TO payment_service;  -- allowed_roles = ["payment_service"]
    ```
    """

    id = "pci-restricted-access"
    severity = Severity.ERROR
    help = "Revoke the privilege, add the role to allowed_roles, or enable row-level security."

    class Options(CardDataOptions):
        """Which tables hold cardholder data, and who may read them."""

        allowed_roles: tuple[str, ...] = Field(
            default=(),
            description="Roles with an approved need to access cardholder data.",
        )
        privileges: tuple[str, ...] = Field(
            default=("SELECT",),
            description="The privileges restricted to allowed_roles.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag grants on cardholder tables to roles outside ``allowed_roles``, without RLS."""
        allowed = {r.lower() for r in self.options.allowed_roles} | {"public"}
        for card in cardholder_tables(catalog, self.options):
            table = card.table
            if table.rls_enabled:
                continue
            for grantee, held in holders(table.grants, self.options.privileges).items():
                if grantee.lower() in allowed:
                    continue
                yield finding(
                    table,
                    f"role {grantee} holds {', '.join(held)} on cardholder table {table.key},"
                    " is not an allowed role, and no row-level security narrows its access"
                    " (Req. 7.2.2, 7.2.6)",
                    # At the GRANT that gave it, when the files made it.
                    origin=min(
                        (g.origin for g in table.grants if g.grantee == grantee and g.origin),
                        default=None,
                    ),
                )
