"""hipaa-phi-no-broad-role-grant."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, phi_tables
from plimsoll.db.lint.schema_facts import finding, holders

DEFAULT_BROAD_ROLES = (
    "analytics",
    "analyst",
    "analysts",
    "reporting",
    "readonly",
    "read_only",
    "bi",
    "etl",
    "dashboard",
)


class PhiNoBroadRoleGrant(SchemaRule):
    """Tables holding PHI are not granted to broad roles (analytics, reporting, read-only).

    **Problem.** A table holding PHI grants a privilege to a role listed in ``broad_roles``:
    roles shared by many people or tools, such as ``analytics``, ``reporting`` or
    ``readonly``.

    **Why.** The Privacy Rule's minimum-necessary standard (45 CFR 164.502(b), 164.514(d))
    limits each use of PHI to what the purpose needs, and the Security Rule's access
    authorisation (164.308(a)(4)(ii)(B)) grants access per role and purpose. A reporting or
    read-only role serves every dashboard and analyst: granting it a PHI table hands the
    whole table to all of them, where a de-identified view or a narrower role would do.

    **Fix.** Revoke the grant; give the broad role a view without the PHI columns (or
    de-identified), or grant the table to a dedicated role with a documented purpose.

    **Example.**

    ```sql
    REVOKE SELECT ON patients FROM reporting;
    CREATE VIEW patients_deidentified AS SELECT id, clinic_id, extract(year FROM date_of_birth) AS birth_year FROM patients;
    GRANT SELECT ON patients_deidentified TO reporting;
    ```
    """

    id = "hipaa-phi-no-broad-role-grant"
    severity = Severity.WARNING
    help = "Revoke it; grant the broad role a de-identified view, or use a dedicated role."
    version = "1.0.0"

    class Options(PhiOptions):
        """Which tables hold PHI, which roles are broad, and which privileges count."""

        broad_roles: tuple[str, ...] = Field(
            default=DEFAULT_BROAD_ROLES,
            description="Role names (case-insensitive) shared by many users or tools.",
        )
        privileges: tuple[str, ...] = Field(
            default=("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"),
            description="The privileges a broad role must not hold on a PHI table.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each grant of a PHI table to a broad role."""
        broad = {r.lower() for r in self.options.broad_roles}
        for phi in phi_tables(catalog, self.options):
            for grantee, held in holders(phi.table.grants, self.options.privileges).items():
                if grantee.lower() in broad:
                    yield finding(
                        phi.table,
                        f"table {phi.describe()} grants {', '.join(held)} to the broad role"
                        f" {grantee}: everyone using that role reaches all of its PHI, more"
                        " than the minimum necessary",
                    )
