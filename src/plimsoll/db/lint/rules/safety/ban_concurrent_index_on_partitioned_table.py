"""ban-concurrent-index-on-partitioned-table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement


class BanConcurrentIndexOnPartitionedTable(StatementRule):
    """Do not create an index CONCURRENTLY on a partitioned table: PostgreSQL refuses it.

    **Problem.** ``CREATE INDEX CONCURRENTLY`` on a partitioned table fails with *cannot
    create index on partitioned table "events" concurrently*, with or without ``ON ONLY``
    (checked on PostgreSQL 15). The migration stops there.

    **Why.** The concurrent build is a per-table procedure of several transactions; it has no
    form that covers a tree of partitions at once. The usual advice to index concurrently
    therefore needs a different shape on a partitioned table.

    **Fix.** Create the index ``ON ONLY`` the partitioned table, without ``CONCURRENTLY``
    (instant: an invalid index on the parent alone), then ``CONCURRENTLY`` on each partition,
    and attach each to the parent's with ``ALTER INDEX ... ATTACH PARTITION``; the parent's
    index becomes valid once every partition has one. A table is known to be partitioned
    from the live database (``--env``) or from a ``CREATE TABLE ... PARTITION BY`` in a file
    linted before the statement; a table known from neither is not reported.

    **Example.**

    ```sql
    CREATE INDEX events_day_idx ON ONLY events (day);
    CREATE INDEX CONCURRENTLY events_2025_day_idx ON events_2025 (day);
    ALTER INDEX events_day_idx ATTACH PARTITION events_2025_day_idx;
    ```
    """

    id = "ban-concurrent-index-on-partitioned-table"
    severity = Severity.ERROR
    help = (
        "Create the index ON ONLY the partitioned table (not concurrently), then CONCURRENTLY"
        " on each partition, attached with ALTER INDEX ... ATTACH PARTITION."
    )
    node_types: ClassVar[tuple[str, ...]] = ("IndexStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag CREATE INDEX CONCURRENTLY on a table known to be partitioned."""
        node = statement.node
        if not node.get("concurrent"):
            return
        relation = node.get("relation")
        key = context.key(relation)
        if key not in context.known.partitioned:
            return
        where = context.known.origin.get(key, "the files linted")
        yield Violation(
            f"CREATE INDEX CONCURRENTLY on {key}, a partitioned table (as {where} says):"
            " PostgreSQL refuses it and the migration fails",
            location=(relation or {}).get("location"),
        )
