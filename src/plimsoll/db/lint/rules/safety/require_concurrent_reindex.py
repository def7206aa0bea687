"""require-concurrent-reindex."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._migration_facts import migration_facts
from plimsoll.db.sqljson import JsonStatement, enabled_options

_BEFORE_12 = (
    "PostgreSQL before 12 has no REINDEX CONCURRENTLY: build a replacement with CREATE INDEX"
    " CONCURRENTLY, then DROP INDEX CONCURRENTLY the old one and rename the new one."
)


class RequireConcurrentReindex(StatementRule):
    """Rebuild indexes of live tables with REINDEX CONCURRENTLY.

    **Problem.** ``REINDEX`` without ``CONCURRENTLY`` takes a SHARE lock on the table, so
    every INSERT, UPDATE and DELETE waits, and an ACCESS EXCLUSIVE lock on each index it
    rebuilds, so every query that would use the index waits too, for the whole rebuild.
    ``REINDEX TABLE``, ``SCHEMA`` and ``DATABASE`` do that to every index in turn.

    **Why.** Rebuilding a large index takes minutes; the table is read-only, and partly
    unreadable, for that long.

    **Fix.** ``REINDEX ... CONCURRENTLY`` (PostgreSQL 12 and later) builds a new copy of each
    index next to the old one and swaps them, blocking neither reads nor writes; it cannot run
    inside a transaction block. Before 12 there is no concurrent form: create a replacement
    index with ``CREATE INDEX CONCURRENTLY``, drop the old one with ``DROP INDEX
    CONCURRENTLY``, and rename. An index or table created in the same migration is exempt.

    **Example.**

    ```sql
    -- blocks writes to orders, and reads that use the index, until the rebuild ends
    REINDEX INDEX orders_customer_idx;
    -- blocks neither (PostgreSQL 12+)
    REINDEX INDEX CONCURRENTLY orders_customer_idx;
    ```
    """

    id = "require-concurrent-reindex"
    severity = Severity.WARNING
    version = "1.0.1"
    help = "Use REINDEX ... CONCURRENTLY (PostgreSQL 12+, outside a transaction block)."
    node_types: ClassVar[tuple[str, ...]] = ("ReindexStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag a REINDEX without CONCURRENTLY of an existing index, table, schema or database."""
        node = statement.node
        if not context.migration:
            return
        params = enabled_options(node.get("params"))
        if "concurrently" in params:
            return
        kind = node.get("kind", "")
        if kind == "REINDEX_OBJECT_SYSTEM":
            return  # system catalogs have no concurrent form on any version
        if kind == "REINDEX_OBJECT_INDEX":
            key = context.key(node.get("relation"))
            facts = migration_facts(context)
            if context.is_new(key) or facts.index_created_before(key, statement.index):
                return
            message = (
                f"REINDEX INDEX {key} blocks writes to its table and every query that uses the"
                " index until the rebuild ends (SHARE lock on the table, ACCESS EXCLUSIVE on"
                " the index)"
            )
        elif kind == "REINDEX_OBJECT_TABLE":
            key = context.key(node.get("relation"))
            if context.is_new(key):
                return
            message = (
                f"REINDEX TABLE {key} takes a SHARE lock on {key} and an ACCESS EXCLUSIVE lock"
                " on each of its indexes: writes are blocked, and reads that use an index,"
                " until every index is rebuilt"
            )
        else:
            what = kind.removeprefix("REINDEX_OBJECT_")
            name = node.get("name") or "the current database"
            message = (
                f"REINDEX {what} {name} rebuilds every index in it, blocking writes to each"
                " table and the reads that use each index while it is rebuilt"
            )
        yield Violation(message, help=None if context.pg_version >= 12 else _BEFORE_12)
