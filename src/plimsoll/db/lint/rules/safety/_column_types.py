"""Which column types a statement declares, and the rules about them.

Shared by the type rules of this folder (``prefer-identity``, ``prefer-bigint-over-int``,
``prefer-bigint-over-smallint``, ``prefer-text-field``, ``ban-char-field``,
``prefer-timestamp-tz``, ``prefer-jsonb``): the columns of ``CREATE TABLE``, ``ADD COLUMN``
and ``ALTER COLUMN ... TYPE``, with the type's name reduced to the ``pg_catalog`` name it
resolves to (``int`` and ``integer`` are ``int4``; ``serial`` stays ``serial``).

The columns of a statement are read once, for every type rule (the rules ask about the same
statement one after the other), and only the columns whose type some rule looks at become
:class:`ColumnType` objects. Reading a large schema's parse tree is most of the cost of these
rules, so the walk touches as few nodes as it can.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement, Node, strings, type_name, unwrap

# Column constraints that make a column a key, or part of one.
_KEY_CONSTRAINTS = frozenset(
    {"CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_FOREIGN", "CONSTR_IDENTITY"}
)
_SERIALS = frozenset({"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"})
_NO_KEYS: frozenset[str] = frozenset()
# Every base type name some ColumnTypeRule looks at (each subclass adds its ``bases``).
_WATCHED: set[str] = set()
_ALTERED_COLUMNS = {"AT_AddColumn": "add", "AT_AlterColumnType": "alter"}


# Not frozen: a wide schema builds thousands of these, and a frozen dataclass is slow to build.
@dataclass(slots=True)
class ColumnType:
    """One column type a statement declares.

    ``base`` is the type's name as ``pg_catalog`` knows it (``int4``, ``varchar``,
    ``timestamp``, ``serial``), or ``""`` for a type in another schema (a user type that only
    shares a name). ``how`` is ``create`` (a column of ``CREATE TABLE``), ``add`` (``ADD
    COLUMN``) or ``alter`` (``ALTER COLUMN ... TYPE``). ``definition`` is the ColumnDef node
    and ``keyed`` the columns that the statement's table constraints make keys.
    """

    table: str
    column: str
    base: str
    type_node: Node
    definition: Node
    how: str
    keyed: frozenset[str]

    @property
    def location(self) -> int | None:
        """The byte offset of the type (of the column when the type has none)."""
        location = self.type_node.get("location", self.definition.get("location", -1))
        return location if isinstance(location, int) and location >= 0 else None

    @property
    def written(self) -> str:
        """The type as PostgreSQL prints it (``character varying(40)``)."""
        return type_name(self.type_node)

    @property
    def modifiers(self) -> list[Any]:
        """The type's modifiers (``varchar(40)``: one), as tree nodes."""
        return list(self.type_node.get("typmods") or ())

    @property
    def qualified_column(self) -> str:
        """``schema.table.column``."""
        return f"{self.table}.{self.column}" if self.column else self.table

    @property
    def key(self) -> bool:
        """Whether the column is a key, or named like one.

        It is when it has a PRIMARY KEY, UNIQUE, REFERENCES or identity constraint, is listed
        in a table constraint of those kinds in the same statement, is a serial, or is named
        ``id`` or ``..._id``.
        """
        return (
            self.column in self.keyed
            or self.base in _SERIALS
            or looks_like_key(self.column)
            or any(
                unwrap(c)[1].get("contype") in _KEY_CONSTRAINTS
                for c in self.definition.get("constraints") or ()
            )
        )


def base_name(type_node: Node | None) -> str:
    """The ``pg_catalog`` name of a TypeName (``int4`` for ``integer``), ``""`` if elsewhere."""
    names = type_node.get("names") if type_node else None
    if not names:
        return ""
    # The hot path of every type rule: read the String nodes directly.
    last = names[-1].get("String")
    if last is None:
        return ""
    if len(names) > 1:
        schema = names[-2].get("String")
        if schema is None or schema.get("sval") != "pg_catalog":
            return ""
    sval: str = last.get("sval", "")
    return sval


def looks_like_key(column: str) -> bool:
    """Whether a column's name says it holds an identifier: ``id`` or ``..._id``."""
    lowered = column.lower()
    return lowered == "id" or lowered.endswith("_id")


ColumnsByBase = dict[str, list[ColumnType]]

# The last statement read and its column types: the type rules ask about the same statement
# one after the other, so one slot saves reading a wide CREATE TABLE once per rule.
_last: tuple[JsonStatement | None, str, ColumnsByBase] = (None, "", {})


def column_types(statement: JsonStatement, context: StatementContext) -> ColumnsByBase:
    """The column types ``statement`` declares, by base name, for CREATE and ALTER TABLE.

    Only the base names some :class:`ColumnTypeRule` looks at are kept. Composite types
    (``ALTER TYPE``) and foreign tables are not tables that hold the service's rows, and are
    left out.
    """
    global _last
    cached, schema, found = _last
    if cached is statement and schema == context.default_schema:
        return found
    if statement.kind == "CreateStmt":
        found = _created(statement.node, context)
    elif statement.kind == "AlterTableStmt" and statement.node.get("objtype") == "OBJECT_TABLE":
        found = _altered(statement.node, context)
    else:
        found = {}
    _last = (statement, context.default_schema, found)
    return found


def _created(node: Node, context: StatementContext) -> ColumnsByBase:
    """The watched column types of a CREATE TABLE."""
    watched = _WATCHED
    keyed: set[str] = set()
    definitions = []
    # The hot loop of a schema file (every column of every table), written out: each node it
    # touches is a cache miss on a large tree, and most columns are passed over at once.
    for element in node.get("tableElts") or ():
        inner = element.get("ColumnDef")
        if inner is not None:
            # PARTITION OF / OF type: options for inherited columns, without a type.
            type_node = inner.get("typeName")
            names = type_node.get("names") if type_node else None
            if names:
                last = names[-1].get("String")
                if last is not None and last.get("sval") in watched:
                    definitions.append((inner, type_node))
            continue
        inner = element.get("Constraint")
        if inner is not None and inner.get("contype") in _KEY_CONSTRAINTS:
            keyed.update(strings(inner.get("keys")))
            keyed.update(strings(inner.get("fk_attrs")))
    found: ColumnsByBase = {}
    if not definitions:
        return found
    table = context.key(node.get("relation"))
    frozen = frozenset(keyed)
    for inner, type_node in definitions:
        base = base_name(type_node)
        if base:
            column = ColumnType(
                table, inner.get("colname", ""), base, type_node, inner, "create", frozen
            )
            found.setdefault(base, []).append(column)
    return found


def _altered(node: Node, context: StatementContext) -> ColumnsByBase:
    """The watched column types of an ALTER TABLE's ADD COLUMN and ALTER COLUMN ... TYPE."""
    found: ColumnsByBase = {}
    table = ""
    for command in node.get("cmds") or ():
        _, cmd = unwrap(command)
        how = _ALTERED_COLUMNS.get(cmd.get("subtype", ""))
        if how is None:
            continue
        _, definition = unwrap(cmd.get("def"))
        type_node = definition.get("typeName")
        base = base_name(type_node)
        if not base or base not in _WATCHED or type_node is None:
            continue
        column = definition.get("colname", "") if how == "add" else cmd.get("name", "")
        table = table or context.key(node.get("relation"))
        found.setdefault(base, []).append(
            ColumnType(table, column, base, type_node, definition, how, _NO_KEYS)
        )
    return found


class ColumnTypeRule(StatementRule):
    """A rule about the declared type of columns, the same in migrations and schema files.

    Subclasses list the base type names they look at in ``bases`` and say what is wrong with
    one :class:`ColumnType` of those in :meth:`judge` (a message, or None when it is fine);
    the finding points at the type.
    """

    node_types: ClassVar[tuple[str, ...]] = ("CreateStmt", "AlterTableStmt")
    bases: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _WATCHED.update(cls.bases)

    def check(self, statement: JsonStatement, context: StatementContext) -> Sequence[Violation]:
        """Judge every column of the statement whose type is one of ``bases``."""
        # A plain function, not a generator: the engine asks every type rule about every
        # CREATE and ALTER TABLE, and most of them have nothing to say.
        by_base = column_types(statement, context)
        if not by_base:
            return ()
        bases = self.bases
        found = []
        for base, columns in by_base.items():
            if base in bases:
                for column in columns:
                    message = self.judge(column, context)
                    if message is not None:
                        found.append(Violation(message, location=column.location))
        return found

    @abstractmethod
    def judge(self, column: ColumnType, context: StatementContext) -> str | None:
        """What is wrong with ``column``'s type (one of ``bases``), or None."""


class NarrowIntegerRule(ColumnTypeRule):
    """A rule against an integer type narrower than bigint, for columns that can grow.

    ``limit`` is the type's largest value, as the message says it; with the option
    ``only_keys`` (see :func:`only_keys_options`), only keys and ids are judged.
    """

    limit: ClassVar[str]

    def judge(self, column: ColumnType, context: StatementContext) -> str | None:
        """Flag a column of the narrow type (only keys and ids with ``only_keys``)."""
        if self.options.only_keys and not column.key:
            return None
        return (
            f"column {column.qualified_column} is {column.written}: its values stop at"
            f" {self.limit}, and widening it later rewrites the table under an ACCESS"
            " EXCLUSIVE lock"
        )


def only_keys_options(kind: str) -> type[BaseModel]:
    """The options of a :class:`NarrowIntegerRule` about ``kind`` columns (``integer``)."""

    class Options(BaseModel):
        """What the rule can be told."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
        only_keys: bool = Field(
            default=False,
            description=(
                "Flag only keys and ids (PRIMARY KEY, UNIQUE, REFERENCES, identity, serial,"
                f" named id or ..._id), not every {kind} column."
            ),
        )

    return Options
