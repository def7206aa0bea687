"""ban-drop-not-null."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._statement_parts import command_location
from plimsoll.db.sqljson import JsonStatement, unwrap


class BanDropNotNull(StatementRule):
    """Do not drop NOT NULL from a column that clients read.

    **Problem.** ``ALTER TABLE ... ALTER COLUMN c DROP NOT NULL`` lets NULL into a column
    that every reader has been written to trust: code that dereferences the value, sums it,
    or maps it to a non-optional field breaks on the first NULL.

    **Why.** The migration is instant and safe for the database; the failures come later, in
    the clients, when a NULL finally appears, far from the change that allowed it. Old
    application versions still running during a rolling deploy are the first to break.

    **Fix.** First make every reader handle NULL and deploy that, then drop the constraint.
    If the goal is to retire the column, stop writing it and drop it with the usual
    expand/contract steps instead. A table created in the same migration is exempt.

    **Example.**

    ```sql
    -- readers that assume a value break on the first NULL
    ALTER TABLE orders ALTER COLUMN customer_id DROP NOT NULL;
    ```
    """

    id = "ban-drop-not-null"
    severity = Severity.WARNING
    help = "Make every reader handle NULL (and deploy it) before dropping NOT NULL."
    node_types: ClassVar[tuple[str, ...]] = ("AlterTableStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag each DROP NOT NULL on an existing table."""
        node = statement.node
        if not context.migration or node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
            return
        table = context.key(node.get("relation"))
        if context.is_new(table):
            return
        for position, command in enumerate(node.get("cmds") or ()):
            _, cmd = unwrap(command)
            if cmd.get("subtype") != "AT_DropNotNull":
                continue
            column = cmd.get("name", "")
            yield Violation(
                f"DROP NOT NULL on {table}.{column} lets NULL into a column that existing"
                " clients expect to always hold a value",
                location=command_location(statement, context, node.get("relation"), position),
            )
