"""renaming-column."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._statement_parts import command_location
from plimsoll.db.sqljson import JsonStatement

# What the renamed thing is called in the message, by the kind of relation it belongs to.
_OWNERS = {
    "OBJECT_TABLE": "table",
    "OBJECT_VIEW": "view",
    "OBJECT_MATVIEW": "materialized view",
    "OBJECT_FOREIGN_TABLE": "foreign table",
}


class RenamingColumn(StatementRule):
    """Do not rename a column that running code uses.

    **Problem.** ``ALTER TABLE ... RENAME COLUMN`` changes the name at once, for everyone, the
    moment the migration commits. The application servers still running the previous
    release keep sending queries with the old name, and every one of them fails with
    "column does not exist" until they are all replaced. Functions whose body is a string
    (PL/pgSQL, or SQL in quotes) break too; views follow the rename. The rename itself is
    quick, but it takes an ACCESS EXCLUSIVE lock, so it also waits behind any long query on
    the table and blocks everything queued after it.

    **Why.** Deployments are not atomic: old and new code run side by side for a while, and
    a rollback brings the old code back. A schema change must work with both.

    **Fix.** Expand and contract: add the new column, write to both (a trigger, or the
    application), backfill, move the reads to the new column, and drop the old one in a
    later release. The rename of a column whose table was created earlier in the same
    migration is not flagged: no running code knows that table yet. Renaming an attribute
    of a composite type (``ALTER TYPE ... RENAME ATTRIBUTE``) is flagged as well. Schema
    files build a fresh database and are not checked.

    **Example.**

    ```sql
    -- every running query that says "email" fails once this commits
    ALTER TABLE users RENAME COLUMN email TO email_address;
    -- instead: add email_address, write both, backfill, switch reads, drop email later
    ALTER TABLE users ADD COLUMN email_address text;
    ```
    """

    id = "renaming-column"
    severity = Severity.WARNING
    help = (
        "Add the new column, write to both, backfill, move reads over, and drop the old one"
        " in a later release."
    )
    node_types: ClassVar[tuple[str, ...]] = ("RenameStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag RENAME COLUMN (and RENAME ATTRIBUTE) on a relation not created in this file."""
        node = statement.node
        kind = node.get("renameType")
        if not context.migration or kind not in ("OBJECT_COLUMN", "OBJECT_ATTRIBUTE"):
            return
        relation = node.get("relation")
        key = context.key(relation)
        old, new = node.get("subname", ""), node.get("newname", "")
        location = command_location(statement, context, relation, 0)
        if kind == "OBJECT_ATTRIBUTE":
            yield Violation(
                f"RENAME ATTRIBUTE {old} TO {new} on type {key} breaks running code that"
                f" reads or builds values of {key} with the name {old}",
                location=location,
            )
            return
        if context.is_new(key):
            return
        owner = _OWNERS.get(node.get("relationType", ""), "table")
        yield Violation(
            f"RENAME COLUMN {old} TO {new} on {owner} {key} breaks running code: every query"
            f" that still uses {old} fails once the migration commits",
            location=location,
        )
