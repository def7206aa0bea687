"""prefer-identity."""

from __future__ import annotations

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import PgVersions, Severity
from plimsoll.db.lint.rules.safety._column_types import ColumnType, ColumnTypeRule
from plimsoll.db.sqljson import SERIAL_TYPES


class PreferIdentity(ColumnTypeRule):
    """Use identity columns rather than serial types.

    **Problem.** ``serial``, ``bigserial`` and ``smallserial`` are not types: they create a
    sequence, make it owned by the column and set the column's default to ``nextval()`` of
    it. The sequence is a separate object with its own owner and privileges, so a role given
    INSERT on the table also needs USAGE on the sequence, ``CREATE TABLE ... (LIKE ...
    INCLUDING DEFAULTS)`` copies a default that still draws from the first table's sequence,
    and nothing stops a row being inserted with an explicit id that the sequence hands out
    again later.

    **Why.** Identity columns (PostgreSQL 10 and later, standard SQL) keep the sequence an
    internal part of the column: privileges follow the table, ``LIKE ... INCLUDING
    IDENTITY`` makes a new sequence, and ``GENERATED ALWAYS`` refuses explicit values unless
    the insert says ``OVERRIDING SYSTEM VALUE``. Converting a serial column later takes
    several steps (drop the default, add the identity, move the sequence on past the current
    maximum).

    **Fix.** ``bigint GENERATED ALWAYS AS IDENTITY`` (or ``BY DEFAULT`` when the application
    must sometimes choose the value). The rule applies to migrations and schema files alike.

    **Example.**

    ```sql
    -- a sequence with its own privileges, and a plain default
    CREATE TABLE orders (id bigserial PRIMARY KEY);
    -- the standard form
    CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
    ```
    """

    id = "prefer-identity"
    bases = frozenset(SERIAL_TYPES)
    severity = Severity.WARNING
    help = "Use bigint GENERATED ALWAYS AS IDENTITY (or BY DEFAULT) instead of a serial type."
    # Identity columns arrived in PostgreSQL 10: before it, serial is the only choice.
    pg_versions = PgVersions(minimum=10)

    def judge(self, column: ColumnType, context: StatementContext) -> str | None:
        """Flag a serial pseudo-type."""
        return (
            f"column {column.qualified_column} is {column.base}: its sequence is a separate"
            " object with its own owner and privileges, and rows inserted with explicit ids"
            " collide with the values it hands out later"
        )
