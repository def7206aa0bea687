"""prefer-jsonb."""

from __future__ import annotations

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules.safety._column_types import ColumnType, ColumnTypeRule


class PreferJsonb(ColumnTypeRule):
    """Use jsonb rather than json.

    **Problem.** ``json`` keeps an exact copy of the input text, and every function and
    operator that reads it parses it again. It has no equality operator, so a ``json``
    column cannot appear in ``DISTINCT``, ``GROUP BY``, ``UNION`` or a UNIQUE constraint, and
    it has no btree or GIN operator class, so nothing inside it can be indexed.

    **Why.** ``jsonb`` stores the parsed document: a little slower to write, much faster to
    read, comparable, and indexable with GIN (``@>``, ``?``, jsonpath). Converting a column
    later is ``ALTER COLUMN ... TYPE jsonb``, which rewrites the table under an ACCESS
    EXCLUSIVE lock.

    **Fix.** ``jsonb``. Keep ``json`` only when the exact text must be preserved (key order,
    duplicate keys, whitespace). squawk has no such rule; this one applies to migrations and
    schema files alike.

    **Example.**

    ```sql
    -- reparsed on every read, not comparable, not indexable
    CREATE TABLE events (payload json NOT NULL);
    -- parsed once, comparable, GIN-indexable
    CREATE TABLE events (payload jsonb NOT NULL);
    ```
    """

    id = "prefer-jsonb"
    bases = frozenset({"json"})
    severity = Severity.WARNING
    help = "Use jsonb, unless the exact input text (key order, duplicate keys) must be kept."

    def judge(self, column: ColumnType, context: StatementContext) -> str | None:
        """Flag ``json``."""
        return (
            f"column {column.qualified_column} is {column.written}: it is re-parsed on every"
            " read, cannot be compared (no DISTINCT, GROUP BY or UNIQUE) and cannot be indexed"
        )
