"""require-concurrent-index-creation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._statement_parts import existing_relation
from plimsoll.db.sqljson import JsonStatement


class RequireConcurrentIndexCreation(StatementRule):
    """Create indexes on existing tables with CONCURRENTLY.

    **Problem.** ``CREATE INDEX`` without ``CONCURRENTLY`` takes a SHARE lock on the table
    for the whole build: reads go on, but every INSERT, UPDATE and DELETE waits until the
    index is built, which on a large table is minutes.

    **Why.** Writers queue behind the lock, and every later query queues behind them; the
    service stalls for the length of the build.

    **Fix.** ``CREATE INDEX CONCURRENTLY`` takes SHARE UPDATE EXCLUSIVE, which lets writes
    go on; it cannot run inside a transaction block, so keep it in a migration of its own.
    An index on a table created in the same migration needs nothing: the table is empty and
    nobody else can see it yet.

    A partitioned table refuses CONCURRENTLY: create the index ``ON ONLY`` the partitioned
    table (instant: an invalid index on the parent alone), then ``CONCURRENTLY`` on each
    partition, and attach each to the parent's with ``ALTER INDEX ... ATTACH PARTITION``
    (the parent's becomes valid when every partition has one). ``ON ONLY`` is therefore not
    flagged (on a plain table ONLY changes nothing: write it only for partitioned ones).

    **Example.**

    ```sql
    -- blocks writes to orders while the index builds
    CREATE INDEX orders_customer_idx ON orders (customer_id);
    -- lets writes go on
    CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);
    -- on a partitioned table, one partition at a time
    CREATE INDEX events_day_idx ON ONLY events (day);
    CREATE INDEX CONCURRENTLY events_2025_day_idx ON events_2025 (day);
    ALTER INDEX events_day_idx ATTACH PARTITION events_2025_day_idx;
    ```
    """

    id = "require-concurrent-index-creation"
    severity = Severity.WARNING
    help = (
        "Use CREATE INDEX CONCURRENTLY (outside a transaction block); on a partitioned table,"
        " ON ONLY the parent, then CONCURRENTLY on each partition, attached to it."
    )
    node_types: ClassVar[tuple[str, ...]] = ("IndexStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag a non-concurrent index on a table not created in this migration."""
        node = statement.node
        relation = node.get("relation") or {}
        # ON ONLY (the parser's inh unset): the parent's index alone, built at once, empty.
        if node.get("concurrent") or not relation.get("inh"):
            return
        table = existing_relation(context, node.get("relation"))
        if table is None:
            return
        yield Violation(
            f"CREATE INDEX on {table} takes a SHARE lock: writes to {table} are blocked"
            " until the index is built"
        )
