"""require-concurrent-partition-detach."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.safety._statement_parts import AlterCommand, AlterTableRule

_DETACH = frozenset({"AT_DetachPartition"})
_BEFORE_14 = (
    "PostgreSQL before 14 has no DETACH PARTITION CONCURRENTLY: detach in a quiet window with"
    " a short lock_timeout, and retry."
)


class RequireConcurrentPartitionDetach(AlterTableRule):
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
    subtypes = _DETACH
    any_relation = True

    def judge(self, command: AlterCommand) -> Iterator[Violation]:
        """Flag a DETACH PARTITION without CONCURRENTLY."""
        if command.definition.get("concurrent"):
            return
        context = command.context
        name = context.key(command.definition.get("name"))
        parent = command.table
        yield Violation(
            f"DETACH PARTITION {name} takes an ACCESS EXCLUSIVE lock on {parent}: reads and"
            f" writes of every partition of {parent} are blocked while it waits and runs",
            location=command.location,
            help=None if context.pg_version >= 14 else _BEFORE_14,
        )
