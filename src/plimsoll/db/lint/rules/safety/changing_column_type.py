"""changing-column-type."""

from __future__ import annotations

import re
from collections.abc import Iterator

from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.safety._statement_parts import AlterCommand, AlterTableRule
from plimsoll.db.sqljson import Node, constant, strings, type_name

_ALTER_TYPE = frozenset({"AT_AlterColumnType"})


class ChangingColumnType(AlterTableRule):
    """Change column types on existing tables only when the change is binary-coercible.

    **Problem.** ``ALTER TABLE ... ALTER COLUMN c TYPE t`` takes an ACCESS EXCLUSIVE lock and,
    unless the old type is binary-coercible to the new one, rewrites the whole table and
    rebuilds every index that uses the column: reads and writes are blocked until it ends.

    **Why.** ``int`` to ``bigint``, ``text`` to ``varchar(n)``, ``char(n)`` to anything,
    ``numeric`` to a smaller scale: all rewrite, which on a large table is minutes of
    downtime. Some changes are free, only a catalog update: ``varchar(n)`` to a longer
    ``varchar(m)``, ``varchar`` to ``text`` (and back to an unbounded ``varchar``), a
    ``numeric`` precision increase at the same scale, a longer ``varbit``, a higher
    ``timestamp``/``time``/``interval`` precision, and (PostgreSQL 12+) ``timestamp`` to
    ``timestamptz`` when the session TimeZone is UTC. The old type is not in the statement:
    when an earlier migration of the same lint run made the column, its type is known and a
    free change is not reported (a costly one is, as such); otherwise the rule reports the
    change and says when the new type makes a free change likely. Clients reading the column
    may also break on the new type.

    **Fix.** For a real conversion: add a column of the new type, backfill it in batches,
    keep it in sync with a trigger, switch the application over, then drop the old column.
    For a free change, silence the finding with ``-- plimsoll: ignore changing-column-type``
    once you have checked the old type. A table created in the same migration is exempt.

    **Example.**

    ```sql
    -- rewrites orders
    ALTER TABLE orders ALTER COLUMN id TYPE bigint;
    -- free when note is varchar(n) with n <= 500 today
    ALTER TABLE orders ALTER COLUMN note TYPE varchar(500);
    ```
    """

    id = "changing-column-type"
    severity = Severity.WARNING
    version = "1.1.0"
    help = (
        "Add a column of the new type, backfill it in batches, switch over, then drop the old"
        " one (or check the change is binary-coercible)."
    )
    subtypes = _ALTER_TYPE

    def judge(self, command: AlterCommand) -> Iterator[Violation]:
        """Flag an ALTER COLUMN ... TYPE."""
        definition = command.definition
        column = command.name
        type_node = definition.get("typeName") or {}
        written = type_name(type_node)
        message = (
            f"ALTER COLUMN {column} TYPE {written} on {command.table} rewrites the table and"
            " rebuilds its indexes under an ACCESS EXCLUSIVE lock: reads and writes are"
            " blocked until it ends"
        )
        using = definition.get("raw_default")
        known = command.context.carried.column(command.table, column)
        if known is not None and not using and not _timestamps(known.type, written):
            # An earlier migration made the column: its type now is known, so is the answer.
            from plimsoll.db.risk.type_changes import binary_coercible

            if binary_coercible(known.type, written):
                return  # no rewrite: only a brief lock, which the timeout rules are about
            message += f" ({known.type} to {written} is not binary-coercible)"
        else:
            hint = None if using else _likely_free(type_node, column)
            if hint:
                message += f" ({column}'s type today is not in the linted migrations: {hint})"
        yield Violation(message, location=definition.get("location"))


def _timestamps(old: str, new: str) -> bool:
    """timestamp <-> timestamptz: whether it rewrites depends on the session's TimeZone."""
    zones = {re.sub(r"\(\d+\)", "", t) for t in (old, new)}
    return zones == {"timestamp without time zone", "timestamp with time zone"}


def _likely_free(type_node: Node, column: str) -> str | None:
    """When changing ``column`` to this type is a catalog-only change, in words."""
    names = strings(type_node.get("names"))
    if not names or (len(names) > 1 and names[-2] != "pg_catalog"):
        return None
    base = names[-1]
    mods = [constant(m) for m in type_node.get("typmods") or ()]
    if any(m is None for m in mods):
        return None
    if base == "text" or (base == "varchar" and not mods):
        return f"no rewrite when {column} is varchar or text today"
    if base == "varchar":
        return f"no rewrite when {column} is varchar(n) with n <= {mods[0]} today"
    if base == "numeric":
        if not mods:
            return f"no rewrite when {column} is numeric today"
        scale = mods[1] if len(mods) > 1 else 0
        return (
            f"no rewrite when {column} is numeric(p, {scale}) with p <= {mods[0]} today"
            " (same scale)"
        )
    if base == "varbit":
        if not mods:
            return f"no rewrite when {column} is bit varying today"
        return f"no rewrite when {column} is bit varying(n) with n <= {mods[0]} today"
    if base == "timestamptz":
        return (
            f"no rewrite when {column} is timestamptz of lower precision, or timestamp and the"
            " session TimeZone is UTC (PostgreSQL 12+)"
        )
    if base in ("timestamp", "time", "timetz", "interval") and mods:
        return f"no rewrite when only the precision of {column} grows"
    return None
