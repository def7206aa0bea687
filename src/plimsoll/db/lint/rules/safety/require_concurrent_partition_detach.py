"""require-concurrent-partition-detach."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._statement_parts import command_location
from plimsoll.db.sqljson import JsonStatement, unwrap

_BEFORE_14 = (
    "PostgreSQL before 14 has no DETACH PARTITION CONCURRENTLY: detach in a quiet window with"
    " a short lock_timeout, and retry."
)


class RequireConcurrentPartitionDetach(StatementRule):
    """Detach partitions of live tables with CONCURRENTLY.

    **Problem.** ``ALTER TABLE parent DETACH PARTITION p`` takes an ACCESS EXCLUSIVE lock on
    the parent table (and the partition): every read and write of every partition waits,
    first while the detach queues behind running transactions, then while it runs.

    **Why.** The detach is quick, but its lock request waits for every transaction touching
    any partition, and every query on the partitioned table queues behind it.

    **Fix.** ``DETACH PARTITION p CONCURRENTLY`` (PostgreSQL 14+) takes only SHARE UPDATE
    EXCLUSIVE on the parent and waits for older transactions without blocking anyone. It
    cannot run in a transaction block, and not on a partitioned table with a default
    partition; if it is interrupted, finish it with ``DETACH PARTITION p FINALIZE``. Before
    14 there is no concurrent form: detach with a short ``lock_timeout`` and retry. A parent
    created in the same migration is exempt.

    **Example.**

    ```sql
    ALTER TABLE events DETACH PARTITION events_2023 CONCURRENTLY;
    ```
    """

    id = "require-concurrent-partition-detach"
    severity = Severity.WARNING
    help = "Use DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+, outside a transaction block)."
    node_types: ClassVar[tuple[str, ...]] = ("AlterTableStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag each DETACH PARTITION without CONCURRENTLY from an existing table."""
        node = statement.node
        if not context.migration:
            return
        parent = context.key(node.get("relation"))
        if context.is_new(parent):
            return
        for position, command in enumerate(node.get("cmds") or ()):
            _, cmd = unwrap(command)
            if cmd.get("subtype") != "AT_DetachPartition":
                continue
            _, partition = unwrap(cmd.get("def"))
            if partition.get("concurrent"):
                continue
            name = context.key(partition.get("name"))
            yield Violation(
                f"DETACH PARTITION {name} takes an ACCESS EXCLUSIVE lock on {parent}: reads and"
                f" writes of every partition of {parent} are blocked while it waits and runs",
                location=command_location(statement, context, node.get("relation"), position),
                help=None if context.pg_version >= 14 else _BEFORE_14,
            )
