"""renaming-table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._statement_parts import command_location, existing_relation
from plimsoll.db.sqljson import JsonStatement


class RenamingTable(StatementRule):
    """Do not rename a table that running code uses.

    **Problem.** ``ALTER TABLE ... RENAME TO`` changes the name at once, for everyone, the
    moment the migration commits. The application servers still running the previous
    release keep querying the old name, and every one of those queries fails with "relation
    does not exist" until they are all replaced. The rename itself is quick, but it takes an
    ACCESS EXCLUSIVE lock, so it also waits behind any long query on the table and blocks
    everything queued after it.

    **Why.** Deployments are not atomic: old and new code run side by side for a while, and
    a rollback brings the old code back. A schema change must work with both.

    **Fix.** Rename the table and, in the same transaction, create a view with the old name
    (``CREATE VIEW old_name AS SELECT * FROM new_name``): a view over a single table is
    updatable, so old code keeps reading and writing through it. Drop the view once no
    running code uses the old name. A table created earlier in the same migration is not
    flagged: no running code knows it yet. Schema files build a fresh database and are not
    checked.

    **Example.**

    ```sql
    -- old code querying "customers" fails once this commits
    ALTER TABLE customers RENAME TO clients;
    -- instead, keep the old name working for a while
    BEGIN;
    ALTER TABLE customers RENAME TO clients;
    CREATE VIEW customers AS SELECT * FROM clients;
    COMMIT;
    ```
    """

    id = "renaming-table"
    severity = Severity.WARNING
    help = (
        "Keep the old name working with a view (CREATE VIEW old AS SELECT * FROM new) until"
        " no running code uses it."
    )
    node_types: ClassVar[tuple[str, ...]] = ("RenameStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag ALTER TABLE ... RENAME TO on a table not created in this migration."""
        node = statement.node
        if node.get("renameType") != "OBJECT_TABLE":
            return
        relation = node.get("relation")
        key = existing_relation(context, relation)
        if key is None:
            return
        yield Violation(
            f"RENAME TO {node.get('newname', '')} on table {key} breaks running code: every"
            f" query that still uses {key} fails once the migration commits",
            location=command_location(statement, context, relation, 0),
        )
