"""hipaa-phi-no-public-grant."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, phi_tables
from plimsoll.db.lint.schema_facts import (
    grant_finding,
    privileges_by_grantee,
    public_column_grants,
    revoke_column_help,
)


class PhiNoPublicGrant(SchemaRule):
    """Tables holding PHI grant nothing to PUBLIC.

    **Problem.** A table holding PHI grants a privilege to ``PUBLIC``.

    **Why.** ``PUBLIC`` is every role, including those created later (a reporting login, a
    contractor's account, a compromised service). 45 CFR 164.312(a)(1) (access control)
    allows access to ePHI only to persons or software programs that have been granted access
    rights, and 164.308(a)(4) (information access management) asks that access be
    authorised role by role; a grant to ``PUBLIC`` authorises nobody in particular and
    everybody in fact. Even with row-level security on, ``PUBLIC`` write privileges let any
    role insert or change PHI the policies admit.

    Column privileges count too: ``GRANT SELECT (id, ssn) ON patients TO PUBLIC`` is
    reported on each PHI column it reaches (on every column of a table that holds PHI by its
    name or comment).

    **Fix.** ``REVOKE ... FROM PUBLIC`` and grant to the roles that need the table.

    **Example.**

    ```sql
    REVOKE ALL ON patients FROM PUBLIC;
    GRANT SELECT, INSERT, UPDATE ON patients TO clinical_app;
    ```
    """

    id = "hipaa-phi-no-public-grant"
    severity = Severity.ERROR
    help = "REVOKE the privileges FROM PUBLIC and grant them to the roles that need them."
    version = "1.0.0"

    class Options(PhiOptions):
        """Which columns and tables hold PHI (shared by the hipaa library: set them once under ``db.lint.library_options.hipaa``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each PHI table, or PHI column, with a privilege granted to PUBLIC."""
        for phi in phi_tables(catalog, self.options):
            public = privileges_by_grantee(phi.table.grants).get("PUBLIC")
            if public:
                yield grant_finding(
                    phi.table,
                    phi.table.grants,
                    f"table {phi.describe()} grants {', '.join(sorted(public))} to PUBLIC:"
                    " every role, including any created later, can reach the PHI",
                )
                continue
            for grant in public_column_grants(phi.table, phi.columns or None):
                yield grant.finding(
                    f"PHI column {phi.key}.{grant.column.name} is granted to PUBLIC"
                    f" ({grant.statement}): every role, including any created later, can"
                    " read the PHI",
                    help=revoke_column_help(grant),
                )
