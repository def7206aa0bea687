"""disallowed-unique-constraint."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.safety._statement_parts import ADDS, AlterCommand, AlterTableRule


class DisallowedUniqueConstraint(AlterTableRule):
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
    subtypes = ADDS

    def judge(self, command: AlterCommand) -> Iterator[Violation]:
        """Flag each UNIQUE constraint the subcommand adds that builds its own index."""
        if command.subtype == "AT_AddConstraint":
            what = f"ADD CONSTRAINT {command.definition.get('conname') or ''} UNIQUE"
        else:
            what = f"ADD COLUMN {command.column} ... UNIQUE"
        for constraint in command.constraints("CONSTR_UNIQUE"):
            if constraint.get("indexname"):
                continue
            yield Violation(
                " ".join(
                    f"{what} on {command.table} builds a unique index under an ACCESS"
                    " EXCLUSIVE lock: reads and writes are blocked until the index is"
                    " built".split()
                ),
                location=constraint.get("location"),
            )
