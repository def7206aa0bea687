"""policy-without-rls."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.schema_facts import finding, rls_origin


class PolicyWithoutRls(SchemaRule):
    """A table with row-level security policies has row-level security enabled.

    **Problem.** ``CREATE POLICY`` on a table does nothing until ``ALTER TABLE ... ENABLE
    ROW LEVEL SECURITY``: PostgreSQL accepts the policy and ignores it.

    **Why.** The schema reads as protected while every role with ``SELECT`` on the table
    reads every row: the policies were written to restrict access, and nothing restricts
    it. Nothing fails, so nobody notices.

    **Fix.** ``ALTER TABLE <table> ENABLE ROW LEVEL SECURITY`` (and ``FORCE ROW LEVEL
    SECURITY`` when the application connects as the table's owner), or drop the policies
    if they are not meant to apply. One finding per table, at its definition, naming the
    ignored policies.

    **Example.**

    ```sql
    CREATE POLICY own_rows ON documents USING (owner_id = current_setting('app.user_id')::bigint);
    ALTER TABLE documents ENABLE ROW LEVEL SECURITY;   -- without this the policy is ignored
    ```
    """

    id = "policy-without-rls"
    severity = Severity.ERROR
    help = "ALTER TABLE ... ENABLE ROW LEVEL SECURITY, or drop the policies."

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each table that has policies but row-level security disabled."""
        for table in catalog.all_tables():
            if table.policies and not table.rls_enabled:
                names = ", ".join(p.name for p in table.policies)
                yield finding(
                    table,
                    f"{table.key} has policies ({names}) but row-level security is not enabled:"
                    " they are ignored and every role with privileges reads every row",
                    help=f"ALTER TABLE {table.sql_name} ENABLE ROW LEVEL SECURITY.",
                    origin=rls_origin(table),
                )
