"""hipaa-phi-row-level-security."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog, Policy
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.policy_facts import always_true
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, audited_phi_tables
from plimsoll.db.lint.schema_facts import rls_origin


def _lets_everyone_read(policy: Policy) -> bool:
    """Whether a permissive policy for PUBLIC reads every row (``USING (true)``, ``USING
    (1 = 1)``: any condition true for every row)."""
    if not policy.permissive or policy.command not in ("ALL", "SELECT"):
        return False
    if "public" not in {r.lower() for r in policy.roles}:
        return False
    return always_true(policy.using)


class PhiRowLevelSecurity(SchemaRule):
    """Tables holding PHI enable row-level security with a policy that restricts rows.

    **Problem.** A table holding PHI does not enable row-level security, has no policy, or
    has a permissive policy for every role with ``USING (true)`` (which lets every role with
    ``SELECT`` read every row, as if there were no policy).

    **Why.** 45 CFR 164.312(a)(1) (access control) requires that ePHI be reachable only by
    the persons or software granted access, and 164.308(a)(4)(ii)(B) and (C) that access be
    authorised and limited per user. Table privileges are all or nothing; a row-level
    security policy limits a clinician to their own patients, a tenant to its own records.
    With RLS enabled and no policy, PostgreSQL denies every row to everyone but the owner: a
    table that was probably meant to have a policy. The table owner bypasses the policies
    unless ``FORCE ROW LEVEL SECURITY`` is set (``require_force``), and superusers and roles
    with ``BYPASSRLS`` always do.

    **Fix.** ``ALTER TABLE ... ENABLE ROW LEVEL SECURITY`` and ``CREATE POLICY`` with a
    ``USING`` expression naming whose rows a role may see.

    Audit and access-log tables (the ``log_table_patterns`` option) are left out: they are
    the audit trail, and auditing them in turn would never end.

    **Example.**

    ```sql
    ALTER TABLE patients ENABLE ROW LEVEL SECURITY;
    CREATE POLICY patients_by_clinic ON patients
        USING (clinic_id = current_setting('app.clinic_id')::bigint);
    ```
    """

    id = "hipaa-phi-row-level-security"
    severity = Severity.ERROR
    help = "ENABLE ROW LEVEL SECURITY on the table and CREATE POLICY restricting its rows."
    version = "1.1.0"

    class Options(PhiOptions):
        """Which tables hold PHI, and whether the owner must be subject to the policies too."""

        require_force: bool = Field(
            default=False,
            description="Also require FORCE ROW LEVEL SECURITY (the owner obeys the policies).",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each PHI table without RLS, without a policy, or with a policy letting all in."""
        for phi in audited_phi_tables(catalog, self.options):
            table = phi.table
            if not table.rls_enabled:
                yield Violation(
                    f"table {phi.describe()} does not enable row-level security: any role"
                    " with SELECT reads every patient's rows",
                    object=phi.key,
                    origin=rls_origin(table),
                )
                continue
            if not table.policies:
                yield Violation(
                    f"table {phi.describe()} enables row-level security but has no policy:"
                    " every role but the owner is denied every row",
                    help="CREATE POLICY naming which rows each role may see.",
                    object=phi.key,
                    origin=rls_origin(table),
                )
            for policy in table.policies:
                if _lets_everyone_read(policy):
                    yield Violation(
                        f"policy {policy.name} on table {phi.key} lets every role read every"
                        " row (USING (true)): row-level security restricts nothing",
                        object=f"{phi.key}.{policy.name}",
                        origin=policy.origin or table.origin,
                        help="Give the policy a USING expression that restricts rows,"
                        " or limit it TO the roles that may read them all.",
                    )
            if self.options.require_force and not table.rls_forced:
                yield Violation(
                    f"table {phi.describe()} does not force row-level security: its owner"
                    " (often the application's role) bypasses every policy",
                    help="ALTER TABLE ... FORCE ROW LEVEL SECURITY.",
                    object=phi.key,
                    origin=rls_origin(table, forced=True),
                )
