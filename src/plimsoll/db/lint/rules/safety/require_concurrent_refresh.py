"""require-concurrent-refresh."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._statement_parts import existing_relation
from plimsoll.db.sqljson import JsonStatement


class RequireConcurrentRefresh(StatementRule):
    """Refresh materialized views that are in use with CONCURRENTLY.

    **Problem.** ``REFRESH MATERIALIZED VIEW`` without ``CONCURRENTLY`` takes an ACCESS
    EXCLUSIVE lock on the view while it runs the view's query again: every ``SELECT`` from the
    view waits until the refresh ends.

    **Why.** A materialized view exists because its query is slow; refreshing it blocks its
    readers for exactly that long.

    **Fix.** ``REFRESH MATERIALIZED VIEW CONCURRENTLY`` (PostgreSQL 9.4+) computes the new
    contents beside the old ones and applies the difference under an EXCLUSIVE lock, which
    lets reads go on. It needs a unique index on the view covering all rows (no ``WHERE``, on
    columns only) and a view that is already populated. A view created in the same
    migration, and ``WITH NO DATA`` (which only empties the view), are not reported.

    **Example.**

    ```sql
    CREATE UNIQUE INDEX CONCURRENTLY daily_totals_day_key ON daily_totals (day);
    REFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals;
    ```
    """

    id = "require-concurrent-refresh"
    severity = Severity.WARNING
    help = (
        "Use REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view covering"
        " all rows)."
    )
    node_types: ClassVar[tuple[str, ...]] = ("RefreshMatViewStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag a non-concurrent refresh of an existing materialized view."""
        node = statement.node
        if node.get("concurrent") or node.get("skipData"):
            return
        relation = node.get("relation")
        key = existing_relation(context, relation)
        if key is None:
            return
        yield Violation(
            f"REFRESH MATERIALIZED VIEW {key} takes an ACCESS EXCLUSIVE lock on the view: every"
            f" query of {key} is blocked until the refresh ends",
            location=(relation or {}).get("location"),
        )
