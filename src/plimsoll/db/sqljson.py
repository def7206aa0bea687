"""Fast parsing into PostgreSQL's JSON parse tree, for the linter and the DDL catalog builder.

``plimsoll.db.sql`` gives each statement pglast's Python AST, which is what the migrator needs
but costs about six times more than the parse itself on a large script. Reading a whole schema
only needs the tree as plain data: pglast's ``parse_sql_json`` runs PostgreSQL's parser once
and hands back the tree as JSON, which ``json.loads`` turns into dicts and lists in a fraction
of the time. Every node is a one-key dict ``{"NodeType": {fields}}``; fields at their default
value (false, zero, empty) are left out by the parser, so read them with ``.get``.

Locations in the tree are byte offsets into the UTF-8 text; :class:`JsonScript` maps them to
lines and character columns (through its :class:`~plimsoll.db.catalog.LineIndex`, which the
origins of a catalog built from the script share).

psql's own lines (meta-commands such as pg_dump's ``\\restrict``, the inline rows of
``COPY ... FROM stdin``) are taken out before parsing, blanked so that every offset stays
(:func:`plimsoll.db.sqlfiles.psql_lines`), and listed in :attr:`JsonScript.meta_commands` and
:attr:`JsonScript.copy_data`. None is refused here: this module reads scripts, it never runs
them (:func:`plimsoll.db.sql.parse_sql` refuses what cannot be skipped).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pglast.parser

from plimsoll.core.gcpause import gc_paused
from plimsoll.db.catalog import LineIndex
from plimsoll.db.sql import SqlSyntaxError, midline_meta_command
from plimsoll.db.sqlfiles import CopyData, MetaCommand, psql_lines

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
    """A parsed script: its statements and the mapping from byte offsets to lines and columns.

    ``text`` (and ``data``, its UTF-8 bytes) is the SQL that was parsed: the script with its
    psql meta-command lines and COPY rows blanked; ``meta_commands`` and ``copy_data`` are
    those, in order.
    """

    source: str
    text: str
    data: bytes
    statements: list[JsonStatement]
    meta_commands: tuple[MetaCommand, ...] = ()
    copy_data: tuple[CopyData, ...] = ()
    lines: LineIndex = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.lines = LineIndex(self.source, self.data)

    def __iter__(self) -> Iterator[JsonStatement]:
        return iter(self.statements)

    def __len__(self) -> int:
        return len(self.statements)

    def line_column(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, character column) of byte ``offset``."""
        return self.lines.line_column(offset)

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


def parse_json(text: str, source: str = "<string>") -> JsonScript:
    """Parse ``text`` into its statements' JSON trees; raise SqlSyntaxError (file:line:column).

    A script of only comments and whitespace has no statements. psql meta-command lines and
    COPY rows are left out of the SQL and listed in the script (none is refused).
    """
    found = psql_lines(text)
    if found is not None:
        text = found.sql
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
        reason = midline_meta_command(text, index) or reason
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
    if found is None:
        return JsonScript(source, text, data, statements)
    return JsonScript(source, text, data, statements, found.meta_commands, found.copy_data)


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
    if type(wrapper) is dict and len(wrapper) == 1:
        for kind, node in wrapper.items():
            if type(node) is dict:
                return kind, node
    return "", {}


def strings(items: Any) -> list[str]:
    """The texts of a list of ``String`` nodes (a qualified name, a type name)."""
    if not items:
        return []
    try:
        # The usual list: String nodes only, none empty (an empty sval is left out).
        return [item["String"]["sval"] for item in items]
    except (KeyError, TypeError):
        pass
    out: list[str] = []
    for item in items:
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

    As the server prints them: the one-byte ``"char"`` quoted, ``bpchar`` without a length
    as ``bpchar`` (``char`` alone is ``character(1)``), ``numeric(p)`` with its zero scale,
    an interval's field range (``interval minute to second(2)``), a precision above 6 lowered
    to 6. Serial pseudo-types are returned as written (``serial``): what they become is the
    caller's business (see :data:`SERIAL_TYPES`). Names outside ``pg_catalog`` keep their
    schema when one was written.
    """
    if not type_node:
        return ""
    names = strings(type_node.get("names"))
    if not names:
        return ""
    base = names[-1]
    typmods: list[Any] = type_node.get("typmods") or []
    mods = [_modifier(m) for m in typmods]
    if len(names) > 1 and names[-2] != "pg_catalog":
        text = f"{names[-2]}.{base}"
    elif base == "char":
        # The one-byte internal type, only ever written quoted ("char"): unquoted, char is
        # the blank-padded character(1).
        text = '"char"'
    elif base == "bpchar" and not mods:
        # bpchar without a length is not character(1) (what CHAR alone means): it prints as
        # written so that it reads back the same.
        text = "bpchar"
    elif base in _ZONED_TYPES and mods:
        zone = " with time zone" if base.endswith("tz") else " without time zone"
        text = f"{base.removesuffix('tz')}({_precision(typmods[0], mods[0])}){zone}"
        mods = []
    elif base == "interval" and mods:
        text = _interval(typmods, mods)
        mods = []
    elif base in ("numeric", "decimal") and len(mods) == 1:
        # numeric(p) is numeric(p,0): format_type prints the scale.
        text = "numeric"
        mods.append("0")
    else:
        text = _TYPE_NAMES.get(base, base)
    if mods:
        text += "(" + ",".join(mods) + ")"
    bounds = type_node.get("arrayBounds")
    if bounds:
        text += "[]" * len(bounds)
    return text


_ZONED_TYPES = frozenset({"timestamp", "timestamptz", "time", "timetz"})
# PostgreSQL's MAX_TIMESTAMP_PRECISION and MAX_INTERVAL_PRECISION: a larger precision is
# lowered to it (with a warning).
_MAX_PRECISION = 6
# INTERVAL_FULL_RANGE: no field restriction, as ``interval(3)`` writes it.
_INTERVAL_FULL_RANGE = 0x7FFF
# The field masks of an interval's range typmod: INTERVAL_MASK(f) is 1 << f, with MONTH 1,
# YEAR 2, DAY 3, HOUR 10, MINUTE 11 and SECOND 12 (PostgreSQL's datetime.h); the ranges the
# grammar accepts, as intervaltypmodout prints them.
_INTERVAL_FIELDS = {
    1 << 2: "year",
    1 << 1: "month",
    1 << 3: "day",
    1 << 10: "hour",
    1 << 11: "minute",
    1 << 12: "second",
    (1 << 2) | (1 << 1): "year to month",
    (1 << 3) | (1 << 10): "day to hour",
    (1 << 3) | (1 << 10) | (1 << 11): "day to minute",
    (1 << 3) | (1 << 10) | (1 << 11) | (1 << 12): "day to second",
    (1 << 10) | (1 << 11): "hour to minute",
    (1 << 10) | (1 << 11) | (1 << 12): "hour to second",
    (1 << 11) | (1 << 12): "minute to second",
}


def _precision(node: Any, written: str) -> str:
    """A time or interval precision as format_type prints it (lowered to 6 when larger)."""
    value = constant(node)
    if isinstance(value, int) and value > _MAX_PRECISION:
        return str(_MAX_PRECISION)
    return written


def _interval(typmods: Any, mods: list[str]) -> str:
    """``interval`` with its typmods (a field range, then a precision), as intervaltypmodout
    prints them: ``interval day to second``, ``interval minute to second(2)``, ``interval(3)``."""
    mask = constant(typmods[0])
    fields = _INTERVAL_FIELDS.get(mask) if isinstance(mask, int) else None
    if fields is None and mask != _INTERVAL_FULL_RANGE:
        # Not a range PostgreSQL accepts: show what was written.
        return f"interval({','.join(mods)})"
    text = f"interval {fields}" if fields else "interval"
    if len(typmods) > 1:
        text += f"({_precision(typmods[1], mods[1])})"
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


def enabled_options(options: Any) -> set[str]:
    """The names of the boolean DefElem options that are on: ``(FULL)``, ``(FULL true)``, but
    not ``(FULL false)``, ``(FULL off)`` or ``(FULL 0)``."""
    return {name for name, arg in def_options(options).items() if not option_false(arg)}


def option_false(arg: Any) -> bool:
    """Whether a boolean DefElem argument is false (absent means true, as in PostgreSQL)."""
    if arg is None:
        return False
    kind, node = unwrap(arg)
    if kind == "TypeName":  # a bare word such as ``off`` may be parsed as a type name
        names = strings(node.get("names"))
        value: Any = names[-1] if names else ""
    else:
        value = constant(arg)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value == 0
    # PostgreSQL's parse_bool accepts unique prefixes of these words.
    word = str(value or "").strip().lower()
    return bool(word) and (
        "false".startswith(word) or "no".startswith(word) or word in ("off", "of", "0")
    )


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
