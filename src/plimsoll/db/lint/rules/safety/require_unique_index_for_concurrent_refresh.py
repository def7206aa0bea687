"""require-unique-index-for-concurrent-refresh."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.catalog import sql_name
from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement


class RequireUniqueIndexForConcurrentRefresh(StatementRule):
    """Refresh a materialized view CONCURRENTLY only when PostgreSQL can do it.

    **Problem.** ``REFRESH MATERIALIZED VIEW CONCURRENTLY`` fails with *cannot refresh
    materialized view concurrently* unless the view has a unique index on plain columns that
    covers every row (no ``WHERE``, no expression), and with *CONCURRENTLY cannot be used
    when the materialized view is not populated* when it was created (or last refreshed)
    ``WITH NO DATA``; ``CONCURRENTLY`` together with ``WITH NO DATA`` is refused outright.
    All checked on PostgreSQL 15.

    **Why.** The concurrent refresh computes the new contents beside the old ones and merges
    the difference row by row, matched through that unique index; without it, or without
    old contents, there is nothing to merge against. ``require-concurrent-refresh`` asks for
    ``CONCURRENTLY``: this rule makes sure the advice can be followed.

    **Fix.** ``CREATE UNIQUE INDEX CONCURRENTLY`` on the view's key columns first; populate a
    ``WITH NO DATA`` view with one plain ``REFRESH`` before refreshing it concurrently. A view
    is known from the live database (``--env``; taken as populated) or from the files linted
    before the statement; a view known from neither is not reported.

    **Example.**

    ```sql
    CREATE UNIQUE INDEX CONCURRENTLY daily_totals_day_key ON daily_totals (day);
    REFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals;
    ```
    """

    id = "require-unique-index-for-concurrent-refresh"
    severity = Severity.ERROR
    help = (
        "Create a unique index on plain columns of the view (no WHERE) and populate the view"
        " before refreshing it CONCURRENTLY."
    )
    node_types: ClassVar[tuple[str, ...]] = ("RefreshMatViewStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag a concurrent refresh PostgreSQL would refuse."""
        node = statement.node
        if not node.get("concurrent"):
            return
        relation = node.get("relation")
        location = (relation or {}).get("location")
        key = context.key(relation)
        if node.get("skipData"):
            yield Violation(
                f"REFRESH MATERIALIZED VIEW CONCURRENTLY {key} WITH NO DATA: PostgreSQL refuses"
                " CONCURRENTLY and WITH NO DATA together",
                location=location,
                help="Drop CONCURRENTLY to empty the view, or WITH NO DATA to refresh it.",
            )
            return
        view = context.known.materialized.get(key)
        if view is None:
            return
        where = context.known.origin.get(key, "the files linted")
        if not view.populated:
            yield Violation(
                f"{key} is not populated (created or refreshed WITH NO DATA, as {where} says):"
                " PostgreSQL refuses to refresh it CONCURRENTLY",
                location=location,
                help=f"Populate it first: REFRESH MATERIALIZED VIEW {sql_name(*key.split('.', 1))}"
                " (without CONCURRENTLY).",
            )
        elif not view.unique_indexes:
            yield Violation(
                f"{key} has no unique index on plain columns covering every row (as {where}"
                " says): PostgreSQL refuses to refresh it CONCURRENTLY",
                location=location,
            )
