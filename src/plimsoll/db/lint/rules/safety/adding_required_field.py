"""adding-required-field."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.safety._statement_parts import ADD_COLUMN, AlterCommand, AlterTableRule
from plimsoll.db.sqljson import SERIAL_TYPES, strings, unwrap

# Column constraints that give every existing row a value.
_FILLED = frozenset({"CONSTR_IDENTITY", "CONSTR_GENERATED"})


class AddingRequiredField(AlterTableRule):
    """Give a NOT NULL column added to an existing table a default.

    **Problem.** ``ALTER TABLE ... ADD COLUMN c ... NOT NULL`` without a ``DEFAULT`` fills
    the existing rows with NULL, which the constraint refuses: on any table with rows the
    migration fails with *column "c" contains null values*. A ``PRIMARY KEY`` column
    constraint implies NOT NULL and fails the same way.

    **Why.** The migration passes on an empty development database and fails in production,
    where the table has rows; and every INSERT of an application version that does not know
    the column fails once it exists.

    **Fix.** Add the column with a constant default (instant on PostgreSQL 11+), or add it
    nullable, backfill it, and set NOT NULL afterwards (see ``adding-not-nullable-field`` for
    doing that without a long lock). Identity, generated and ``serial`` columns fill
    themselves and are not reported; neither is a table created in the same migration.

    **Example.**

    ```sql
    -- fails on a table with rows
    ALTER TABLE orders ADD COLUMN status text NOT NULL;
    -- works, and is instant on PostgreSQL 11+
    ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';
    ```
    """

    id = "adding-required-field"
    severity = Severity.ERROR
    help = "Give the column a constant DEFAULT, or add it nullable, backfill, then set NOT NULL."
    subtypes = ADD_COLUMN

    def judge(self, command: AlterCommand) -> Iterator[Violation]:
        """Flag an ADD COLUMN that is NOT NULL with nothing to fill existing rows."""
        column = command.definition
        names = strings((column.get("typeName") or {}).get("names"))
        if len(names) == 1 and names[0] in SERIAL_TYPES:
            return
        required = None
        filled = False
        for item in column.get("constraints") or ():
            _, constraint = unwrap(item)
            contype = constraint.get("contype")
            if contype in ("CONSTR_NOTNULL", "CONSTR_PRIMARY") and required is None:
                required = constraint
            elif contype in _FILLED:
                filled = True
            elif contype == "CONSTR_DEFAULT":
                kind, value = unwrap(constraint.get("raw_expr"))
                filled = filled or not (kind == "A_Const" and value.get("isnull"))
        if required is None or filled:
            return
        what = "PRIMARY KEY" if required.get("contype") == "CONSTR_PRIMARY" else "NOT NULL"
        yield Violation(
            f"ADD COLUMN {command.column} on {command.table} is {what} without a default:"
            " existing rows get NULL, so the migration fails on any table with rows",
            location=column.get("location"),
        )
