"""prefer-text-field."""

from __future__ import annotations

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules.safety._column_types import ColumnType, ColumnTypeRule


class PreferTextField(ColumnTypeRule):
    """Use text with a CHECK constraint rather than varchar(n).

    **Problem.** ``varchar(n)`` puts the length limit in the column's type, so changing the
    limit is ``ALTER COLUMN ... TYPE varchar(m)``, which takes an ACCESS EXCLUSIVE lock on the
    table. Lowering the limit rewrites the whole table under that lock, blocking reads and
    writes throughout. Raising it is only a catalog change since PostgreSQL 9.2 (before, it
    rewrote the table too), but it still has to wait for the lock: queued behind one long
    query, it blocks every query on the table that comes after it.

    **Why.** ``text`` and ``varchar`` are stored and processed the same way; the limit is the
    only difference, and a CHECK constraint expresses it without tying it to the type. A
    CHECK is changed online: drop it, add the new one ``NOT VALID`` (the lock is held only
    for a moment) and ``VALIDATE CONSTRAINT``, which scans under SHARE UPDATE EXCLUSIVE and
    lets reads and writes go on.

    **Fix.** ``text`` with ``CHECK (char_length(column) <= n)``, or plain ``text`` when the
    limit is not a rule of the data. ``varchar`` without a length is not flagged. The rule
    applies to migrations and schema files alike.

    **Example.**

    ```sql
    -- changing 255 later means ALTER COLUMN TYPE under ACCESS EXCLUSIVE
    CREATE TABLE users (email varchar(255) NOT NULL);
    -- the limit is a constraint, changed with NOT VALID and VALIDATE
    CREATE TABLE users (
        email text NOT NULL CONSTRAINT users_email_length CHECK (char_length(email) <= 255)
    );
    ```
    """

    id = "prefer-text-field"
    bases = frozenset({"varchar"})
    severity = Severity.WARNING
    help = "Use text with a CHECK (char_length(column) <= n) constraint instead of varchar(n)."

    def judge(self, column: ColumnType, context: StatementContext) -> str | None:
        """Flag ``varchar`` with a length."""
        if not column.modifiers:
            return None
        return (
            f"column {column.qualified_column} is {column.written}: changing the limit later is"
            " ALTER COLUMN TYPE, which locks the table ACCESS EXCLUSIVE (reads and writes"
            " blocked) and rewrites it when the limit goes down"
        )
