"""require-check-before-attach."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._statement_parts import existing_relation
from plimsoll.db.sqljson import JsonStatement, unwrap


class RequireCheckBeforeAttach(StatementRule):
    """Prove a partition's bound with a CHECK constraint before attaching it.

    **Problem.** ``ALTER TABLE parent ATTACH PARTITION t FOR VALUES ...`` locks ``t`` ACCESS
    EXCLUSIVE and scans every row of it to make sure each one belongs in the bound (and the
    default partition too, if the table has one, for rows that now belong in ``t``). The
    partitioned table itself is only locked SHARE UPDATE EXCLUSIVE (PostgreSQL 12 on; ACCESS
    EXCLUSIVE before).

    **Why.** Attaching is how a large existing table becomes a partition (a table converted to
    partitioning, a staging table loaded and swapped in): reads and writes of it wait for the
    whole scan.

    **Fix.** The scan is skipped when a valid CHECK constraint of ``t`` already implies the
    bound: add one NOT VALID (an instant), ``VALIDATE`` it (a scan under SHARE UPDATE
    EXCLUSIVE, which blocks neither reads nor writes), then attach, and drop the constraint
    afterwards. A table created in the same migration is exempt (nobody else can see it), and
    so is one whose CHECK constraint is added or validated earlier in the same migration or in
    an earlier migration linted in the same run. When it was validated outside what is linted,
    say so with an inline ignore.

    **Example.**

    ```sql
    ALTER TABLE events_2025 ADD CONSTRAINT events_2025_bound
        CHECK (day >= '2025-01-01' AND day < '2026-01-01') NOT VALID;
    ALTER TABLE events_2025 VALIDATE CONSTRAINT events_2025_bound;
    ALTER TABLE events ATTACH PARTITION events_2025
        FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    ALTER TABLE events_2025 DROP CONSTRAINT events_2025_bound;
    ```
    """

    id = "require-check-before-attach"
    severity = Severity.WARNING
    version = "1.0.1"
    help = (
        "Add a CHECK constraint implying the bound NOT VALID, VALIDATE it, then ATTACH"
        " PARTITION (it skips the scan), then drop the CHECK."
    )
    node_types: ClassVar[tuple[str, ...]] = ("AlterTableStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag each ATTACH PARTITION of an existing table no earlier CHECK vouches for."""
        # ALTER INDEX ... ATTACH PARTITION attaches an index: no rows, no bound to check.
        if not context.migration or statement.node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
            return
        for command in statement.node.get("cmds") or ():
            _, cmd = unwrap(command)
            if cmd.get("subtype") != "AT_AttachPartition":
                continue
            _, definition = unwrap(cmd.get("def"))
            partition = existing_relation(context, definition.get("name"))
            if partition is None or partition in context.checked:
                continue
            parent = context.key(statement.node.get("relation"))
            yield Violation(
                f"ATTACH PARTITION {partition} locks {partition} ACCESS EXCLUSIVE and scans"
                f" every row against the bound: reads and writes of {partition} are blocked"
                f" until the scan ends (and {parent}'s default partition, if any, is scanned"
                " too)",
                location=(definition.get("name") or {}).get("location"),
            )
