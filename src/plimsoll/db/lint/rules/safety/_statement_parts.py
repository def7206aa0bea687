"""Where the parts of a statement are, and which column types it declares.

Shared by the safety rules of this folder. Two questions come up again and again:

* where a subcommand of ``ALTER TABLE`` (or the ``RENAME`` of a ``RenameStmt``) starts. The
  parse tree gives no location for an ``AlterTableCmd``, yet a finding should point at the
  ``DROP COLUMN`` on the third line of a long statement, not at its ``ALTER``. The statement
  is scanned with PostgreSQL's own lexer, only when a rule has something to report, so the
  cost is paid per finding and never per statement;
* which column types a statement declares: the columns of ``CREATE TABLE``, ``ADD COLUMN`` and
  ``ALTER COLUMN ... TYPE``, with the type's name reduced to the ``pg_catalog`` name it
  resolves to (``int`` and ``integer`` are ``int4``; ``serial`` stays ``serial``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pglast.parser

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement, Node, strings, type_name, unwrap

# Tokens that open and close a nesting level: a comma inside them does not end a subcommand
# (``numeric(10,2)``, ``UNIQUE (a, b)``, ``DEFAULT ARRAY[1, 2]``).
_OPEN = frozenset({"ASCII_40", "ASCII_91"})
_CLOSE = frozenset({"ASCII_41", "ASCII_93"})
_COMMA = "ASCII_44"
_DOT = "ASCII_46"
_STAR = "ASCII_42"
# The lexer reports comments as tokens; they belong to no subcommand.
_COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})


@dataclass(frozen=True, slots=True)
class Span:
    """A part of the file, in byte offsets: ``start`` included, ``end`` excluded."""

    start: int
    end: int


def command_spans(
    statement: JsonStatement, context: StatementContext, relation: Node | None
) -> list[Span]:
    """The spans of the subcommands that follow ``relation``'s name in ``statement``.

    For ``ALTER TABLE s.t ADD COLUMN c int, DROP COLUMN d`` that is ``ADD COLUMN c int`` and
    ``DROP COLUMN d``, in the order of the tree's ``cmds``; for a ``RenameStmt`` it is the
    one span from ``RENAME`` to the end. Empty when the relation's name cannot be found (the
    caller then points at the statement).
    """
    if not relation:
        return []
    text = context.text(statement)
    data = context.script.data
    base = statement.start
    location = relation.get("location", -1)
    if not isinstance(location, int) or location < base:
        return []
    # The lexer counts characters; the tree and the findings count bytes.
    name_at = len(data[base:location].decode("utf-8", "replace"))
    try:
        tokens = [t for t in pglast.parser.scan(text) if t.name not in _COMMENTS]
    except Exception:  # noqa: BLE001 - the statement parsed, so this is not expected
        return []
    index = next((i for i, token in enumerate(tokens) if token.start >= name_at), len(tokens))
    index += 1  # past the first part of the name
    while index + 1 < len(tokens) and tokens[index].name == _DOT:
        index += 2  # past ``.name``
    if index < len(tokens) and tokens[index].name == _STAR:
        index += 1  # ``ALTER TABLE t* ...``: descendants included
    if index >= len(tokens):
        return []
    # Each subcommand runs from its first token to its last one before a comma at depth 0.
    bounds: list[list[int]] = []
    depth = 0
    fresh = True
    for token in tokens[index:]:
        name = token.name
        if name == _COMMA and depth == 0:
            fresh = True
            continue
        if name in _OPEN:
            depth += 1
        elif name in _CLOSE:
            depth -= 1
        if fresh:
            bounds.append([token.start, token.end + 1])
            fresh = False
        else:
            bounds[-1][1] = token.end + 1

    def to_bytes(char_offset: int) -> int:
        return base + len(text[:char_offset].encode("utf-8"))

    return [Span(to_bytes(start), to_bytes(end)) for start, end in bounds]


def command_location(
    statement: JsonStatement, context: StatementContext, relation: Node | None, index: int
) -> int | None:
    """The byte offset of subcommand ``index`` (see :func:`command_spans`), or None."""
    spans = command_spans(statement, context, relation)
    return spans[index].start if index < len(spans) else None


def span_text(context: StatementContext, span: Span, limit: int = 60) -> str:
    """The text of ``span`` on one line, cut to ``limit`` characters."""
    raw = context.script.data[span.start : span.end].decode("utf-8", "replace")
    flat = " ".join(raw.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


# --- column types -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
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


# Column constraints that make a column a key, or part of one.
_KEY_CONSTRAINTS = frozenset(
    {"CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_FOREIGN", "CONSTR_IDENTITY"}
)
_SERIALS = frozenset({"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"})
_NO_KEYS: frozenset[str] = frozenset()
# Every base type name some ColumnTypeRule looks at (each subclass adds its ``bases``).
_WATCHED: set[str] = set()


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
    return last.get("sval", "")


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

    Composite types (``ALTER TYPE``) and foreign tables are not tables that hold the
    service's rows, and are left out.
    """
    global _last
    cached, schema, found = _last
    if cached is statement and schema == context.default_schema:
        return found
    found = {}
    for column in _read_column_types(statement, context):
        found.setdefault(column.base, []).append(column)
    _last = (statement, context.default_schema, found)
    return found


def _read_column_types(statement: JsonStatement, context: StatementContext) -> Iterator[ColumnType]:
    # Only the types some rule looks at become ColumnType objects: on a wide schema most
    # columns are bigint, text or timestamptz, and are passed over after one lookup.
    watched = _WATCHED
    node = statement.node
    if statement.kind == "CreateStmt":
        elements = node.get("tableElts") or ()
        keyed: set[str] = set()
        definitions = []
        for element in elements:
            inner = element.get("ColumnDef")
            if inner is not None:
                type_node = inner.get("typeName")
                # PARTITION OF / OF type: options for inherited columns, without a type.
                if type_node and _last_name(type_node) in watched:
                    definitions.append((inner, type_node))
                continue
            inner = element.get("Constraint")
            if inner is not None and inner.get("contype") in _KEY_CONSTRAINTS:
                keyed.update(strings(inner.get("keys")))
                keyed.update(strings(inner.get("fk_attrs")))
        if not definitions:
            return
        table = context.key(node.get("relation"))
        frozen = frozenset(keyed)
        for inner, type_node in definitions:
            base = base_name(type_node)
            if base:
                column = inner.get("colname", "")
                yield ColumnType(table, column, base, type_node, inner, "create", frozen)
    elif statement.kind == "AlterTableStmt" and node.get("objtype") == "OBJECT_TABLE":
        table = context.key(node.get("relation"))
        for command in node.get("cmds") or ():
            _, cmd = unwrap(command)
            subtype = cmd.get("subtype")
            if subtype not in ("AT_AddColumn", "AT_AlterColumnType"):
                continue
            _, definition = unwrap(cmd.get("def"))
            type_node = definition.get("typeName")
            base = base_name(type_node)
            if not base or base not in watched or type_node is None:
                continue
            if subtype == "AT_AddColumn":
                column, how = definition.get("colname", ""), "add"
            else:
                column, how = cmd.get("name", ""), "alter"
            yield ColumnType(table, column, base, type_node, definition, how, _NO_KEYS)


def _last_name(type_node: Node) -> str:
    names = type_node.get("names")
    if not names:
        return ""
    last = names[-1].get("String")
    return "" if last is None else last.get("sval", "")


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

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Judge every column of the statement whose type is one of ``bases``."""
        by_base = column_types(statement, context)
        for base in self.bases:
            for column in by_base.get(base, ()):
                message = self.judge(column, context)
                if message is not None:
                    yield Violation(message, location=column.location)

    def judge(self, column: ColumnType, context: StatementContext) -> str | None:
        """What is wrong with ``column``'s type (one of ``bases``), or None."""
        raise NotImplementedError
