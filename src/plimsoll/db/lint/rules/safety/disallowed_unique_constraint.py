"""disallowed-unique-constraint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement, unwrap


class DisallowedUniqueConstraint(StatementRule):
    """Add UNIQUE constraints to existing tables from an index built concurrently.

    **Problem.** ``ALTER TABLE ... ADD CONSTRAINT ... UNIQUE (cols)`` (or ``ADD COLUMN ...
    UNIQUE``) builds the unique index while holding an ACCESS EXCLUSIVE lock on the table:
    reads and writes are blocked for the whole build.

    **Why.** Building an index on a large table takes minutes. ``CREATE UNIQUE INDEX
    CONCURRENTLY`` builds the same index without blocking writes, and ``ADD CONSTRAINT ...
    UNIQUE USING INDEX`` then turns it into a constraint in an instant.

    **Fix.** ``CREATE UNIQUE INDEX CONCURRENTLY`` (outside a transaction block), then
    ``ALTER TABLE ... ADD CONSTRAINT name UNIQUE USING INDEX index_name``. A table created in
    the same migration is exempt.

    **Example.**

    ```sql
    CREATE UNIQUE INDEX CONCURRENTLY orders_number_key ON orders (number);
    ALTER TABLE orders ADD CONSTRAINT orders_number_key UNIQUE USING INDEX orders_number_key;
    ```
    """

    id = "disallowed-unique-constraint"
    severity = Severity.WARNING
    help = "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... UNIQUE USING INDEX."
    node_types: ClassVar[tuple[str, ...]] = ("AlterTableStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag each UNIQUE constraint that builds its own index on an existing table."""
        node = statement.node
        if not context.migration or node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
            return
        table = context.key(node.get("relation"))
        if context.is_new(table):
            return
        for command in node.get("cmds") or ():
            _, cmd = unwrap(command)
            subtype = cmd.get("subtype")
            if subtype == "AT_AddConstraint":
                _, constraint = unwrap(cmd.get("def"))
                found = [constraint]
                what = f"ADD CONSTRAINT {constraint.get('conname') or ''} UNIQUE"
            elif subtype == "AT_AddColumn":
                _, column = unwrap(cmd.get("def"))
                found = [unwrap(c)[1] for c in column.get("constraints") or ()]
                what = f"ADD COLUMN {column.get('colname', '')} ... UNIQUE"
            else:
                continue
            for constraint in found:
                if constraint.get("contype") != "CONSTR_UNIQUE" or constraint.get("indexname"):
                    continue
                yield Violation(
                    " ".join(
                        f"{what} on {table} builds a unique index under an ACCESS EXCLUSIVE"
                        " lock: reads and writes are blocked until the index is built".split()
                    ),
                    location=constraint.get("location"),
                )
