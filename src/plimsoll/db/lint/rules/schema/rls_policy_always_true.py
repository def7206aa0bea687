"""rls-policy-always-true."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog, Policy
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.policy_facts import always_true
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation

# Commands that change rows: a policy open to everyone on these is never meant.
_WRITES = {"ALL": "read and write", "INSERT": "insert", "UPDATE": "update", "DELETE": "delete"}


def opens_writes(policy: Policy) -> bool:
    """Whether the policy lets the rows it governs be written whatever they hold."""
    command = policy.command.upper()
    if command == "INSERT":
        return always_true(policy.with_check)
    if command == "DELETE":
        return always_true(policy.using)
    # ALL and UPDATE: USING picks the rows, WITH CHECK (USING when absent) the new values.
    if policy.with_check is None:
        return always_true(policy.using)
    return always_true(policy.using) or always_true(policy.with_check)


class RlsPolicyAlwaysTrue(SchemaRule):
    """No permissive policy lets every role write every row.

    **Problem.** A permissive policy ``FOR ALL``, ``INSERT``, ``UPDATE`` or ``DELETE`` to
    ``PUBLIC`` (the default when ``TO`` is left out) with ``USING (true)`` or ``WITH CHECK
    (true)`` (or any condition that holds for every row: ``USING (1 = 1)``, ``NOT false``,
    ``... OR true``) lets every role holding the table privilege write any row.

    **Why.** Permissive policies are combined with OR: one that is always true cancels
    every other permissive policy on the table for that command, so the row-level security
    the other policies describe does not exist. ``USING (true)`` is often copied from a
    read policy (``FOR SELECT ... USING (true)`` for public reference data, which this rule
    leaves alone) into a policy for writes.

    **Fix.** Give the policy a real condition (``USING (owner_id = ...)``), restrict it to
    the roles that may write anything (``TO admin``), or make it ``AS RESTRICTIVE`` if it
    was meant to narrow other policies.

    **Example.**

    ```sql
    -- every role may change every document
    CREATE POLICY edit ON documents FOR UPDATE USING (true);
    -- owners change their own
    CREATE POLICY edit ON documents FOR UPDATE
        USING (owner_id = current_setting('app.user_id')::bigint);
    ```
    """

    id = "rls-policy-always-true"
    severity = Severity.WARNING
    help = "Give the policy a real condition, or restrict it TO the roles that may write any row."

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each permissive write policy to PUBLIC whose condition is always true."""
        for table in catalog.all_tables():
            for policy in table.policies:
                if not policy.permissive or policy.command.upper() not in _WRITES:
                    continue
                if not any(role.lower() == "public" for role in policy.roles):
                    continue
                if opens_writes(policy):
                    verb = _WRITES[policy.command.upper()]
                    yield Violation(
                        f"policy {policy.name} on {table.key} lets every role {verb} any"
                        " row: its condition is always true, and it overrides every other"
                        " permissive policy",
                        object=f"{table.key}.{policy.name}",
                        origin=policy.origin,
                    )
