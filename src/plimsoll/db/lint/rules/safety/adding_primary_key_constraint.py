"""adding-primary-key-constraint."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.safety._statement_parts import ADDS, AlterCommand, AlterTableRule


class AddingPrimaryKeyConstraint(AlterTableRule):
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
    subtypes = ADDS

    def judge(self, command: AlterCommand) -> Iterator[Violation]:
        """Flag each primary key the subcommand adds that builds its own index."""
        if command.subtype == "AT_AddConstraint":
            what = "ADD PRIMARY KEY"
        else:
            what = f"ADD COLUMN {command.column} ... PRIMARY KEY"
        for constraint in command.constraints("CONSTR_PRIMARY"):
            if constraint.get("indexname"):
                continue
            yield Violation(
                f"{what} on {command.table} builds a unique index under an ACCESS EXCLUSIVE"
                " lock: reads and writes are blocked until the index is built",
                location=constraint.get("location"),
            )
