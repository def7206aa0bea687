"""require-concurrent-index-deletion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext, qualified_names
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._migration_facts import migration_facts
from plimsoll.db.sqljson import JsonStatement


class RequireConcurrentIndexDeletion(StatementRule):
    """Drop indexes of existing tables with CONCURRENTLY.

    **Problem.** ``DROP INDEX`` without ``CONCURRENTLY`` takes an ACCESS EXCLUSIVE lock on
    the index's table: every read and write of the table waits, first while the drop queues
    behind running transactions, then while it runs.

    **Why.** The drop itself is quick, but the lock request is not: it waits for every
    transaction that touched the table to finish, and every query that arrives meanwhile
    queues behind it. A long report or an idle-in-transaction session turns a one-millisecond
    drop into an outage.

    **Fix.** ``DROP INDEX CONCURRENTLY`` waits for those transactions without blocking anyone
    (it takes SHARE UPDATE EXCLUSIVE). It drops one index per statement, has no ``CASCADE``,
    and cannot run inside a transaction block. An index created earlier in the same
    migration is exempt: nobody else can use it yet. A partitioned table's index cannot be
    dropped CONCURRENTLY (the server refuses): drop it with a short ``lock_timeout`` and an
    inline ignore.

    **Example.**

    ```sql
    -- blocks reads and writes of orders until the drop is done
    DROP INDEX orders_customer_idx;
    -- blocks nobody
    DROP INDEX CONCURRENTLY orders_customer_idx;
    ```
    """

    id = "require-concurrent-index-deletion"
    severity = Severity.WARNING
    help = "Use DROP INDEX CONCURRENTLY (one index per statement, outside a transaction block)."
    node_types: ClassVar[tuple[str, ...]] = ("DropStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag a non-concurrent DROP INDEX of an index this migration did not create."""
        node = statement.node
        if (
            node.get("removeType") != "OBJECT_INDEX"
            or node.get("concurrent")
            or not context.migration
        ):
            return
        facts = migration_facts(context)
        names = [
            facts.name_key_at(name.split("."), statement.index)
            for name in qualified_names(node.get("objects"))
        ]
        existing = [n for n in names if not facts.index_created_before(n, statement.index)]
        if not existing:
            return
        which = ", ".join(existing)
        yield Violation(
            f"DROP INDEX {which} takes an ACCESS EXCLUSIVE lock on the index's table: reads and"
            " writes of the table are blocked while the drop waits and runs"
        )
