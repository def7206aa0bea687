"""require-primary-key."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.schema_facts import finding


class RequirePrimaryKey(SchemaRule):
    """Every table has a primary key.

    **Problem.** A table without a primary key has no way to name one row.

    **Why.** Logical replication cannot replicate its UPDATEs and DELETEs (no replica
    identity), ORMs and admin tools cannot edit its rows, and duplicates creep in unnoticed.

    **Fix.** Add a primary key, ideally a ``bigint GENERATED ALWAYS AS IDENTITY`` column or
    the natural key when there is one.

    **Example.**

    ```sql
    CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload jsonb);
    ```
    """

    id = "require-primary-key"
    severity = Severity.ERROR
    help = "Add a PRIMARY KEY (for example an identity column)."

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each table without a primary key constraint."""
        for table in catalog.all_tables():
            if not any(c.kind == "p" for c in table.constraints):
                yield finding(
                    table,
                    f"table {table.key} has no primary key: its rows cannot be told apart, and"
                    " logical replication cannot replicate its UPDATEs and DELETEs",
                )
