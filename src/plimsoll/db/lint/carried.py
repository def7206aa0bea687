"""What one migration leaves for the next ones in a lint run.

Migrations are linted in version order, and a migration often prepares what a later one
relies on: a CHECK constraint validated in one migration lets the next attach a partition or
set a column NOT NULL without a scan. :class:`Carried` is shared by the statement contexts of
one run's migrations and follows these facts statement by statement (the context feeds it
each statement after the rules have seen it). With a live database (``--env``) it starts from
that database's columns (:meth:`Carried.of_catalog`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plimsoll.db.sqljson import Node, strings, type_name, unwrap

if TYPE_CHECKING:
    from plimsoll.db.catalog import Catalog

# The types a serial column really has (as format_type prints them).
_SERIALS = {"smallserial": "smallint", "serial": "integer", "bigserial": "bigint"}
# ALTER TABLE subcommands that change what is known of a column.
_COLUMN_CHANGES = frozenset(
    {"AT_AddColumn", "AT_DropColumn", "AT_AlterColumnType", "AT_SetNotNull", "AT_DropNotNull"}
)
# Inline constraints that make a column NOT NULL.
_NOT_NULL = frozenset({"CONSTR_NOTNULL", "CONSTR_PRIMARY", "CONSTR_IDENTITY"})


@dataclass(frozen=True)
class ColumnFacts:
    """What the migrations linted so far say about a column: its type (as PostgreSQL prints
    it) and whether it is NOT NULL."""

    type: str
    not_null: bool


def not_null_columns(expression: object) -> list[str]:
    """The columns a CHECK expression proves non-null, as PostgreSQL 12+ proves them.

    ``c IS NOT NULL``, also written ``NOT (c IS NULL)`` or under more ``NOT``s (PostgreSQL
    folds the negations before it looks: checked with ``client_min_messages = debug1``), in
    an AND, or negated ORs (``NOT (a IS NULL OR b IS NULL)``).
    """
    return _proven(expression, negated=False)


def _proven(expression: object, *, negated: bool) -> list[str]:
    kind, node = unwrap(expression)
    if kind == "NullTest":
        wanted = "IS_NULL" if negated else "IS_NOT_NULL"
        arg_kind, arg = unwrap(node.get("arg"))
        if node.get("nulltesttype") == wanted and arg_kind == "ColumnRef":
            fields = strings(arg.get("fields"))
            return fields[-1:] if fields else []
        return []
    if kind != "BoolExpr":
        return []
    boolop = node.get("boolop")
    args: list[object] = node.get("args") or []
    if boolop == "NOT_EXPR":
        return _proven(args[0], negated=not negated) if len(args) == 1 else []
    # AND proves each part; NOT (a OR b) is NOT a AND NOT b.
    if boolop == ("OR_EXPR" if negated else "AND_EXPR"):
        out: list[str] = []
        for item in args:
            out.extend(_proven(item, negated=negated))
        return out
    return []


@dataclass
class Carried:
    """Facts about the live tables that the migrations linted so far established.

    ``checked``: tables given a validated CHECK constraint. ``not_null``: (table, column)
    pairs a validated ``CHECK (column IS NOT NULL)`` proves, or that are NOT NULL already.
    ``columns``: the columns of the tables the migrations created, as they left them (a
    table renamed or dropped is forgotten: unknown again), and with a live database those of
    its tables (``database`` is then set: what the database lacks, it does not have).
    """

    checked: set[str] = field(default_factory=set)
    not_null: set[tuple[str, str]] = field(default_factory=set)
    columns: dict[str, dict[str, ColumnFacts]] = field(default_factory=dict)
    # (table, constraint) -> the columns its CHECK proves non-null: added NOT VALID (pending)
    # or validated (proofs, taken back when the constraint is dropped).
    _pending: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    _proofs: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # (table, column) pairs NOT NULL by SET NOT NULL (dropping a CHECK does not undo them).
    _set_not_null: set[tuple[str, str]] = field(default_factory=set)
    database: bool = False

    @classmethod
    def of_catalog(cls, catalog: Catalog) -> Carried:
        """What a live database says of its tables' columns (its types as ``format_type``
        prints them, as the migrations' are)."""
        carried = cls(database=True)
        for table in catalog.all_tables(partitions=True):
            carried.columns[table.key] = {
                column.name: ColumnFacts(column.type, not column.nullable)
                for column in table.columns
            }
        return carried

    def __deepcopy__(self, memo: dict[int, Any]) -> Carried:
        # A down migration's copy: ColumnFacts are frozen, so each table's dict is copied and
        # its facts shared (a live database's thousands of columns copied cheaply).
        return Carried(
            checked=set(self.checked),
            not_null=set(self.not_null),
            columns={table: dict(columns) for table, columns in self.columns.items()},
            _pending={key: list(value) for key, value in self._pending.items()},
            _proofs={key: list(value) for key, value in self._proofs.items()},
            _set_not_null=set(self._set_not_null),
            database=self.database,
        )

    def proven_not_null(self, table: str, column: str) -> bool:
        """Whether ``table.column`` is known to hold no NULLs."""
        return (table, column) in self.not_null

    def column(self, table: str, column: str) -> ColumnFacts | None:
        """What is known of ``table.column`` (None: a table the migrations did not create)."""
        return self.columns.get(table, {}).get(column)

    def create_table(self, table: str, node: Node) -> None:
        """Take in a ``CREATE TABLE``'s columns (a table made again starts afresh)."""
        self.forget_table(table)
        keys: set[str] = set()
        for element in node.get("tableElts") or ():
            kind, item = unwrap(element)
            if kind == "ColumnDef":
                self._add_column(table, item)
            elif kind == "Constraint" and item.get("contype") == "CONSTR_PRIMARY":
                keys.update(strings(item.get("keys")))
        known = self.columns.get(table, {})
        for column in keys & known.keys():
            known[column] = ColumnFacts(known[column].type, True)

    def forget_table(self, table: str) -> None:
        """Forget ``table``'s columns (dropped or renamed: nothing known of it any more)."""
        self.columns.pop(table, None)

    def forget_column(self, table: str, column: str) -> None:
        """Forget one column (renamed)."""
        self.columns.get(table, {}).pop(column, None)

    def _add_column(self, table: str, definition: Node) -> None:
        name = definition.get("colname")
        type_node = definition.get("typeName")
        if not name or not type_node:
            return
        written = type_name(type_node)
        constraints = (unwrap(c)[1].get("contype") for c in definition.get("constraints") or ())
        not_null = written in _SERIALS or any(kind in _NOT_NULL for kind in constraints)
        facts = ColumnFacts(_SERIALS.get(written, written), not_null)
        self.columns.setdefault(table, {})[name] = facts

    def _alter_column(self, table: str, command: Node, subtype: str) -> None:
        name = command.get("name", "")
        columns = self.columns.get(table)
        known = columns.get(name) if columns is not None else None
        if subtype == "AT_AddColumn":
            if columns is not None:  # a table not made by the migrations stays unknown
                self._add_column(table, unwrap(command.get("def"))[1])
        elif columns is None or known is None:
            return
        elif subtype == "AT_DropColumn":
            del columns[name]
        elif subtype == "AT_AlterColumnType":
            type_node = unwrap(command.get("def"))[1].get("typeName")
            written = type_name(type_node) if type_node else known.type
            columns[name] = ColumnFacts(written, known.not_null)
        elif subtype in ("AT_SetNotNull", "AT_DropNotNull"):
            columns[name] = ColumnFacts(known.type, subtype == "AT_SetNotNull")

    def alter(self, table: str, command: Node) -> None:
        """Take in one ALTER TABLE subcommand on ``table``."""
        subtype = command.get("subtype")
        if subtype in _COLUMN_CHANGES:
            self._alter_column(table, command, subtype)
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
