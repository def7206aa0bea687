"""prefer-timestamp-tz."""

from __future__ import annotations

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules.safety._column_types import ColumnType, ColumnTypeRule


class PreferTimestampTz(ColumnTypeRule):
    """Use timestamptz rather than timestamp without time zone.

    **Problem.** ``timestamp`` (``timestamp without time zone``) stores a wall-clock reading
    with no time zone: PostgreSQL silently ignores a zone or offset written in the input, and
    a ``timestamptz`` value such as ``now()`` is converted to the writing session's
    ``TimeZone`` before it is stored. The same instant written by two sessions in different
    time zones is stored as two different values, and nothing in the column says which zone
    a value meant.

    **Why.** ``timestamptz`` stores an absolute instant (in UTC) and shows it in each
    reader's time zone, so comparisons, ordering and arithmetic across zones and daylight
    saving changes are right. Converting a column later is ``ALTER COLUMN ... TYPE
    timestamptz``: a table rewrite under an ACCESS EXCLUSIVE lock, except on PostgreSQL 12
    and later when the session's ``TimeZone`` is UTC, where it is only a catalog change.

    **Fix.** ``timestamptz`` (``timestamp with time zone``). The rule applies to migrations
    and schema files alike, to the column's type and to arrays of it.

    **Example.**

    ```sql
    -- the time zone of the input is dropped
    CREATE TABLE events (happened_at timestamp NOT NULL);
    -- an absolute instant
    CREATE TABLE events (happened_at timestamptz NOT NULL);
    ```
    """

    id = "prefer-timestamp-tz"
    bases = frozenset({"timestamp"})
    severity = Severity.WARNING
    help = "Use timestamptz (timestamp with time zone)."

    def judge(self, column: ColumnType, context: StatementContext) -> str | None:
        """Flag ``timestamp`` without a time zone."""
        return (
            f"column {column.qualified_column} is {column.written}: the time zone of what is"
            " written is dropped, so one instant written from two time zones is stored as two"
            " different values"
        )
