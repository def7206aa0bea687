"""prefer-attach-partition."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import PgVersions, Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._statement_parts import existing_relation
from plimsoll.db.sqljson import JsonStatement, unwrap


class PreferAttachPartition(StatementRule):
    """Add partitions to a live table with ATTACH PARTITION, not CREATE TABLE ... PARTITION OF.

    **Problem.** ``CREATE TABLE p PARTITION OF parent FOR VALUES ...`` takes an ACCESS
    EXCLUSIVE lock on the partitioned table: it waits for every transaction touching any of
    its partitions, and every read and write of the whole table queues behind it. Creating
    next month's partition this way is a classic outage of a busy time-series table.

    **Why.** ``ALTER TABLE parent ATTACH PARTITION p`` takes only SHARE UPDATE EXCLUSIVE on
    the partitioned table (PostgreSQL 12 on), which blocks neither reads nor writes (and
    ACCESS EXCLUSIVE on ``p`` alone, which nobody uses yet).

    **Fix.** Create the partition as a plain table like its parent, add a CHECK constraint
    matching its bound (on an empty table it is instant, and the attach then skips its scan),
    attach it, and drop the CHECK. A partitioned table created in the same migration is
    exempt: nobody else can see it yet.

    **Example.**

    ```sql
    -- locks all of events ACCESS EXCLUSIVE
    CREATE TABLE events_2026 PARTITION OF events
        FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
    -- locks events SHARE UPDATE EXCLUSIVE: reads and writes go on
    CREATE TABLE events_2026 (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
    ALTER TABLE events_2026 ADD CONSTRAINT events_2026_bound
        CHECK (day >= '2026-01-01' AND day < '2027-01-01');
    ALTER TABLE events ATTACH PARTITION events_2026
        FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
    ALTER TABLE events_2026 DROP CONSTRAINT events_2026_bound;
    ```
    """

    id = "prefer-attach-partition"
    severity = Severity.WARNING
    help = (
        "CREATE TABLE p (LIKE parent INCLUDING DEFAULTS INCLUDING CONSTRAINTS), add a CHECK"
        " matching the bound, then ALTER TABLE parent ATTACH PARTITION p FOR VALUES ..."
    )
    node_types: ClassVar[tuple[str, ...]] = ("CreateStmt",)
    # Before 12, ATTACH PARTITION locks the parent ACCESS EXCLUSIVE too: nothing to gain.
    pg_versions = PgVersions(minimum=12)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag CREATE TABLE ... PARTITION OF a partitioned table that already existed."""
        node = statement.node
        if not node.get("partbound"):
            return
        for item in node.get("inhRelations") or ():
            _, relation = unwrap(item)
            parent = existing_relation(context, relation)
            if parent is None:
                continue
            yield Violation(
                f"CREATE TABLE ... PARTITION OF {parent} takes an ACCESS EXCLUSIVE lock on"
                f" {parent}: reads and writes of every partition of {parent} are blocked while"
                " it waits for running transactions and runs",
                location=relation.get("location"),
            )
