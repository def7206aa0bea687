"""adding-primary-key-constraint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement, unwrap


class AddingPrimaryKeyConstraint(StatementRule):
    """Add primary keys to existing tables from an index built concurrently.

    **Problem.** ``ALTER TABLE ... ADD PRIMARY KEY (cols)`` (or ``ADD COLUMN ... PRIMARY
    KEY``) builds a unique index while holding an ACCESS EXCLUSIVE lock on the table, and
    sets the key columns NOT NULL, scanning the table if they are not already: reads and
    writes are blocked for the whole build.

    **Why.** Building an index on a large table takes minutes. ``CREATE UNIQUE INDEX
    CONCURRENTLY`` builds the same index without blocking writes, and ``ADD CONSTRAINT ...
    PRIMARY KEY USING INDEX`` then turns it into the primary key in an instant (make the
    columns NOT NULL first, see ``adding-not-nullable-field``, or that step scans).

    **Fix.** ``CREATE UNIQUE INDEX CONCURRENTLY`` on the key columns (outside a transaction
    block), make them NOT NULL behind a validated CHECK, then ``ALTER TABLE ... ADD
    CONSTRAINT name PRIMARY KEY USING INDEX index_name``. A table created in the same
    migration is exempt.

    **Example.**

    ```sql
    CREATE UNIQUE INDEX CONCURRENTLY events_pkey ON events (id);
    ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey;
    ```
    """

    id = "adding-primary-key-constraint"
    severity = Severity.WARNING
    help = (
        "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX."
    )
    node_types: ClassVar[tuple[str, ...]] = ("AlterTableStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag each primary key that builds its own index on an existing table."""
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
                what = "ADD PRIMARY KEY"
            elif subtype == "AT_AddColumn":
                _, column = unwrap(cmd.get("def"))
                found = [unwrap(c)[1] for c in column.get("constraints") or ()]
                what = f"ADD COLUMN {column.get('colname', '')} ... PRIMARY KEY"
            else:
                continue
            for constraint in found:
                if constraint.get("contype") != "CONSTR_PRIMARY" or constraint.get("indexname"):
                    continue
                yield Violation(
                    f"{what} on {table} builds a unique index under an ACCESS EXCLUSIVE lock:"
                    " reads and writes are blocked until the index is built",
                    location=constraint.get("location"),
                )
