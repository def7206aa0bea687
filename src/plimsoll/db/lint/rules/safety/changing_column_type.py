"""changing-column-type."""

from __future__ import annotations

import re
from collections.abc import Iterator

from plimsoll.db.lint.context import StatementContext
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
    ``timestamptz`` when the session TimeZone is UTC, and a domain to the type it is based on
    (``CREATE DOMAIN email AS text``: ``email`` to ``text`` or ``varchar``), while a change
    *to* a domain with constraints checks every value and rewrites. The old type is not in
    the statement: with ``--env`` the live database says it, and when an earlier migration of
    the same lint run made or changed the column, that migration does; a free change is then
    not reported (a costly one is, as such). Otherwise the rule reports the change and says
    when the new type makes a free change likely. Clients reading the column may also break
    on the new type.

    **Fix.** For a real conversion: add a column of the new type, backfill it in batches,
    keep it in sync with a trigger, switch the application over, then drop the old column.
    For a free change that the rule cannot see (no ``--env``), lint with ``--env`` or silence
    the finding with ``-- plimsoll: ignore changing-column-type because ...`` once you have
    checked the old type. A table created in the same migration is exempt.

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
    version = "1.2.0"
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
        context = command.context
        carried = context.carried
        known = carried.column(command.table, column)
        if using:
            pass  # USING computes every value anew: a rewrite whatever the types
        elif known is not None and not _timestamps(known.type, written):
            # The live database, or an earlier migration, says the type now: so is the answer.
            why = _rewrites(known.type, type_node, written, context)
            if why is None:
                return  # no rewrite: only a brief lock, which the timeout rules are about
            message += f" ({why})"
        else:
            hint = _likely_free(type_node, column)
            if known is not None:
                where = f"{column} is {known.type} today"
            elif not carried.database:
                where = f"{column}'s type today is not in the linted migrations"
            elif command.table in carried.columns:
                where = f"the database has no column {column} on {command.table}"
            else:
                where = f"the database has no table {command.table}"
            if hint or (known is None and carried.database):
                message += f" ({where}{': ' + hint if hint else ''})"
        yield Violation(message, location=definition.get("location"))


def _rewrites(old: str, type_node: Node, written: str, context: StatementContext) -> str | None:
    """Why changing a column of type ``old`` to ``written`` rewrites the table, or None when it
    does not: a domain is its base type's values, and a domain with constraints checks them
    all."""
    from plimsoll.db.risk.type_changes import binary_coercible

    known, schema = context.known, context.default_schema
    target = known.domain(type_node, schema)
    if target is not None:
        key, _ = target
        if known.constrained(key, schema):
            return f"{written} is a domain with constraints: every value is checked and written"
    old_base = known.base_type(old, schema)
    new_base = known.base_type(written, schema) if target is not None else written
    if old == written or binary_coercible(old_base, new_base):
        return None
    shown = old if old_base == old else f"{old} (a domain over {old_base})"
    return f"{shown} to {written} is not binary-coercible"


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
