"""ban-drop-default."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.safety._statement_parts import AlterCommand, AlterTableRule
from plimsoll.db.sqljson import unwrap

_COLUMN_DEFAULT = frozenset({"AT_ColumnDefault"})


class BanDropDefault(AlterTableRule):
    """Do not take a default away from a column that clients insert into.

    **Problem.** ``ALTER TABLE ... ALTER COLUMN c DROP DEFAULT`` (or ``SET DEFAULT NULL``,
    the same thing) changes what an ``INSERT`` that leaves ``c`` out stores: NULL instead of
    the default, or, on a NOT NULL column, an error.

    **Why.** The change is instant for the database; the breakage is in the clients. Code
    written against the default (every insert that does not name the column, including the
    old application version still running during a rolling deploy) now stores NULL where it
    stored a value, or fails on every insert.

    **Fix.** First make every writer set the column itself, and deploy that; then drop the
    default. A table created in the same migration is exempt (no client writes it yet; squawk
    reports those too).

    **Example.**

    ```sql
    -- inserts that leave status out now store NULL, or fail if status is NOT NULL
    ALTER TABLE orders ALTER COLUMN status DROP DEFAULT;
    ```
    """

    id = "ban-drop-default"
    severity = Severity.WARNING
    help = "Make every writer set the column (and deploy that) before dropping its default."
    subtypes = _COLUMN_DEFAULT

    def judge(self, command: AlterCommand) -> Iterator[Violation]:
        """Flag DROP DEFAULT and SET DEFAULT NULL."""
        default = command.cmd.get("def")
        if default is not None:
            kind, node = unwrap(default)
            if kind != "A_Const" or not node.get("isnull"):
                return  # SET DEFAULT to a value
        yield Violation(
            f"dropping the default of {command.table}.{command.name}: inserts that leave"
            f" {command.name} out store NULL instead (or fail, if it is NOT NULL)",
            location=command.location,
        )
