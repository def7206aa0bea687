"""What one migration leaves for the next ones in a lint run.

Migrations are linted in version order, and a migration often prepares what a later one
relies on: a CHECK constraint validated in one migration lets the next attach a partition or
set a column NOT NULL without a scan. :class:`Carried` is shared by the statement contexts of
one run's migrations and follows these facts statement by statement (the context feeds it
each statement after the rules have seen it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plimsoll.db.sqljson import Node, strings, unwrap


def not_null_columns(expression: object) -> list[str]:
    """The columns a CHECK expression proves non-null: ``c IS NOT NULL`` (also in an AND)."""
    kind, node = unwrap(expression)
    if kind == "NullTest" and node.get("nulltesttype") == "IS_NOT_NULL":
        arg_kind, arg = unwrap(node.get("arg"))
        if arg_kind == "ColumnRef":
            fields = strings(arg.get("fields"))
            return fields[-1:] if fields else []
        return []
    if kind == "BoolExpr" and node.get("boolop") == "AND_EXPR":
        out: list[str] = []
        for item in node.get("args") or ():
            out.extend(not_null_columns(item))
        return out
    return []


@dataclass
class Carried:
    """Facts about the live tables that the migrations linted so far established.

    ``checked``: tables given a validated CHECK constraint. ``not_null``: (table, column)
    pairs a validated ``CHECK (column IS NOT NULL)`` proves, or that are NOT NULL already.
    """

    checked: set[str] = field(default_factory=set)
    not_null: set[tuple[str, str]] = field(default_factory=set)
    # (table, constraint) -> the columns its CHECK proves non-null: added NOT VALID (pending)
    # or validated (proofs, taken back when the constraint is dropped).
    _pending: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    _proofs: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # (table, column) pairs NOT NULL by SET NOT NULL (dropping a CHECK does not undo them).
    _set_not_null: set[tuple[str, str]] = field(default_factory=set)

    def proven_not_null(self, table: str, column: str) -> bool:
        """Whether ``table.column`` is known to hold no NULLs."""
        return (table, column) in self.not_null

    def alter(self, table: str, command: Node) -> None:
        """Take in one ALTER TABLE subcommand on ``table``."""
        subtype = command.get("subtype")
        if subtype == "AT_AddConstraint":
            _, constraint = unwrap(command.get("def"))
            if constraint.get("contype") != "CONSTR_CHECK":
                return
            name = constraint.get("conname") or ""
            columns = not_null_columns(constraint.get("raw_expr"))
            if constraint.get("skip_validation"):
                # NOT ENFORCED (PostgreSQL 18) leaves ``is_enforced`` out: it proves nothing.
                if name and columns and constraint.get("is_enforced"):
                    self._pending[(table, name)] = columns
                return
            self.checked.add(table)
            if name:
                self._proofs[(table, name)] = columns
            self._prove(table, columns)
        elif subtype == "AT_ValidateConstraint":
            self.checked.add(table)
            name = command.get("name", "")
            columns = self._pending.pop((table, name), [])
            if columns:
                self._proofs[(table, name)] = columns
                self._prove(table, columns)
        elif subtype == "AT_DropConstraint":
            name = command.get("name", "")
            self._pending.pop((table, name), None)
            for column in self._proofs.pop((table, name), []):
                if (table, column) not in self._set_not_null:
                    self.not_null.discard((table, column))
        elif subtype == "AT_SetNotNull":
            pair = (table, command.get("name", ""))
            self._set_not_null.add(pair)
            self.not_null.add(pair)
        elif subtype == "AT_DropNotNull":
            pair = (table, command.get("name", ""))
            self._set_not_null.discard(pair)
            self.not_null.discard(pair)

    def _prove(self, table: str, columns: list[str]) -> None:
        for column in columns:
            self.not_null.add((table, column))
