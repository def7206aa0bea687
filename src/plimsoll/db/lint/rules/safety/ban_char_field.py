"""ban-char-field."""

from __future__ import annotations

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules.safety._column_types import ColumnType, ColumnTypeRule


class BanCharField(ColumnTypeRule):
    """Do not use char(n): use text (with a CHECK when the length matters).

    **Problem.** ``char(n)`` (``character``, ``nchar``, ``bpchar``) pads every value with
    spaces up to ``n`` characters, and treats trailing spaces as insignificant: ``'a'`` and
    ``'a  '`` compare equal, but the padding comes back to the application, and it is lost
    again when the value is cast to ``text``. ``char`` without a length is ``char(1)``: a longer
    value is an error, or is cut to one character by an explicit cast.

    **Why.** The PostgreSQL documentation says it plainly: there is no performance advantage
    to ``char(n)`` (it is usually the slowest of the three, because of the padding), and in
    most situations ``text`` or ``varchar`` should be used instead. Changing ``n`` later is
    ``ALTER COLUMN ... TYPE``, which rewrites the table under an ACCESS EXCLUSIVE lock.

    **Fix.** ``text``, with ``CHECK (char_length(column) = n)`` for codes of a fixed length.
    The internal single-byte type ``"char"`` (quoted) is a different type and is not flagged.
    The rule applies to migrations and schema files alike.

    **Example.**

    ```sql
    -- blank-padded, trailing spaces ignored in comparisons
    CREATE TABLE countries (code char(2) PRIMARY KEY);
    -- exact values, the length is a constraint
    CREATE TABLE countries (code text PRIMARY KEY CHECK (char_length(code) = 2));
    ```
    """

    id = "ban-char-field"
    bases = frozenset({"bpchar"})
    severity = Severity.WARNING
    help = "Use text, with a CHECK (char_length(column) = n) constraint for a fixed length."

    def judge(self, column: ColumnType, context: StatementContext) -> str | None:
        """Flag the blank-padded character type (``bpchar``, whatever it was written as)."""
        return (
            f"column {column.qualified_column} is {column.written}: values are padded with"
            " spaces and trailing spaces are ignored when compared, with no speed gained"
            " over text"
        )
