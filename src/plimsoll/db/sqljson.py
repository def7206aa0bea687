"""Fast parsing into PostgreSQL's JSON parse tree, for the linter and the DDL catalog builder.

``plimsoll.db.sql`` gives each statement pglast's Python AST, which is what the migrator needs
but costs about six times more than the parse itself on a large script. Reading a whole schema
only needs the tree as plain data: pglast's ``parse_sql_json`` runs PostgreSQL's parser once
and hands back the tree as JSON, which ``json.loads`` turns into dicts and lists in a fraction
of the time. Every node is a one-key dict ``{"NodeType": {fields}}``; fields at their default
value (false, zero, empty) are left out by the parser, so read them with ``.get``.

Locations in the tree are byte offsets into the UTF-8 text; :class:`JsonScript` maps them to
lines and character columns.
"""

from __future__ import annotations

import bisect
import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pglast.parser

from plimsoll.db.sql import SqlSyntaxError

Node = dict[str, Any]

# pg_catalog type names as PostgreSQL's format_type prints them.
_TYPE_NAMES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "int": "integer",
    "integer": "integer",
    "smallint": "smallint",
    "bigint": "bigint",
    "float4": "real",
    "float8": "double precision",
    "real": "real",
    "bool": "boolean",
    "boolean": "boolean",
    "varchar": "character varying",
    "bpchar": "character",
    "char": "character",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "interval": "interval",
    "numeric": "numeric",
    "decimal": "numeric",
    "bit": "bit",
    "varbit": "bit varying",
}
# The serial pseudo-types: the integer type each one creates, with a sequence default.
SERIAL_TYPES = {
    "serial": "integer",
    "serial4": "integer",
    "bigserial": "bigint",
    "serial8": "bigint",
    "smallserial": "smallint",
    "serial2": "smallint",
}


@dataclass(slots=True)
class JsonStatement:
    """One statement: its node type, its fields, and where it is in the script (bytes)."""

    kind: str
    node: Node
    start: int
    length: int
    index: int


@dataclass
class JsonScript:
    """A parsed script: its statements and the mapping from byte offsets to lines and columns."""

    source: str
    text: str
    data: bytes
    statements: list[JsonStatement]
    _line_starts: list[int] = field(default_factory=list, repr=False)

    def __iter__(self) -> Iterator[JsonStatement]:
        return iter(self.statements)

    def __len__(self) -> int:
        return len(self.statements)

    def line_column(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, character column) of byte ``offset``."""
        if not self._line_starts:
            starts = [0]
            find = self.data.find
            position = find(b"\n")
            while position >= 0:
                starts.append(position + 1)
                position = find(b"\n", position + 1)
            self._line_starts = starts
        offset = max(0, min(offset, len(self.data)))
        line = bisect.bisect_right(self._line_starts, offset)
        begin = self._line_starts[line - 1]
        prefix = self.data[begin:offset]
        column = len(prefix) if prefix.isascii() else len(prefix.decode("utf-8", "replace"))
        return line, column + 1

    def statement_text(self, statement: JsonStatement) -> str:
        """The text of ``statement``, from its first token to its last (no semicolon)."""
        raw = self.data[statement.start : statement.start + statement.length]
        return raw.decode("utf-8", "replace")

    def gap_before(self, statement: JsonStatement) -> str:
        """The text between the previous statement's end and ``statement``'s start.

        That is where comments about the statement sit (``-- plimsoll: ignore ...``).
        """
        if statement.index == 0:
            begin = 0
        else:
            previous = self.statements[statement.index - 1]
            begin = previous.start + previous.length
        return self.data[begin : statement.start].decode("utf-8", "replace")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while large, acyclic parse trees are built and read."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_json(text: str, source: str = "<string>") -> JsonScript:
    """Parse ``text`` into its statements' JSON trees; raise SqlSyntaxError (file:line:column).

    A script of only comments and whitespace has no statements.
    """
    if "\x00" in text:
        index = text.index("\x00")
        raise SqlSyntaxError(
            source, text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index), "NUL"
        )
    try:
        raw = pglast.parser.parse_sql_json(text)
    except pglast.parser.ParseError as exc:
        reason = str(exc.args[0]) if exc.args else str(exc)
        at = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        # "at end of input" has no position: report just after the last token.
        index = len(text.rstrip()) if at is None else at
        line = text.count("\n", 0, index) + 1
        raise SqlSyntaxError(source, line, index - text.rfind("\n", 0, index), reason) from None
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        column = exc.start - text.rfind("\n", 0, exc.start)
        raise SqlSyntaxError(source, line, column, "text is not valid Unicode") from None
    # The tree is millions of small dicts with no cycles: the cyclic collector would walk them
    # again and again while they are built (most of the time on a large file), for nothing.
    with gc_paused():
        tree = json.loads(raw)
        data = text.encode("utf-8")
        statements: list[JsonStatement] = []
        for raw_statement in tree.get("stmts", ()):
            wrapper = raw_statement.get("stmt")
            if not wrapper:
                continue
            ((kind, node),) = wrapper.items()
            start = raw_statement.get("stmt_location", 0)
            length = raw_statement.get("stmt_len") or (len(data) - start)
            start, length = _trim(data, start, length)
            statements.append(JsonStatement(kind, node, start, length, len(statements)))
    return JsonScript(source, text, data, statements)


def _trim(data: bytes, start: int, length: int) -> tuple[int, int]:
    """The span moved past leading whitespace and comments (older parsers keep them)."""
    end = start + length
    while start < end:
        byte = data[start]
        if byte in b" \t\r\n\f\v":
            start += 1
        elif data.startswith(b"--", start):
            newline = data.find(b"\n", start, end)
            start = end if newline < 0 else newline + 1
        elif data.startswith(b"/*", start):
            close = data.find(b"*/", start + 2, end)
            start = end if close < 0 else close + 2
        else:
            break
    while end > start and data[end - 1] in b" \t\r\n\f\v;":
        end -= 1
    return start, end - start


# --- reading the tree ---------------------------------------------------------------------


def unwrap(wrapper: Any) -> tuple[str, Node]:
    """``{"Type": {fields}}`` as ``("Type", fields)``; ``("", {})`` for anything else."""
    if isinstance(wrapper, dict) and len(wrapper) == 1:
        ((kind, node),) = wrapper.items()
        if isinstance(node, dict):
            return kind, node
    return "", {}


def strings(items: Any) -> list[str]:
    """The texts of a list of ``String`` nodes (a qualified name, a type name)."""
    out: list[str] = []
    for item in items or ():
        kind, node = unwrap(item)
        if kind == "String":
            out.append(node.get("sval", ""))
    return out


def relation_key(range_var: Node | None, default_schema: str = "public") -> str:
    """The ``schema.name`` key of a RangeVar (its schema defaulting to ``default_schema``)."""
    if not range_var:
        return ""
    schema = range_var.get("schemaname") or default_schema
    return f"{schema}.{range_var.get('relname', '')}"


def name_key(names: Any, default_schema: str = "public") -> str:
    """The ``schema.name`` key of a dotted name given as a list of String nodes."""
    parts = strings(names)
    if not parts:
        return ""
    if len(parts) == 1:
        return f"{default_schema}.{parts[0]}"
    return f"{parts[-2]}.{parts[-1]}"


def _modifier(item: Any) -> str:
    kind, node = unwrap(item)
    if kind == "A_Const":
        for key in ("ival", "sval", "fval"):
            if key in node:
                value = node[key]
                return str(next(iter(value.values()), 0) if isinstance(value, dict) else value)
        return "0"  # ival 0 is left out of the JSON
    if kind == "ColumnRef":
        return ".".join(strings(node.get("fields")))
    return "?"


def type_name(type_node: Node | None) -> str:
    """A TypeName as PostgreSQL's ``format_type`` prints it (``character varying(40)``).

    Serial pseudo-types are returned as written (``serial``): what they become is the caller's
    business (see :data:`SERIAL_TYPES`). Names outside ``pg_catalog`` keep their schema when
    one was written.
    """
    if not type_node:
        return ""
    names = strings(type_node.get("names"))
    if not names:
        return ""
    base = names[-1]
    qualified = len(names) > 1 and names[-2] != "pg_catalog"
    mods = [_modifier(m) for m in type_node.get("typmods") or ()]
    if qualified:
        text = f"{names[-2]}.{base}"
    elif base in ("timestamp", "timestamptz", "time", "timetz") and mods:
        zone = " with time zone" if base.endswith("tz") else " without time zone"
        text = f"{base.removesuffix('tz')}({mods[0]}){zone}"
        mods = []
    elif base == "interval" and mods:
        text = "interval"  # interval field masks are rare in schemas; the precision is kept
        mods = mods[-1:]
    else:
        text = _TYPE_NAMES.get(base, base)
    if mods:
        text += "(" + ",".join(mods) + ")"
    if base == "bpchar" and not mods and len(names) > 1:
        text = "character(1)"  # char without a length is char(1)
    bounds = type_node.get("arrayBounds")
    if bounds:
        text += "[]" * len(bounds)
    return text


def walk(node: Any) -> Iterator[tuple[str, Node]]:
    """Every ``{"Type": {fields}}`` node under ``node`` (itself included), depth first."""
    stack = [node]
    pop = stack.pop
    push = stack.append
    while stack:
        item = pop()
        if isinstance(item, dict):
            if len(item) == 1:
                ((kind, inner),) = item.items()
                if isinstance(inner, dict):
                    yield kind, inner
                    push(inner)
                    continue
            for value in item.values():
                if isinstance(value, (dict, list)):
                    push(value)
        elif isinstance(item, list):
            stack.extend(reversed(item))


def function_name(func_call: Node) -> str:
    """A FuncCall's function name, lower-case, without ``pg_catalog.``."""
    names = strings(func_call.get("funcname"))
    if len(names) > 1 and names[0] == "pg_catalog":
        names = names[1:]
    return ".".join(names).lower()


def def_options(options: Any) -> dict[str, Any]:
    """A list of DefElem nodes as ``{name: arg node}`` (a missing arg as None)."""
    out: dict[str, Any] = {}
    for item in options or ():
        kind, node = unwrap(item)
        if kind == "DefElem":
            out[node.get("defname", "")] = node.get("arg")
    return out


def constant(node: Any) -> Any:
    """The Python value of an ``A_Const`` (or a String/Integer node); None when not a constant."""
    kind, inner = unwrap(node)
    if kind == "A_Const":
        if inner.get("isnull"):
            return None
        for key, value in inner.items():
            if key in ("ival", "fval", "sval", "boolval", "bsval"):
                if isinstance(value, dict):
                    return next(iter(value.values()), _ZERO[key])
                return value
        return 0  # an integer zero: the parser leaves the value out
    if kind == "String":
        return inner.get("sval", "")
    if kind == "Integer":
        return inner.get("ival", 0)
    if kind == "Boolean":
        return inner.get("boolval", False)
    if kind == "TypeCast":
        return constant(inner.get("arg"))
    return None


_ZERO = {"ival": 0, "fval": "0", "sval": "", "boolval": False, "bsval": ""}
