"""rls-enabled-without-policy."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.schema_facts import finding, rls_origin


class RlsEnabledWithoutPolicy(SchemaRule):
    """A table with row-level security enabled has at least one policy.

    **Problem.** With ``ENABLE ROW LEVEL SECURITY`` and no policy, PostgreSQL applies a
    default-deny policy: every role other than the table's owner, superusers and roles with
    ``BYPASSRLS`` sees no rows, and every INSERT, UPDATE and DELETE of theirs fails or
    touches nothing (with ``FORCE ROW LEVEL SECURITY`` the owner too).

    **Why.** Queries do not fail, they return nothing: an application role reading the
    table gets empty results with no error, which is hard to tell from an empty table. It
    is sometimes deliberate (a table only a ``BYPASSRLS`` service role may use), hence the
    ``info`` severity; most often the policies were forgotten or live in a file that was
    not applied.

    **Fix.** Create the policies the table needs (``CREATE POLICY ... USING (...)``), or say
    in an inline ignore that default-deny is the intent.

    **Example.**

    ```sql
    ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
    CREATE POLICY owner_reads ON documents FOR SELECT
        USING (owner_id = current_setting('app.user_id')::bigint);
    ```
    """

    id = "rls-enabled-without-policy"
    severity = Severity.INFO
    help = "Create the table's policies (CREATE POLICY ... USING (...))."

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each table with row-level security enabled and no policy."""
        for table in catalog.all_tables():
            if table.rls_enabled and not table.policies:
                yield finding(
                    table,
                    f"{table.key} enables row-level security but has no policy: every role"
                    " but its owner (and BYPASSRLS roles) reads no rows and writes none",
                    origin=rls_origin(table),
                )
