"""Builds a :class:`~plimsoll.db.catalog.Catalog` by applying DDL statically, without a database.

The linter checks "the schema after the files are applied": :class:`CatalogBuilder` replays the
statements' JSON parse trees (:mod:`plimsoll.db.sqljson`) on a mutable model, in order, and
hands out the frozen :class:`Catalog` that introspecting a database built from the same files
would give (:mod:`plimsoll.db.introspect`). It is pure dict work, so a schema of thousands of
tables builds in a small fraction of the time its parse takes.

What it follows, as PostgreSQL does: keys are ``schema.name``, an unqualified name going to the
first schema of the ``search_path`` (``SET search_path`` and ``set_config('search_path', ...)``
are honoured, the builder's default schema otherwise) and an unqualified reference to the
first schema holding that name; unnamed constraints and indexes get PostgreSQL's generated
names (``t_pkey``, ``t_a_key``, ``t_a_fkey``, ``t_a_check``/``t_check``, ``t_a_excl``,
``t_a_idx``, with the 63-byte truncation and the ``1``, ``2`` suffixes on a clash); a primary
key, identity and serial make their columns NOT NULL; serial columns become integer types
with a ``nextval`` default and an owned sequence; NOT VALID is ignored in CREATE TABLE (as
PostgreSQL does) and kept by ALTER TABLE; duplicate primary key / unique specifications of
one CREATE TABLE collapse into one; ``ALL`` privileges expand to PostgreSQL's list; a fresh
database's ``public`` schema and ``plpgsql`` extension are there from the start. Every
object carries its :class:`~plimsoll.db.catalog.Origin` (file, line and column of the
statement, or of the column or constraint clause).

What is approximated, and why:

* **Expression texts** (defaults, generation expressions, checks, index expressions and
  predicates, policies, trigger WHEN, view queries) are the statement's own source text,
  one line, comments left out; simple defaults (constants, casts, plain function calls such
  as ``now()`` or ``nextval('s'::regclass)``) are printed from the tree, which is faster
  and reads like ``pg_get_expr``. PostgreSQL prints them back from its analysed tree (added
  casts and parentheses, ``(price >= (0)::numeric)``); reproducing that needs the server's
  type resolution. Renaming a column does not rewrite these texts.
* **Definition texts** (constraints, indexes, triggers, functions) are printed from the
  structured fields in the shape of ``pg_get_constraintdef`` / ``pg_get_indexdef`` /
  ``pg_get_triggerdef`` / ``pg_get_functiondef``, with those expression texts inside; the
  structured (derived) fields are exact.
* **Types**: ``format_type`` names; an unqualified type that is not PostgreSQL's own is
  qualified with the schema holding it, or the creation schema when it is unknown (an
  extension's type, as ``public.citext``).
* **Left out**, as introspection leaves them out: temporary objects, partitioned tables and
  partitions (``PARTITION BY`` / ``PARTITION OF`` / ``ATTACH PARTITION``; DETACH does not
  bring a table back), foreign tables, the migrator's tracking table, triggers and indexes
  on views, column-level privileges, objects an extension creates. Not followed: ALTER
  DEFAULT PRIVILEGES, ownership, grants to ``CURRENT_USER``-style roles (usually the
  owner, whose privileges are not listed), ``SET ... FROM CURRENT`` in functions.
* **LIKE** copies columns with NOT NULL, then defaults, identity, generation expressions,
  check constraints, indexes and comments as its INCLUDING options say; **INHERITS** copies
  the parents' columns (merged by name), NOT NULL, defaults and inheritable checks.
* **CASCADE** is best effort: dropping a table or view with CASCADE drops the views reading
  it and the foreign keys referencing it; a column, its constraints and indexes; a type,
  the columns of that type; a function, the triggers calling it; a schema, everything in it.
  Without CASCADE only the object goes (PostgreSQL would refuse if something depended on it).
* ``CREATE TABLE AS`` / ``SELECT INTO`` make a table without columns (their types need the
  query's analysis). Roles written as ``CURRENT_USER``/``SESSION_USER``/``CURRENT_ROLE`` in a
  policy are kept as those words in lower case.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import pglast.parser

from plimsoll.db.catalog import (
    EXCLUDED_TABLES,
    Catalog,
    Column,
    Constraint,
    EnumType,
    Function,
    Grant,
    Index,
    Origin,
    Policy,
    Sequence,
    Table,
    Trigger,
    View,
    quote_ident,
    quote_literal,
)
from plimsoll.db.sqljson import (
    SERIAL_TYPES,
    JsonScript,
    JsonStatement,
    Node,
    constant,
    def_options,
    function_name,
    gc_paused,
    strings,
    type_name,
    unwrap,
    walk,
)

# PostgreSQL's identifier limit: NAMEDATALEN (64) less the terminating zero byte.
_MAX_NAME_BYTES = 63

# Every type name of pg_catalog a schema may write (PostgreSQL 15's, arrays and catalog row
# types left out): an unqualified type outside this set is a user's or an extension's type,
# which format_type prints schema-qualified.
_PG_TYPES = frozenset(
    """
    aclitem any anyarray anycompatible anycompatiblearray anycompatiblemultirange
    anycompatiblenonarray anycompatiblerange anyelement anyenum anymultirange anynonarray
    anyrange bit bool box bpchar bytea char cid cidr circle cstring date datemultirange
    daterange event_trigger fdw_handler float4 float8 gtsvector index_am_handler inet int2
    int2vector int4 int4multirange int4range int8 int8multirange int8range internal interval
    json jsonb jsonpath language_handler line lseg macaddr macaddr8 money name numeric
    nummultirange numrange oid oidvector path pg_brin_bloom_summary
    pg_brin_minmax_multi_summary pg_ddl_command pg_dependencies pg_lsn pg_mcv_list
    pg_ndistinct pg_node_tree pg_snapshot point polygon record refcursor regclass regcollation
    regconfig regdictionary regnamespace regoper regoperator regproc regprocedure regrole
    regtype table_am_handler text tid time timestamp timestamptz timetz trigger tsm_handler
    tsmultirange tsquery tsrange tstzmultirange tstzrange tsvector txid_snapshot unknown uuid
    varbit varchar void xid xid8 xml
    integer smallint bigint real boolean decimal
    """.split()
)
_TYPMODS = re.compile(r"\([^)]*\)")
_SERIAL_MAXIMUM = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}
_SERIAL_MINIMUM = {"smallint": -32768, "integer": -2147483648, "bigint": -9223372036854775808}

# Privileges GRANT ALL gives on a table or view (PostgreSQL 17 adds MAINTAIN; a static build
# does not know the server, so it follows the versions most schemas target).
_ALL_TABLE_PRIVILEGES = (
    "INSERT",
    "SELECT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
)
_FK_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}
_IDENTITY = {"a": "ALWAYS", "d": "BY DEFAULT"}
# ALTER COLUMN SET GENERATED stores the attidentity byte as an Integer ('a' = 97, 'd' = 100).
_IDENTITY_CODES = {97: "ALWAYS", 100: "BY DEFAULT"}
# CreateTrigStmt / pg_trigger.tgtype bits.
_TRIGGER_ROW = 1
_TRIGGER_BEFORE = 2
_TRIGGER_INSTEAD = 64
_TRIGGER_EVENTS = ((4, "INSERT"), (16, "UPDATE"), (8, "DELETE"), (32, "TRUNCATE"))
# pg_get_triggerdef prints the events in this order.
_TRIGGER_DEF_EVENTS = ((4, "INSERT"), (8, "DELETE"), (16, "UPDATE"), (32, "TRUNCATE"))
# PostgreSQL's own trigger functions, which an unqualified trigger may call.
_PG_TRIGGER_FUNCTIONS = frozenset(
    {
        "suppress_redundant_updates_trigger",
        "tsvector_update_trigger",
        "tsvector_update_trigger_column",
    }
)
# Settings whose list values PostgreSQL quotes as identifiers in proconfig (GUC_LIST_QUOTE).
_LIST_QUOTE_SETTINGS = frozenset(
    {
        "search_path",
        "temp_tablespaces",
        "session_preload_libraries",
        "shared_preload_libraries",
        "local_preload_libraries",
    }
)
# TableLikeClause option bits (CREATE_TABLE_LIKE_*).
_LIKE_COMMENTS = 1 << 0
_LIKE_CONSTRAINTS = 1 << 2
_LIKE_DEFAULTS = 1 << 3
_LIKE_GENERATED = 1 << 4
_LIKE_IDENTITY = 1 << 5
_LIKE_INDEXES = 1 << 6
_SQL_VALUE_FUNCTIONS = {
    "SVFOP_CURRENT_DATE": "CURRENT_DATE",
    "SVFOP_CURRENT_TIME": "CURRENT_TIME",
    "SVFOP_CURRENT_TIMESTAMP": "CURRENT_TIMESTAMP",
    "SVFOP_LOCALTIME": "LOCALTIME",
    "SVFOP_LOCALTIMESTAMP": "LOCALTIMESTAMP",
    "SVFOP_CURRENT_ROLE": "CURRENT_ROLE",
    "SVFOP_CURRENT_USER": "CURRENT_USER",
    "SVFOP_USER": "USER",
    "SVFOP_SESSION_USER": "SESSION_USER",
    "SVFOP_CURRENT_CATALOG": "CURRENT_CATALOG",
    "SVFOP_CURRENT_SCHEMA": "CURRENT_SCHEMA",
}
# Expression nodes pg_get_indexdef prints without parentheses ("looks like a function").
_FUNCTION_LIKE = frozenset(
    {"FuncCall", "CoalesceExpr", "MinMaxExpr", "SQLValueFunction", "XmlExpr"}
)
_ROW_TYPE_KINDS = frozenset({"r", "v", "m", "c", "p"})
_INDEX_KINDS = frozenset({"p", "u", "x"})

_T = TypeVar("_T")


def _direct_factory(cls: type[_T]) -> Callable[[dict[str, Any]], _T]:
    """A constructor of a frozen dataclass from a dict of its fields (defaults filled in).

    A frozen dataclass sets each field through ``object.__setattr__``, which costs more than
    the rest of building a column or a constraint; a large schema has tens of thousands of
    them. When the class is a plain frozen dataclass (a ``__dict__``, no ``__post_init__``,
    no default factories) the dict becomes the instance's ``__dict__`` as it is: the same
    object the generated ``__init__`` would make. Otherwise the class is called.
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = frozenset(f.name for f in fields)
    defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    direct = (
        "__slots__" not in vars(cls)
        and not hasattr(cls, "__post_init__")
        and all(f.default_factory is dataclasses.MISSING for f in fields)
        and all(f.init for f in fields)
    )
    new = object.__new__
    set_attribute = object.__setattr__

    def build(values: dict[str, Any]) -> _T:
        if not direct:
            return cls(**values)
        if len(values) != len(names):
            values = {**defaults, **values}
        instance = new(cls)
        set_attribute(instance, "__dict__", values)
        return instance

    return build


_new_column = _direct_factory(Column)
# A column record holds every Column field; these are the defaults a new one starts from.
_COLUMN_DEFAULTS = {
    f.name: f.default for f in dataclasses.fields(Column) if f.default is not dataclasses.MISSING
}
_new_constraint = _direct_factory(Constraint)
_new_index = _direct_factory(Index)
_new_table = _direct_factory(Table)
_new_origin = _direct_factory(Origin)

# Definitions quote the same few thousand names again and again.
_quote = functools.lru_cache(maxsize=1 << 16)(quote_ident)


def _sql_name(schema: str, name: str) -> str:
    """``schema.name`` quoted for SQL (``catalog.sql_name``, through the quoting cache)."""
    return f"{_quote(schema)}.{_quote(name)}"


# --- tokens ---------------------------------------------------------------------------------

_OPEN = frozenset({"ASCII_40", "ASCII_91", "CASE"})
_CLOSE = frozenset({"ASCII_41", "ASCII_93", "END_P"})
_COMMA = "ASCII_44"
_LPAREN = "ASCII_40"
_COMMENT_TOKENS = frozenset({"SQL_COMMENT", "C_COMMENT"})
# Where a column's DEFAULT expression ends: the next column constraint (or the next column).
_DEFAULT_STOPS = frozenset(
    {
        "CONSTRAINT",
        "CHECK",
        "DEFAULT",
        "PRIMARY",
        "UNIQUE",
        "REFERENCES",
        "GENERATED",
        "COLLATE",
        "DEFERRABLE",
        "INITIALLY",
    }
)


class _Tokens:
    """One statement's tokens (comments left out), at byte offsets into the script's data.

    Expression texts are cut from the source along token boundaries: the parse tree gives
    where an expression starts, never where it ends.
    """

    __slots__ = ("data", "starts", "ends", "names")

    def __init__(self, data: bytes, start: int, length: int) -> None:
        raw = data[start : start + length]
        text = raw.decode("utf-8", "replace")
        self.data = data
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.names: list[str] = []
        ascii_only = raw.isascii()
        char_at, byte_at = 0, start
        for token in pglast.parser.scan(text):
            if token.name in _COMMENT_TOKENS:
                continue
            if ascii_only:
                begin, end = start + token.start, start + token.end + 1
            else:
                # The scanner counts characters; the tree and the data count bytes.
                byte_at += len(text[char_at : token.start].encode("utf-8"))
                char_at = token.start
                begin = byte_at
                end = begin + len(text[token.start : token.end + 1].encode("utf-8"))
            self.starts.append(begin)
            self.ends.append(end)
            self.names.append(token.name)

    def __len__(self) -> int:
        return len(self.names)

    def at(self, offset: int) -> int:
        """The index of the first token starting at or after byte ``offset``."""
        return bisect.bisect_left(self.starts, offset)

    def find(self, start: int, *names: str) -> int:
        """The index of the first token at or after ``start`` named one of ``names`` (or len)."""
        wanted = self.names
        for index in range(start, len(wanted)):
            if wanted[index] in names:
                return index
        return len(wanted)

    def find_top(self, start: int, name: str, after: str | None = None) -> int:
        """The first ``name`` token at depth 0 from ``start`` (followed by ``after``), or len."""
        names = self.names
        depth = 0
        for index in range(start, len(names)):
            token = names[index]
            if depth == 0 and token == name:
                if after is None or (index + 1 < len(names) and names[index + 1] == after):
                    return index
            if token in _OPEN:
                depth += 1
            elif token in _CLOSE:
                depth -= 1
        return len(names)

    def match(self, start: int) -> int:
        """The index of the bracket closing the one at ``start`` (or the last token)."""
        names = self.names
        depth = 0
        for index in range(start, len(names)):
            token = names[index]
            if token in _OPEN:
                depth += 1
            elif token in _CLOSE:
                depth -= 1
                if depth == 0:
                    return index
        return len(names) - 1

    def text(self, start: int, stop: int) -> str:
        """The source of tokens ``start`` to ``stop`` (excluded) on one line, spaces kept single."""
        if start >= stop:
            return ""
        data, starts, ends = self.data, self.starts, self.ends
        parts = [data[starts[start] : ends[start]]]
        for index in range(start + 1, stop):
            if starts[index] > ends[index - 1]:
                parts.append(b" ")
            parts.append(data[starts[index] : ends[index]])
        return b"".join(parts).decode("utf-8", "replace")

    def group(self, start: int) -> str:
        """The text inside the bracket group opening at or after ``start``."""
        opening = self.find(start, _LPAREN)
        if opening >= len(self.names):
            return ""
        return self.text(opening + 1, self.match(opening))

    def split(self, opening: int) -> list[tuple[int, int]]:
        """The comma-separated items of the group opening at ``opening``, as token ranges."""
        closing = self.match(opening)
        names = self.names
        items: list[tuple[int, int]] = []
        depth = 0
        begin = opening + 1
        for index in range(opening + 1, closing):
            token = names[index]
            if token in _OPEN:
                depth += 1
            elif token in _CLOSE:
                depth -= 1
            elif token == _COMMA and depth == 0:
                items.append((begin, index))
                begin = index + 1
        items.append((begin, closing))
        return items

    def expression(self, start: int, stops: frozenset[str] = frozenset()) -> str:
        """The expression starting at token ``start``, up to a depth-0 comma, stop word,
        unmatched closing bracket or the end of the statement."""
        names = self.names
        depth = 0
        index = start
        while index < len(names):
            token = names[index]
            if token in _OPEN:
                depth += 1
            elif token in _CLOSE:
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and index > start and self._stops(index, token, stops):
                break
            index += 1
        return self.text(start, index)

    def _stops(self, index: int, token: str, stops: frozenset[str]) -> bool:
        if token == _COMMA or token in stops:
            return True
        if not stops:
            return False
        names = self.names
        previous = names[index - 1]
        following = names[index + 1] if index + 1 < len(names) else ""
        # NOT NULL and NULL end a default; IS [NOT] NULL and IS NOT DISTINCT do not.
        if token == "NOT":
            return previous != "IS" and following in ("NULL_P", "DEFERRABLE")
        if token == "NULL_P":
            return previous not in ("IS", "NOT")
        return False


# --- names PostgreSQL generates ---------------------------------------------------------------


def _clip(name: str, size: int) -> str:
    """``name`` cut to ``size`` UTF-8 bytes, never inside a character (pg_mbcliplen)."""
    raw = name.encode("utf-8")
    if len(raw) <= size:
        return name
    return raw[:size].decode("utf-8", "ignore")


def make_object_name(name1: str, name2: str | None, label: str | None) -> str:
    """PostgreSQL's ``makeObjectName``: ``name1_name2_label`` within 63 bytes, cutting the
    longer name first."""
    overhead = (1 if name2 is not None else 0) + (len(label) + 1 if label else 0)
    available = _MAX_NAME_BYTES - overhead
    if name1.isascii() and (name2 is None or name2.isascii()):
        size1, size2 = len(name1), len(name2) if name2 is not None else 0
    else:
        size1 = len(name1.encode("utf-8"))
        size2 = len(name2.encode("utf-8")) if name2 is not None else 0
    if size1 + size2 > available:
        while size1 + size2 > available:
            if size1 > size2:
                size1 -= 1
            else:
                size2 -= 1
        name1 = _clip(name1, size1)
        if name2 is not None:
            name2 = _clip(name2, size2)
    parts = [name1]
    if name2 is not None:
        parts.append(name2)
    if label:
        parts.append(label)
    return "_".join(parts)


def _name_addition(names: Iterable[str]) -> str:
    """``ChooseIndexNameAddition``: column names joined by ``_``, stopped past 63 bytes."""
    out = ""
    for name in names:
        if out:
            out += "_"
        out += _clip(name, _MAX_NAME_BYTES)
        if len(out.encode("utf-8")) >= _MAX_NAME_BYTES + 1:
            break
    return out


def _figure_name(node: Any) -> str | None:
    """``FigureColname`` for an index expression: the name PostgreSQL derives from it."""
    return _figure(node)[0]


def _figure(node: Any) -> tuple[str | None, int]:
    """``FigureColnameInternal``: a name and how strongly the expression suggests it (2 for
    a column or function name, 1 for a cast's type or ``case``, 0 for nothing)."""
    kind, inner = unwrap(node)
    if kind == "ColumnRef":
        fields = strings(inner.get("fields"))
        return (fields[-1], 2) if fields else (None, 0)
    if kind == "FuncCall":
        names = strings(inner.get("funcname"))
        return (names[-1], 2) if names else (None, 0)
    if kind == "A_Expr" and inner.get("kind") == "AEXPR_NULLIF":
        return "nullif", 2
    if kind == "TypeCast":
        name, strength = _figure(inner.get("arg"))
        if strength <= 1:
            names = strings((inner.get("typeName") or {}).get("names"))
            if names:
                return names[-1], 1
        return name, strength
    if kind == "CollateClause":
        return _figure(inner.get("arg"))
    if kind == "CaseExpr":
        name, strength = _figure(inner.get("defresult"))
        return ("case", 1) if strength <= 1 else (name, strength)
    fixed = _FIXED_NAMES.get(kind)
    if fixed is not None:
        return fixed, 2
    if kind == "MinMaxExpr":
        return ("greatest" if inner.get("op") == "IS_GREATEST" else "least"), 2
    if kind == "SQLValueFunction":
        name = _SQL_VALUE_FUNCTIONS.get(inner.get("op", ""), "").lower()
        return (name, 2) if name else (None, 0)
    return None, 0


_FIXED_NAMES = {
    "A_ArrayExpr": "array",
    "RowExpr": "row",
    "CoalesceExpr": "coalesce",
    "GroupingFunc": "grouping",
}


def _index_column_names(elements: list[tuple[str | None, Any]]) -> list[str]:
    """``ChooseIndexColumnNames``: each element's name (``expr`` when none), made unique."""
    result: list[str] = []
    for name, expression in elements:
        original = name or _figure_name(expression) or "expr"
        current = original
        number = 0
        while current in result:
            number += 1
            suffix = str(number)
            current = _clip(original, _MAX_NAME_BYTES - len(suffix)) + suffix
        result.append(current)
    return result


def _column_refs(node: Any) -> set[str]:
    """The column names an expression mentions (each ColumnRef's last field)."""
    found: set[str] = set()
    for kind, inner in walk(node):
        if kind == "ColumnRef":
            fields = strings(inner.get("fields"))
            if fields:
                found.add(fields[-1])
    return found


def _min_location(node: Any) -> int:
    """The smallest location inside a subtree (-1 when it has none)."""
    best = -1
    for _kind, inner in walk(node):
        location = inner.get("location", -1)
        if isinstance(location, int) and location >= 0 and (best < 0 or location < best):
            best = location
    return best


def _type_key(type_node: Node) -> Any:
    """A hashable key for a TypeName (names, constant modifiers, array depth), or None.

    Schemas repeat a few types thousands of times; their text is computed once per key.
    """
    try:
        names = type_node["names"]
        key: Any = (
            names[0]["String"]["sval"]
            if len(names) == 1
            else tuple([item["String"]["sval"] for item in names])
        )
        modifiers = type_node.get("typmods")
        if modifiers:
            values = []
            for modifier in modifiers:
                value = modifier["A_Const"]["ival"]
                values.append(value.get("ival", 0) if isinstance(value, dict) else value)
            key = (key, tuple(values))
        bounds = type_node.get("arrayBounds")
        if bounds:
            key = (key, len(bounds))
        return key
    except (KeyError, TypeError):
        return None


def _bare(type_text: str) -> str:
    """A type without its modifiers, as ``format_type`` prints an argument or result type."""
    return _TYPMODS.sub("", type_text) if "(" in type_text else type_text


# --- the mutable model ----------------------------------------------------------------------


class _Constraint:
    """A constraint being built. Fields left at their defaults live on the class: most
    constraints set three or four of them, and schemas have tens of thousands."""

    columns: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    references: tuple[str, str] | None = None
    ref_columns: tuple[str, ...] = ()
    on_delete = "NO ACTION"
    on_update = "NO ACTION"
    # ON DELETE SET NULL / SET DEFAULT (columns): the only columns cleared (PostgreSQL 15).
    delete_columns: tuple[str, ...] = ()
    match_full = False
    validated = True
    expression: str | None = None
    deferrable = False
    deferred = False
    nulls_not_distinct = False
    exclusion = ""
    # The columns a check mentions (dropping one of them drops the check).
    refs: frozenset[str] = frozenset()

    def __init__(self, name: str, kind: str, origin: Origin | None) -> None:
        self.name = name
        self.kind = kind
        self.origin = origin

    def copy(self) -> _Constraint:
        other = _Constraint(self.name, self.kind, self.origin)
        other.__dict__.update(self.__dict__)
        return other

    def definition(self) -> str:
        """The constraint as pg_get_constraintdef prints it."""
        kind = self.kind
        if kind == "c":
            text = f"CHECK ({self.expression})"
        elif kind == "f":
            text = f"FOREIGN KEY ({_names(self.columns)}) REFERENCES "
            if self.references is not None:
                text += _sql_name(*self.references)
            if self.ref_columns:
                text += f"({_names(self.ref_columns)})"
            if self.match_full:
                text += " MATCH FULL"
            if self.on_update != "NO ACTION":
                text += f" ON UPDATE {self.on_update}"
            if self.on_delete != "NO ACTION":
                text += f" ON DELETE {self.on_delete}"
                if self.delete_columns:
                    text += f" ({_names(self.delete_columns)})"
        elif kind == "x":
            text = f"EXCLUDE {self.exclusion}"
        else:
            text = "PRIMARY KEY " if kind == "p" else "UNIQUE "
            if self.nulls_not_distinct:
                text += "NULLS NOT DISTINCT "
            text += f"({_names(self.columns)})"
        if self.include:
            text += f" INCLUDE ({_names(self.include)})"
        if self.deferrable:
            text += " DEFERRABLE"
        if self.deferred:
            text += " INITIALLY DEFERRED"
        if not self.validated:
            text += " NOT VALID"
        return text

    def frozen(self) -> Constraint:
        references = self.references
        return _new_constraint(
            {
                "name": self.name,
                "kind": self.kind,
                "definition": self.definition(),
                "columns": self.columns,
                "references": f"{references[0]}.{references[1]}" if references else None,
                "ref_columns": self.ref_columns,
                "on_delete": self.on_delete,
                "on_update": self.on_update,
                "validated": self.validated,
                "expression": self.expression,
                "origin": self.origin,
            }
        )


class _Index:
    """An index being built (defaults on the class, as for constraints)."""

    include: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    unique = False
    method = "btree"
    predicate: str | None = None
    nulls_not_distinct = False
    refs: frozenset[str] = frozenset()

    def __init__(self, name: str, origin: Origin | None) -> None:
        self.name = name
        self.origin = origin
        # Each key as pg_get_indexdef prints it, with its options.
        self.elements: list[str] = []
        # Each key's name as index names are made from it (FigureColname for expressions).
        self.keys: list[str] = []

    def copy(self) -> _Index:
        other = _Index(self.name, self.origin)
        other.__dict__.update(self.__dict__)
        other.elements = list(self.elements)
        other.keys = list(self.keys)
        return other

    def frozen(self, table: _Table) -> Index:
        text = "CREATE UNIQUE INDEX " if self.unique else "CREATE INDEX "
        text += f"{_quote(self.name)} ON {_sql_name(table.schema, table.name)}"
        text += f" USING {self.method} ({', '.join(self.elements)})"
        if self.include:
            text += f" INCLUDE ({_names(self.include)})"
        if self.nulls_not_distinct:
            text += " NULLS NOT DISTINCT"
        if self.predicate is not None:
            text += f" WHERE ({self.predicate})"
        return _new_index(
            {
                "name": self.name,
                "definition": text,
                "columns": self.columns,
                "unique": self.unique,
                "method": self.method,
                "predicate": self.predicate,
                "origin": self.origin,
            }
        )


class _Trigger:
    """A trigger being built."""

    timing = 0
    events = 0
    update_columns: tuple[str, ...] = ()
    row_level = False
    function: tuple[str, str] = ("", "")
    arguments: tuple[str, ...] = ()
    when: str | None = None
    constraint = False
    deferrable = False
    deferred = False
    referencing = ""

    def __init__(self, name: str, origin: Origin | None) -> None:
        self.name = name
        self.origin = origin

    def frozen(self, table: _Table) -> Trigger:
        timing = "AFTER"
        if self.timing & _TRIGGER_BEFORE:
            timing = "BEFORE"
        elif self.timing & _TRIGGER_INSTEAD:
            timing = "INSTEAD OF"
        printed = []
        for bit, word in _TRIGGER_DEF_EVENTS:
            if self.events & bit:
                if bit == 16 and self.update_columns:
                    word += f" OF {_names(self.update_columns)}"
                printed.append(word)
        text = "CREATE CONSTRAINT TRIGGER " if self.constraint else "CREATE TRIGGER "
        text += f"{_quote(self.name)} {timing} {' OR '.join(printed)}"
        text += f" ON {_sql_name(table.schema, table.name)}"
        if self.deferrable:
            text += " DEFERRABLE INITIALLY " + ("DEFERRED" if self.deferred else "IMMEDIATE")
        if self.referencing:
            text += f" REFERENCING {self.referencing}"
        text += " FOR EACH ROW" if self.row_level else " FOR EACH STATEMENT"
        if self.when is not None:
            text += f" WHEN ({self.when})"
        arguments = ", ".join(quote_literal(a) for a in self.arguments)
        schema, name = self.function
        text += f" EXECUTE FUNCTION {_sql_name(schema, name)}({arguments})"
        return Trigger(
            self.name,
            text,
            timing,
            tuple(word for bit, word in _TRIGGER_EVENTS if self.events & bit),
            self.row_level,
            f"{schema}.{name}",
            self.origin,
        )


class _Table:
    """A table being built."""

    def __init__(self, schema: str, name: str, origin: Origin | None) -> None:
        self.schema = schema
        self.name = name
        # Each column is a dict of Column's fields, in attnum order.
        self.columns: dict[str, dict[str, Any]] = {}
        self.constraints: dict[str, _Constraint] = {}
        self.indexes: dict[str, _Index] = {}
        self.triggers: dict[str, _Trigger] = {}
        self.policies: dict[str, Policy] = {}
        self.grants: dict[tuple[str, str], bool] = {}
        self.comment: str | None = None
        self.rls_enabled = False
        self.rls_forced = False
        self.unlogged = False
        # Relations living and dying with the table: serial and identity sequences.
        self.owned: list[str] = []
        self.origin = origin

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    def primary_key(self) -> tuple[str, ...]:
        for constraint in self.constraints.values():
            if constraint.kind == "p":
                return constraint.columns
        return ()

    def frozen(self) -> Table:
        return _new_table(
            {
                "schema": self.schema,
                "name": self.name,
                # Copies: the builder keeps changing its own records.
                "columns": tuple([_new_column(c.copy()) for c in self.columns.values()]),
                "constraints": tuple(
                    [self.constraints[n].frozen() for n in sorted(self.constraints)]
                ),
                "indexes": tuple([self.indexes[n].frozen(self) for n in sorted(self.indexes)]),
                "triggers": tuple([self.triggers[n].frozen(self) for n in sorted(self.triggers)]),
                "policies": tuple([self.policies[n] for n in sorted(self.policies)]),
                "grants": frozenset([Grant(p, g, o) for (p, g), o in self.grants.items()]),
                "comment": self.comment,
                "rls_enabled": self.rls_enabled,
                "rls_forced": self.rls_forced,
                "unlogged": self.unlogged,
                "origin": self.origin,
            }
        )


class _View:
    """A view or materialized view being built."""

    def __init__(self, schema: str, name: str, origin: Origin | None) -> None:
        self.schema = schema
        self.name = name
        self.definition = ""
        self.materialized = False
        self.comment: str | None = None
        self.grants: dict[tuple[str, str], bool] = {}
        self.depends_on: set[str] = set()
        self.origin = origin

    def frozen(self) -> View:
        return View(
            schema=self.schema,
            name=self.name,
            definition=self.definition,
            materialized=self.materialized,
            comment=self.comment,
            grants=frozenset(Grant(p, g, o) for (p, g), o in self.grants.items()),
            depends_on=tuple(sorted(self.depends_on)),
            origin=self.origin,
        )


class _Function:
    """A function or procedure being built."""

    def __init__(self, schema: str, name: str, origin: Origin | None) -> None:
        self.schema = schema
        self.name = name
        # (mode, name, type): mode is "", "IN", "OUT", "INOUT", "VARIADIC" or "TABLE".
        self.parameters: list[tuple[str, str, str]] = []
        self.returns: str | None = None
        self.procedure = False
        self.comment: str | None = None
        self.language = "sql"
        self.security_definer = False
        self.volatility = "VOLATILE"
        self.strict = False
        self.leakproof = False
        self.config: list[str] = []
        self.body: str | None = None
        self.sql_body = False
        self.origin = origin

    @property
    def argument_types(self) -> str:
        return ", ".join(t for mode, _n, t in self.parameters if mode not in ("OUT", "TABLE"))

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}({self.argument_types})"

    def identity_args(self) -> str:
        """pg_get_function_identity_arguments: modes (IN spelled out for a procedure only),
        names and types, TABLE columns left out."""
        out = []
        for mode, name, type_ in self.parameters:
            if mode == "TABLE":
                continue
            if mode in ("", "IN"):
                word = "IN" if self.procedure else ""
            else:
                word = mode
            text = f"{word} " if word else ""
            text += f"{_quote(name)} " if name else ""
            out.append(text + type_)
        return ", ".join(out)

    def definition(self) -> str:
        kind = "PROCEDURE" if self.procedure else "FUNCTION"
        text = f"CREATE OR REPLACE {kind} {_sql_name(self.schema, self.name)}"
        text += f"({self.identity_args()})\n"
        if self.returns is not None:
            text += f" RETURNS {self.returns}\n"
        text += f" LANGUAGE {self.language}\n"
        traits = []
        if self.volatility != "VOLATILE":
            traits.append(self.volatility)
        if self.strict:
            traits.append("STRICT")
        if self.security_definer:
            traits.append("SECURITY DEFINER")
        if self.leakproof:
            traits.append("LEAKPROOF")
        if traits:
            text += f" {' '.join(traits)}\n"
        for setting in self.config:
            name, _eq, value = setting.partition("=")
            text += f" SET {name} TO {quote_literal(value)}\n"
        if self.sql_body:
            return text + f"{self.body}\n"
        return text + f"AS $function${self.body or ''}$function$\n"

    def frozen(self) -> Function:
        return Function(
            schema=self.schema,
            name=self.name,
            identity_args=self.identity_args(),
            definition=self.definition(),
            argument_types=self.argument_types,
            returns=None if self.procedure else self.returns,
            procedure=self.procedure,
            comment=self.comment,
            language=self.language,
            security_definer=self.security_definer,
            volatility=self.volatility,
            config=tuple(self.config),
            body=self.body,
            origin=self.origin,
        )


def _names(names: Iterable[str]) -> str:
    return ", ".join([_quote(n) for n in names])


def _column_record(name: str, type_: str, origin: Origin | None) -> dict[str, Any]:
    """A new column record: every Column field, at its default unless given."""
    record = _COLUMN_DEFAULTS.copy()
    record["name"] = name
    record["type"] = type_
    record["origin"] = origin
    return record


# --- the builder ----------------------------------------------------------------------------


class CatalogBuilder:
    """Applies statements one at a time (mutable state inside; frozen Catalog out)."""

    def __init__(self, default_schema: str = "public") -> None:
        """An empty database: schemas ``public`` and ``default_schema``, extension plpgsql."""
        self._default = default_schema
        self._path: list[str] = [default_schema]
        self._create_in = default_schema
        self._schemas: set[str] = {"public", default_schema}
        self._extensions: set[str] = {"plpgsql"}
        self._tables: dict[str, _Table] = {}
        self._views: dict[str, _View] = {}
        self._functions: dict[str, _Function] = {}
        self._function_names: dict[str, set[str]] = {}
        self._sequences: dict[str, dict[str, Any]] = {}
        self._enums: dict[str, tuple[EnumType, list[str]]] = {}
        # Every relation name taken in a schema, by key: r table, v view, m materialized
        # view, i index, S sequence, c composite type, p a table left out (partitioned...).
        self._relations: dict[str, str] = {}
        # Which table each index (its own or a constraint's) belongs to.
        self._index_table: dict[str, str] = {}
        # Constraint names taken in each schema (PostgreSQL's generated names avoid them).
        self._constraint_names: dict[str, dict[str, int]] = {}
        # Types a column may name: enums, domains, composite and range types.
        self._types: set[str] = set()
        self._builtin_types: dict[Any, str] = {}
        # The statement being applied.
        self._data = b""
        self._file = ""
        self._ascii = True
        self._anchor = (0, 1, 0)
        self._start = 0
        self._length = 0
        self._span_start = 0
        self._tokens: _Tokens | None = None
        self._handlers: dict[str, Callable[[Node], None]] = {
            "CreateSchemaStmt": self._create_schema,
            "CreateStmt": self._create_table,
            "CreateTableAsStmt": self._create_table_as,
            "SelectStmt": self._select,
            "AlterTableStmt": self._alter_table,
            "RenameStmt": self._rename,
            "AlterObjectSchemaStmt": self._set_schema,
            "DropStmt": self._drop,
            "IndexStmt": self._create_index,
            "ViewStmt": self._create_view,
            "CreateFunctionStmt": self._create_function,
            "AlterFunctionStmt": self._alter_function,
            "CreateTrigStmt": self._create_trigger,
            "CreatePolicyStmt": self._create_policy,
            "AlterPolicyStmt": self._alter_policy,
            "CreateEnumStmt": self._create_enum,
            "AlterEnumStmt": self._alter_enum,
            "CreateDomainStmt": self._create_domain,
            "CompositeTypeStmt": self._create_composite,
            "CreateRangeStmt": self._create_range,
            "CreateSeqStmt": self._create_sequence,
            "AlterSeqStmt": self._alter_sequence,
            "CreateExtensionStmt": self._create_extension,
            "CommentStmt": self._comment,
            "GrantStmt": self._grant,
            "VariableSetStmt": self._set,
        }

    # --- public API -------------------------------------------------------------------------

    def apply(self, statement: JsonStatement, script: JsonScript) -> None:
        """Apply one statement of ``script``; statements that change no schema are ignored."""
        handler = self._handlers.get(statement.kind)
        if handler is None:
            return
        # Neither the script nor the statement is kept: the caller frees each parse tree
        # once applied. Holding the script's bytes tells its next statement apart.
        if script.data is not self._data:
            self._data = script.data
            self._file = script.source
            self._ascii = script.data.isascii()
            self._anchor = (0, 1, 0)
        # _start is where the object being made is (an element of CREATE SCHEMA moves it);
        # the statement's span is what its tokens are scanned from.
        self._start = self._span_start = statement.start
        self._length = statement.length
        self._tokens = None
        try:
            handler(statement.node)
        finally:
            self._tokens = None

    def catalog(self) -> Catalog:
        """The schema as it stands after the statements applied so far."""
        with gc_paused():
            return Catalog.of(
                schemas=set(self._schemas),
                enums=[enum for enum, _labels in self._enums.values()],
                sequences=[Sequence(**s) for s in self._sequences.values()],
                tables=[t.frozen() for t in self._tables.values()],
                views=[v.frozen() for v in self._views.values()],
                functions=[f.frozen() for f in self._functions.values()],
                extensions=set(self._extensions),
            )

    # --- where things are -------------------------------------------------------------------

    def _origin(self, offset: int) -> Origin:
        """Origin(file, line, column) of byte ``offset``, as ``script.line_column`` gives it.

        Counted from the last offset asked, forwards or backwards: statements come in
        order, so each count covers a few lines.
        """
        data = self._data
        anchor, line, begin = self._anchor
        if offset >= anchor:
            newlines = data.count(b"\n", anchor, offset)
            if newlines:
                line += newlines
                begin = data.rfind(b"\n", anchor, offset) + 1
        else:
            # Back a little (a constraint after its table's last column): count back.
            line -= data.count(b"\n", offset, anchor)
            begin = data.rfind(b"\n", 0, offset) + 1
        self._anchor = (offset, line, begin)
        if self._ascii:
            column = offset - begin + 1
        else:
            column = len(data[begin:offset].decode("utf-8", "replace")) + 1
        return _new_origin({"file": self._file, "line": line, "column": column})

    def _here(self) -> Origin:
        """The origin of the statement being applied."""
        return self._origin(self._start)

    def _at(self, node: Node) -> Origin:
        """The origin of a node with a location (the statement's when it has none)."""
        location = node.get("location", -1)
        return self._origin(location if location >= 0 else self._start)

    def _source(self) -> _Tokens:
        """The current statement's tokens, scanned on first need."""
        if self._tokens is None:
            self._tokens = _Tokens(self._data, self._span_start, self._length)
        return self._tokens

    # --- names and the search path ------------------------------------------------------------

    def _qualify(self, schema: str | None, name: str, kinds: Iterable[str] | None = None) -> str:
        """The key of relation ``name`` (``schema`` when written, else found on the path)."""
        if schema:
            return f"{schema}.{name}"
        relations = self._relations
        for candidate in self._path:
            key = f"{candidate}.{name}"
            kind = relations.get(key)
            if kind is not None and (kinds is None or kind in kinds):
                return key
        if name.startswith("pg_") and kinds is None:
            return f"pg_catalog.{name}"
        return f"{self._create_in}.{name}"

    def _relation(self, range_var: Node | None, kinds: Iterable[str] | None = None) -> str:
        """The key of a RangeVar."""
        if not range_var:
            return ""
        return self._qualify(range_var.get("schemaname"), range_var.get("relname", ""), kinds)

    def _names_key(self, names: list[str], kinds: Iterable[str] | None = None) -> str:
        """The key of a dotted name (``[schema,] name``; a catalog prefix is dropped)."""
        if not names:
            return ""
        if len(names) == 1:
            return self._qualify(None, names[0], kinds)
        return f"{names[-2]}.{names[-1]}"

    def _table(self, range_var: Node | None) -> _Table | None:
        if not range_var:
            return None
        return self._tables.get(self._relation(range_var, ("r",)))

    def _creation_key(self, range_var: Node) -> tuple[str, str]:
        """Where a new relation goes: (schema, name)."""
        return range_var.get("schemaname") or self._create_in, range_var.get("relname", "")

    def _set_path(self, schemas: list[str]) -> None:
        self._path = [s for s in schemas if s and s != "$user" and not s.startswith("pg_temp")]
        self._refresh_creation_schema()

    def _refresh_creation_schema(self) -> None:
        """The first existing schema of the path is where unqualified objects are created."""
        self._create_in = next(
            (s for s in self._path if s in self._schemas and s != "pg_catalog"), self._default
        )

    def _take_constraint_name(self, schema: str, name: str) -> None:
        names = self._constraint_names.setdefault(schema, {})
        names[name] = names.get(name, 0) + 1

    def _free_constraint_name(self, schema: str, name: str) -> None:
        names = self._constraint_names.get(schema)
        if names and name in names:
            names[name] -= 1
            if not names[name]:
                del names[name]

    def _choose_relation_name(
        self, schema: str, name1: str, name2: str | None, label: str, constraint: bool = False
    ) -> str:
        """``ChooseRelationName``: a free relation (and constraint) name in ``schema``."""
        taken = self._constraint_names.get(schema, {})
        number = 0
        modified = label
        while True:
            name = make_object_name(name1, name2, modified)
            if f"{schema}.{name}" not in self._relations and not (constraint and name in taken):
                return name
            number += 1
            modified = f"{label}{number}"

    def _choose_constraint_name(
        self, schema: str, name1: str, name2: str | None, label: str
    ) -> str:
        """``ChooseConstraintName``: a constraint name free in ``schema``."""
        taken = self._constraint_names.get(schema, {})
        number = 0
        modified = label
        while True:
            name = make_object_name(name1, name2, modified)
            if name not in taken:
                return name
            number += 1
            modified = f"{label}{number}"

    # --- types ----------------------------------------------------------------------------

    def _type(self, type_node: Node | None) -> str:
        """A TypeName as ``format_type`` prints it, user types schema-qualified."""
        if not type_node:
            return ""
        key = _type_key(type_node)
        cached = self._builtin_types.get(key) if key is not None else None
        if cached is not None:
            return cached
        text = type_name(type_node)
        parts = strings(type_node.get("names"))
        if len(parts) == 1:
            base = parts[0]
            if base in SERIAL_TYPES:
                return text
            if base not in _PG_TYPES:
                return f"{self._type_schema(base)}.{text}"
        elif len(parts) > 1 and parts[-2] != "pg_catalog":
            return text
        # PostgreSQL's own types print the same whatever the search path: worth remembering.
        if key is not None:
            self._builtin_types[key] = text
        return text

    def _type_schema(self, name: str) -> str:
        for schema in self._path:
            key = f"{schema}.{name}"
            if key in self._types or self._relations.get(key) in _ROW_TYPE_KINDS:
                return schema
        return self._create_in

    # --- expressions ----------------------------------------------------------------------

    def _simple(self, node: Any) -> str | None:
        """A constant, cast, plain function call or column printed from the tree; else None."""
        kind, inner = unwrap(node)
        if kind == "A_Const":
            if inner.get("isnull"):
                return "NULL"
            if "sval" in inner:
                return quote_literal(str(constant(node)))
            if "boolval" in inner:
                return "true" if constant(node) else "false"
            if "bsval" in inner:
                return None
            value = constant(node)
            if isinstance(value, int) and value < 0:
                # A negative constant reads back as a literal cast to its type.
                return f"'{value}'::integer"
            if isinstance(value, str) and value.startswith("-"):
                whole = value.lstrip("-").isdigit() and int(value) >= _SERIAL_MINIMUM["bigint"]
                return f"'{value}'::{'bigint' if whole else 'numeric'}"
            return str(value)
        if kind == "TypeCast":
            argument = self._simple(inner.get("arg"))
            if argument is None or argument.startswith("-"):
                return None
            return f"{argument}::{self._type(inner.get('typeName'))}"
        if kind == "FuncCall":
            if inner.get("funcformat") != "COERCE_EXPLICIT_CALL" or any(
                key in inner
                for key in ("agg_order", "agg_filter", "over", "agg_within_group", "agg_distinct")
            ):
                return None
            if inner.get("func_variadic"):
                return None
            name = ".".join(_quote(n) for n in strings(inner.get("funcname")))
            if inner.get("agg_star"):
                return f"{name}(*)"
            arguments = []
            for argument in inner.get("args") or ():
                text = self._simple(argument)
                if text is None:
                    return None
                arguments.append(text)
            return f"{name}({', '.join(arguments)})"
        if kind == "SQLValueFunction":
            if "typmod" in inner and inner.get("typmod", -1) >= 0:
                return None
            return _SQL_VALUE_FUNCTIONS.get(inner.get("op", ""))
        if kind == "ColumnRef":
            fields = inner.get("fields") or ()
            if any("A_Star" in f for f in fields):
                return None
            return ".".join(_quote(n) for n in strings(fields))
        return None

    def _default_simple(self, expression: Any, column_type: str) -> str | None:
        """A simple default printed as pg_get_expr prints it: a string literal cast to the
        column's type, ``nextval`` on the sequence's qualified name; "" for NULL; None when
        the expression is not simple."""
        kind, inner = unwrap(expression)
        if kind == "A_Const":
            if inner.get("isnull"):
                return ""
            if "sval" in inner:
                return f"{quote_literal(str(constant(expression)))}::{_bare(column_type)}"
        elif kind == "FuncCall" and function_name(inner) == "nextval":
            arguments: list[Any] = inner.get("args") or []
            name = constant(arguments[0]) if len(arguments) == 1 else None
            if isinstance(name, str) and unwrap(arguments[0])[0] == "A_Const":
                parts = [_unquote(p) for p in name.split(".")]
                key = self._names_key(parts, ("S",))
                schema, _dot, sequence = key.partition(".")
                return f"nextval({quote_literal(_sql_name(schema, sequence))}::regclass)"
        return self._simple(expression)

    def _default_text(self, constraint: Node, column_type: str) -> str | None:
        """A column constraint's DEFAULT expression (None for DEFAULT NULL, which PostgreSQL
        does not store)."""
        expression = constraint.get("raw_expr")
        text = self._default_simple(expression, column_type)
        if text is not None:
            return text or None
        tokens = self._source()
        keyword = tokens.find(tokens.at(constraint.get("location", self._start)), "DEFAULT")
        return tokens.expression(keyword + 1, _DEFAULT_STOPS)

    def _loose_default_text(self, expression: Any, column_type: str) -> str | None:
        """ALTER COLUMN SET DEFAULT's expression (its node has no location of its own)."""
        text = self._default_simple(expression, column_type)
        if text is not None:
            return text or None
        tokens = self._source()
        index = tokens.at(max(_min_location(expression), self._start))
        while index > 0 and tokens.names[index - 1] != "DEFAULT":
            index -= 1
        return tokens.expression(index)

    def _keyword_group(self, node: Node, keyword: str) -> str:
        """The parenthesized text after ``keyword`` in a clause starting at ``node``'s location."""
        tokens = self._source()
        return tokens.group(tokens.find(tokens.at(node.get("location", self._start)), keyword))

    # --- statements -------------------------------------------------------------------------

    def _create_schema(self, node: Node) -> None:
        name = node.get("schemaname") or (node.get("authrole") or {}).get("rolename", "")
        if not name:
            return
        self._schemas.add(name)
        self._refresh_creation_schema()
        elements = node.get("schemaElts") or ()
        if not elements:
            return
        # The schema's own statements create their objects in it.
        path, creation = self._path, self._create_in
        self._path, self._create_in = [name, *path], name
        try:
            for element in elements:
                kind, inner = unwrap(element)
                handler = self._handlers.get(kind)
                if handler is not None:
                    location = _min_location(inner)
                    self._start = location if location >= 0 else self._start
                    handler(inner)
        finally:
            self._path, self._create_in = path, creation

    # CREATE TABLE ------------------------------------------------------------------------

    def _create_table(self, node: Node) -> None:
        relation = node.get("relation") or {}
        persistence = relation.get("relpersistence")
        if persistence == "t":
            return
        schema, name = self._creation_key(relation)
        key = f"{schema}.{name}"
        if key in self._relations:
            if node.get("if_not_exists"):
                return
            self._drop_relation(key, cascade=False)
        if node.get("partspec") or node.get("partbound") or name in EXCLUDED_TABLES:
            # Partitioned tables and partitions are not plain tables: introspection skips them.
            self._relations[key] = "p"
            return
        table = _Table(schema, name, self._here())
        table.unlogged = persistence == "u"
        self._tables[key] = table
        self._relations[key] = "r"
        pending: list[tuple[Node, str | None]] = []
        for parent in node.get("inhRelations") or ():
            self._inherit(table, self._table(unwrap(parent)[1]), pending)
        add_column = self._add_column
        # Column origins are counted here, from one column to the next: the same count
        # _origin makes, without a call per column.
        data, file, ascii_only = self._data, self._file, self._ascii
        anchor, line, begin = self._anchor
        columns = table.columns
        known_types = self._builtin_types
        for element in node.get("tableElts") or ():
            item = element.get("ColumnDef")
            if item is None:
                ((kind, item),) = element.items()
                if kind == "Constraint":
                    pending.append((item, None))
                elif kind == "TableLikeClause":
                    self._like(table, item, pending)
                continue
            location = item.get("location", -1)
            origin = None
            if ascii_only and location >= anchor:
                newlines = data.count(b"\n", anchor, location)
                if newlines:
                    line += newlines
                    begin = data.rfind(b"\n", anchor, location) + 1
                anchor = location
                origin = _new_origin({"file": file, "line": line, "column": location - begin + 1})
            name = item.get("colname", "")
            # The common column, a known type and no constraints, without a call.
            if origin is not None and "constraints" not in item and name not in columns:
                type_text = known_types.get(_type_key(item.get("typeName")))
                if type_text is not None:
                    record = _COLUMN_DEFAULTS.copy()
                    record["name"] = name
                    record["type"] = type_text
                    record["origin"] = origin
                    columns[name] = record
                    continue
            add_column(table, item, pending, origin)
        if anchor > self._anchor[0]:
            self._anchor = (anchor, line, begin)
        if pending:
            self._add_constraints(table, pending, creating=True)

    def _add_column(
        self,
        table: _Table,
        definition: Node,
        pending: list[tuple[Node, str | None]],
        origin: Origin | None = None,
    ) -> None:
        name = definition.get("colname", "")
        type_text = self._type(definition.get("typeName"))
        existing = table.columns.get(name)
        if existing is not None:
            # A column also inherited: the local definition merges into it.
            column = existing
        else:
            column = _column_record(
                name, type_text, origin if origin is not None else self._at(definition)
            )
            table.columns[name] = column
        serial = SERIAL_TYPES.get(type_text)
        if serial is not None:
            column["type"] = serial
            column["nullable"] = False
            self._serial_sequence(table, name, serial, column)
        for item in definition.get("constraints") or ():
            constraint = item["Constraint"]
            contype = constraint.get("contype")
            if contype == "CONSTR_NOTNULL":
                column["nullable"] = False
            elif contype == "CONSTR_NULL":
                column["nullable"] = True
            elif contype == "CONSTR_DEFAULT":
                column["default"] = self._default_text(constraint, column["type"])
            elif contype == "CONSTR_IDENTITY":
                column["identity"] = _IDENTITY.get(constraint.get("generated_when", "a"), "ALWAYS")
                column["nullable"] = False
                self._identity_sequence(table, name)
            elif contype == "CONSTR_GENERATED":
                column["generated"] = True
                column["default"] = self._keyword_group(constraint, "GENERATED")
            elif contype.startswith("CONSTR_ATTR_") and pending:
                # DEFERRABLE / INITIALLY ... written after a column constraint modify it.
                previous, owner = pending[-1]
                previous = dict(previous)
                if contype == "CONSTR_ATTR_DEFERRABLE":
                    previous["deferrable"] = True
                elif contype == "CONSTR_ATTR_NOT_DEFERRABLE":
                    previous["deferrable"] = False
                elif contype == "CONSTR_ATTR_DEFERRED":
                    previous["initdeferred"] = True
                elif contype == "CONSTR_ATTR_IMMEDIATE":
                    previous["initdeferred"] = False
                pending[-1] = (previous, owner)
            elif contype in (
                "CONSTR_PRIMARY",
                "CONSTR_UNIQUE",
                "CONSTR_CHECK",
                "CONSTR_FOREIGN",
                "CONSTR_EXCLUSION",
            ):
                pending.append((constraint, name))

    def _serial_sequence(
        self, table: _Table, column: str, data_type: str, record: dict[str, Any]
    ) -> None:
        """The sequence a serial column owns, and the default that reads it."""
        name = self._choose_relation_name(table.schema, table.name, column, "seq")
        key = f"{table.schema}.{name}"
        self._relations[key] = "S"
        self._sequences[key] = {
            "schema": table.schema,
            "name": name,
            "data_type": data_type,
            "start": 1,
            "increment": 1,
            "minimum": 1,
            "maximum": _SERIAL_MAXIMUM[data_type],
            "cache": 1,
            "cycle": False,
            "owned_by": (table.schema, table.name, column),
            "origin": record["origin"],
        }
        table.owned.append(key)
        record["default"] = f"nextval({quote_literal(_sql_name(table.schema, name))}::regclass)"

    def _identity_sequence(self, table: _Table, column: str) -> None:
        """An identity column's sequence: not listed, but its name is taken."""
        name = self._choose_relation_name(table.schema, table.name, column, "seq")
        key = f"{table.schema}.{name}"
        self._relations[key] = "S"
        table.owned.append(key)

    def _inherit(
        self, table: _Table, parent: _Table | None, pending: list[tuple[Node, str | None]]
    ) -> None:
        """INHERITS: the parent's columns (merged by name), NOT NULL, defaults and checks."""
        if parent is None:
            return
        for name, column in parent.columns.items():
            mine = table.columns.get(name)
            if mine is None:
                copy = dict(column)
                copy["identity"] = None
                copy["comment"] = None
                table.columns[name] = copy
            elif not column["nullable"]:
                mine["nullable"] = False
        for constraint in parent.constraints.values():
            if constraint.kind == "c" and constraint.name not in table.constraints:
                inherited = constraint.copy()
                table.constraints[inherited.name] = inherited
                self._take_constraint_name(table.schema, inherited.name)

    def _like(self, table: _Table, clause: Node, pending: list[tuple[Node, str | None]]) -> None:
        """LIKE: the columns with NOT NULL, the rest as its INCLUDING options say."""
        source = self._tables.get(self._relation(clause.get("relation")))
        if source is None:
            return
        options = clause.get("options", 0)
        for name, column in source.columns.items():
            copy = dict(column)
            if not options & _LIKE_COMMENTS:
                copy["comment"] = None
            if column["generated"]:
                if not options & _LIKE_GENERATED:
                    copy["generated"] = False
                    copy["default"] = None
            elif not options & _LIKE_DEFAULTS:
                copy["default"] = None
            if column["identity"] is not None:
                if options & _LIKE_IDENTITY:
                    self._identity_sequence(table, name)
                else:
                    copy["identity"] = None
            table.columns[name] = copy
        if options & _LIKE_CONSTRAINTS:
            for constraint in source.constraints.values():
                if constraint.kind == "c":
                    copy_constraint = constraint.copy()
                    table.constraints[copy_constraint.name] = copy_constraint
                    self._take_constraint_name(table.schema, copy_constraint.name)
        if options & _LIKE_INDEXES:
            for constraint in source.constraints.values():
                if constraint.kind in _INDEX_KINDS:
                    copy_constraint = constraint.copy()
                    label = {"p": "pkey", "u": "key", "x": "excl"}[constraint.kind]
                    addition = (
                        None
                        if constraint.kind == "p"
                        else _name_addition(constraint.columns + constraint.include)
                    )
                    copy_constraint.name = self._choose_relation_name(
                        table.schema, table.name, addition, label, constraint=True
                    )
                    self._register_index_constraint(table, copy_constraint)
            for index in source.indexes.values():
                copy_index = index.copy()
                addition = _name_addition(index.keys + list(index.include))
                copy_index.name = self._choose_relation_name(
                    table.schema, table.name, addition, "idx"
                )
                self._register_index(table, copy_index)

    # constraints ------------------------------------------------------------------------

    def _add_constraints(
        self, table: _Table, pending: list[tuple[Node, str | None]], *, creating: bool
    ) -> None:
        """Add constraints in PostgreSQL's order: checks, primary key, unique and exclusion,
        then foreign keys (the order generated names are chosen in)."""
        if len(pending) == 1:
            # The usual case (one key, or one ALTER TABLE ... ADD CONSTRAINT): no ordering.
            constraint, column = pending[0]
            contype = constraint.get("contype")
            if contype == "CONSTR_FOREIGN":
                self._add_foreign_key(table, constraint, column, creating)
            elif contype == "CONSTR_CHECK":
                self._add_check(table, constraint, creating)
            else:
                self._add_index_constraint(table, constraint, column)
            return
        checks, primary, indexed, foreign = [], [], [], []
        for item in pending:
            contype = item[0].get("contype")
            if contype == "CONSTR_CHECK":
                checks.append(item)
            elif contype == "CONSTR_PRIMARY":
                primary.append(item)
            elif contype == "CONSTR_FOREIGN":
                foreign.append(item)
            else:
                indexed.append(item)
        for constraint, _column in checks:
            self._add_check(table, constraint, creating)
        keyed = primary + indexed
        if creating and len(keyed) > 1:
            keyed = self._without_duplicates(keyed)
        for constraint, column in keyed:
            self._add_index_constraint(table, constraint, column)
        for constraint, column in foreign:
            self._add_foreign_key(table, constraint, column, creating)

    @staticmethod
    def _without_duplicates(
        keyed: list[tuple[Node, str | None]],
    ) -> list[tuple[Node, str | None]]:
        """CREATE TABLE keeps one of identical key specifications (the primary key first),
        with a name when one of them has one."""
        kept: list[tuple[Node, str | None]] = []
        signatures: list[tuple[Any, ...]] = []
        for constraint, column in keyed:
            if constraint.get("contype") == "CONSTR_EXCLUSION":
                kept.append((constraint, column))
                signatures.append(("x", len(kept)))
                continue
            keys = (column,) if column else tuple(strings(constraint.get("keys")))
            signature = (
                keys,
                tuple(strings(constraint.get("including"))),
                bool(constraint.get("nulls_not_distinct")),
                bool(constraint.get("deferrable")),
                bool(constraint.get("initdeferred")),
            )
            if signature in signatures:
                position = signatures.index(signature)
                prior, prior_column = kept[position]
                if not prior.get("conname") and constraint.get("conname"):
                    prior = dict(prior)
                    prior["conname"] = constraint["conname"]
                    kept[position] = (prior, prior_column)
                continue
            kept.append((constraint, column))
            signatures.append(signature)
        return kept

    def _add_check(self, table: _Table, node: Node, creating: bool) -> None:
        expression = node.get("raw_expr")
        refs = frozenset(_column_refs(expression) & table.columns.keys())
        name = node.get("conname")
        if not name:
            single = next(iter(refs)) if len(refs) == 1 else None
            name = self._choose_constraint_name(table.schema, table.name, single, "check")
        constraint = _Constraint(name, "c", self._at(node))
        constraint.expression = self._keyword_group(node, "CHECK")
        constraint.refs = refs
        constraint.validated = creating or not node.get("skip_validation")
        self._store_constraint(table, constraint)

    def _add_index_constraint(self, table: _Table, node: Node, column: str | None) -> None:
        contype = node.get("contype")
        origin = self._at(node)
        if node.get("indexname"):
            self._constraint_from_index(table, node, origin)
            return
        if contype == "CONSTR_EXCLUSION":
            self._add_exclusion(table, node, origin)
            return
        kind = "p" if contype == "CONSTR_PRIMARY" else "u"
        columns = (column,) if column else tuple(strings(node.get("keys")))
        include = tuple(strings(node.get("including")))
        name = node.get("conname")
        if not name:
            if kind == "p":
                name = self._choose_relation_name(table.schema, table.name, None, "pkey", True)
            else:
                addition = _name_addition(columns + include)
                name = self._choose_relation_name(table.schema, table.name, addition, "key", True)
        constraint = _Constraint(name, kind, origin)
        constraint.columns = columns
        constraint.include = include
        constraint.nulls_not_distinct = bool(node.get("nulls_not_distinct"))
        constraint.deferrable = bool(node.get("deferrable"))
        constraint.deferred = bool(node.get("initdeferred"))
        if kind == "p":
            for name_ in columns:
                column_record = table.columns.get(name_)
                if column_record is not None:
                    column_record["nullable"] = False
        self._register_index_constraint(table, constraint)

    def _add_exclusion(self, table: _Table, node: Node, origin: Origin) -> None:
        elements: list[tuple[str | None, Any]] = []
        for item in node.get("exclusions") or ():
            pair = unwrap(item)[1].get("items") or ()
            element = unwrap(pair[0])[1] if pair else {}
            elements.append((element.get("name"), element.get("expr")))
        include = tuple(strings(node.get("including")))
        name = node.get("conname")
        if not name:
            addition = _name_addition(_index_column_names(elements) + list(include))
            name = self._choose_relation_name(table.schema, table.name, addition, "excl", True)
        constraint = _Constraint(name, "x", origin)
        constraint.columns = tuple(n for n, _e in elements if n)
        constraint.include = include
        constraint.deferrable = bool(node.get("deferrable"))
        constraint.deferred = bool(node.get("initdeferred"))
        # The element list and WHERE, as written.
        tokens = self._source()
        keyword = tokens.find(tokens.at(node.get("location", self._start)), "EXCLUDE")
        opening = tokens.find(keyword, _LPAREN)
        closing = tokens.match(opening)
        items = [tokens.text(a, b) for a, b in tokens.split(opening)]
        text = f"USING {node.get('access_method') or 'gist'} ({', '.join(items)})"
        if node.get("where_clause"):
            where = tokens.find_top(closing + 1, "WHERE")
            if where < len(tokens):
                text += f" WHERE ({tokens.group(where)})"
        constraint.exclusion = text
        self._register_index_constraint(table, constraint)

    def _constraint_from_index(self, table: _Table, node: Node, origin: Origin) -> None:
        """ADD CONSTRAINT ... USING INDEX: the index becomes the constraint's (and its name)."""
        index_name = node.get("indexname", "")
        index = table.indexes.pop(index_name, None)
        if index is None:
            return
        self._relations.pop(f"{table.schema}.{index_name}", None)
        self._index_table.pop(f"{table.schema}.{index_name}", None)
        kind = "p" if node.get("contype") == "CONSTR_PRIMARY" else "u"
        constraint = _Constraint(node.get("conname") or index_name, kind, origin)
        constraint.columns = index.columns
        constraint.include = index.include
        constraint.nulls_not_distinct = index.nulls_not_distinct
        constraint.deferrable = bool(node.get("deferrable"))
        constraint.deferred = bool(node.get("initdeferred"))
        if kind == "p":
            for name in index.columns:
                column = table.columns.get(name)
                if column is not None:
                    column["nullable"] = False
        self._register_index_constraint(table, constraint)

    def _add_foreign_key(
        self, table: _Table, node: Node, column: str | None, creating: bool
    ) -> None:
        columns = (column,) if column else tuple(strings(node.get("fk_attrs")))
        target = node.get("pktable") or {}
        reference = self._relation(target, ("r",))
        ref_columns = tuple(strings(node.get("pk_attrs")))
        if not ref_columns:
            referenced = table if reference == table.key else self._tables.get(reference)
            ref_columns = referenced.primary_key() if referenced is not None else ()
        name = node.get("conname")
        if not name:
            name = self._choose_constraint_name(
                table.schema, table.name, _name_addition(columns), "fkey"
            )
        constraint = _Constraint(name, "f", self._at(node))
        constraint.columns = columns
        schema, _dot, relname = reference.partition(".")
        constraint.references = (schema, relname)
        constraint.ref_columns = ref_columns
        constraint.on_delete = _FK_ACTIONS.get(node.get("fk_del_action", "a"), "NO ACTION")
        constraint.on_update = _FK_ACTIONS.get(node.get("fk_upd_action", "a"), "NO ACTION")
        constraint.delete_columns = tuple(strings(node.get("fk_del_set_cols")))
        constraint.match_full = node.get("fk_matchtype") == "f"
        constraint.deferrable = bool(node.get("deferrable"))
        constraint.deferred = bool(node.get("initdeferred"))
        constraint.validated = creating or not node.get("skip_validation")
        self._store_constraint(table, constraint)

    def _store_constraint(self, table: _Table, constraint: _Constraint) -> None:
        previous = table.constraints.get(constraint.name)
        if previous is not None:
            self._remove_constraint(table, previous)
        table.constraints[constraint.name] = constraint
        self._take_constraint_name(table.schema, constraint.name)

    def _register_index_constraint(self, table: _Table, constraint: _Constraint) -> None:
        """A primary key, unique or exclusion constraint and the index of the same name."""
        self._store_constraint(table, constraint)
        key = f"{table.schema}.{constraint.name}"
        self._relations[key] = "i"
        self._index_table[key] = table.key

    def _register_index(self, table: _Table, index: _Index) -> None:
        key = f"{table.schema}.{index.name}"
        self._relations[key] = "i"
        self._index_table[key] = table.key
        table.indexes[index.name] = index

    def _remove_constraint(self, table: _Table, constraint: _Constraint) -> None:
        table.constraints.pop(constraint.name, None)
        self._free_constraint_name(table.schema, constraint.name)
        if constraint.kind in _INDEX_KINDS:
            key = f"{table.schema}.{constraint.name}"
            self._relations.pop(key, None)
            self._index_table.pop(key, None)

    # CREATE TABLE AS, SELECT INTO --------------------------------------------------------

    def _create_table_as(self, node: Node) -> None:
        into = node.get("into") or {}
        if node.get("objtype") == "OBJECT_MATVIEW":
            self._define_view(into.get("rel") or {}, node.get("query"), True, False)
            return
        self._table_from_query(into, bool(node.get("if_not_exists")))

    def _select(self, node: Node) -> None:
        into = node.get("intoClause")
        if into:
            self._table_from_query(into, False)
            return
        # SELECT pg_catalog.set_config('search_path', '...', false), as pg_dump writes it.
        targets: list[Any] = node.get("targetList") or []
        if len(targets) != 1 or node.get("fromClause"):
            return
        kind, call = unwrap(unwrap(targets[0])[1].get("val"))
        if kind != "FuncCall" or function_name(call) != "set_config":
            return
        arguments = [constant(a) for a in call.get("args") or ()]
        if len(arguments) == 3 and arguments[0] == "search_path" and isinstance(arguments[1], str):
            self._set_path([_unquote(p.strip()) for p in arguments[1].split(",")])

    def _table_from_query(self, into: Node, if_not_exists: bool) -> None:
        relation = into.get("rel") or {}
        if relation.get("relpersistence") == "t":
            return
        schema, name = self._creation_key(relation)
        key = f"{schema}.{name}"
        if key in self._relations:
            if if_not_exists:
                return
            self._drop_relation(key, cascade=False)
        table = _Table(schema, name, self._here())
        table.unlogged = relation.get("relpersistence") == "u"
        self._tables[key] = table
        self._relations[key] = "r"

    # ALTER TABLE -------------------------------------------------------------------------

    def _alter_table(self, node: Node) -> None:
        if node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
            return
        commands = [c["AlterTableCmd"] for c in node.get("cmds") or () if "AlterTableCmd" in c]
        for command in commands:
            if command.get("subtype") == "AT_AttachPartition":
                # The partitioned table is not listed, but the table attached leaves the list.
                key = self._relation(unwrap(command.get("def"))[1].get("name"), ("r",))
                if key in self._tables:
                    self._drop_relation(key, cascade=False)
                    self._relations[key] = "p"
        table = self._table(node.get("relation"))
        if table is None:
            return
        if len(commands) > 1:
            # PostgreSQL runs an ALTER TABLE's drops before the rest of its subcommands.
            commands.sort(key=_alter_pass)
        pending: list[tuple[Node, str | None]] = []
        for command in commands:
            self._alter_command(table, command, pending)
            if table.key not in self._tables:
                return
        if pending:
            self._add_constraints(table, pending, creating=False)

    def _alter_command(
        self, table: _Table, command: Node, pending: list[tuple[Node, str | None]]
    ) -> None:
        subtype = command.get("subtype", "")
        definition = command.get("def")
        if subtype == "AT_AddConstraint":
            pending.append((unwrap(definition)[1], None))
            return
        name = command.get("name", "")
        column = table.columns.get(name)
        if subtype == "AT_AddColumn":
            column_def = unwrap(definition)[1]
            if column_def.get("colname", "") in table.columns:
                return
            self._add_column(table, column_def, pending)
        elif subtype == "AT_DropColumn":
            if column is not None:
                self._drop_column(table, name, command.get("behavior") == "DROP_CASCADE")
        elif subtype == "AT_AlterColumnType":
            if column is not None:
                column["type"] = self._type(unwrap(definition)[1].get("typeName"))
        elif subtype == "AT_ColumnDefault":
            if column is not None:
                column["default"] = (
                    None
                    if definition is None
                    else self._loose_default_text(definition, column["type"])
                )
        elif subtype == "AT_SetNotNull":
            if column is not None:
                column["nullable"] = False
        elif subtype == "AT_DropNotNull":
            if column is not None:
                column["nullable"] = True
        elif subtype == "AT_AddIdentity":
            if column is not None:
                when = unwrap(definition)[1].get("generated_when", "a")
                column["identity"] = _IDENTITY.get(when, "ALWAYS")
                column["nullable"] = False
                self._identity_sequence(table, name)
        elif subtype == "AT_SetIdentity":
            if column is not None:
                for option, value in def_options(unwrap(definition)[1].get("items")).items():
                    if option == "generated":
                        code = constant(value)
                        column["identity"] = _IDENTITY_CODES.get(code, column["identity"])
        elif subtype == "AT_DropIdentity":
            if column is not None:
                column["identity"] = None
        elif subtype == "AT_DropExpression":
            if column is not None:
                column["generated"] = False
                column["default"] = None
        elif subtype == "AT_DropConstraint":
            constraint = table.constraints.get(name)
            if constraint is not None:
                self._remove_constraint(table, constraint)
        elif subtype == "AT_ValidateConstraint":
            constraint = table.constraints.get(name)
            if constraint is not None:
                constraint.validated = True
        elif subtype == "AT_AlterConstraint":
            changed = unwrap(definition)[1]
            constraint = table.constraints.get(changed.get("conname", ""))
            if constraint is not None:
                constraint.deferrable = bool(changed.get("deferrable"))
                constraint.deferred = bool(changed.get("initdeferred"))
        elif subtype == "AT_EnableRowSecurity":
            table.rls_enabled = True
        elif subtype == "AT_DisableRowSecurity":
            table.rls_enabled = False
        elif subtype == "AT_ForceRowSecurity":
            table.rls_forced = True
        elif subtype == "AT_NoForceRowSecurity":
            table.rls_forced = False
        elif subtype == "AT_SetUnLogged":
            table.unlogged = True
        elif subtype == "AT_SetLogged":
            table.unlogged = False

    def _drop_column(self, table: _Table, name: str, cascade: bool) -> None:
        """A column and the constraints and indexes on it (foreign keys to it on CASCADE)."""
        table.columns.pop(name, None)
        for constraint in list(table.constraints.values()):
            if name in constraint.columns or name in constraint.include or name in constraint.refs:
                self._remove_constraint(table, constraint)
        for index in list(table.indexes.values()):
            if name in index.columns or name in index.include or name in index.refs:
                self._drop_index(f"{table.schema}.{index.name}")
        for trigger in list(table.triggers.values()):
            if name in trigger.update_columns:
                del table.triggers[trigger.name]
        for key, sequence in list(self._sequences.items()):
            if sequence["owned_by"] == (table.schema, table.name, name):
                self._drop_sequence(key)
        if cascade:
            for other in list(self._tables.values()):
                for constraint in list(other.constraints.values()):
                    if (
                        constraint.kind == "f"
                        and constraint.references == (table.schema, table.name)
                        and name in constraint.ref_columns
                    ):
                        self._remove_constraint(other, constraint)

    # CREATE INDEX ------------------------------------------------------------------------

    def _create_index(self, node: Node) -> None:
        relation = node.get("relation") or {}
        table_key = self._relation(relation)
        table = self._tables.get(table_key)
        schema = table.schema if table is not None else table_key.partition(".")[0]
        name = node.get("idxname")
        if name and f"{schema}.{name}" in self._relations and node.get("if_not_exists"):
            return
        if table is None:
            if name:
                # An index on a view or a left-out table: not listed, its name is taken.
                self._relations[f"{schema}.{name}"] = "i"
            return
        parameters = node.get("indexParams") or ()
        elements = [unwrap(p)[1] for p in parameters]
        include = tuple(
            unwrap(p)[1].get("name", "") for p in node.get("indexIncludingParams") or ()
        )
        index = _Index("", self._here())
        index.unique = bool(node.get("unique"))
        index.method = node.get("accessMethod") or "btree"
        index.include = include
        index.nulls_not_distinct = bool(node.get("nulls_not_distinct"))
        columns: list[str] = []
        printed: list[str] = []
        refs: set[str] = set()
        tokens = None
        items: list[tuple[int, int]] = []
        if any("expr" in e for e in elements) or node.get("whereClause"):
            tokens = self._source()
            opening = tokens.find(tokens.at(relation.get("location", self._start)), _LPAREN)
            items = tokens.split(opening)
        for position, element in enumerate(elements):
            expression = element.get("expr")
            if expression is None:
                column = element.get("name", "")
                columns.append(column)
                text = _quote(column)
            else:
                assert tokens is not None
                begin, end = items[position] if position < len(items) else (0, 0)
                text = self._index_expression(tokens, begin, end, expression)
                columns.append(text)
                refs |= _column_refs(expression)
            printed.append(text + _element_options(element))
        index.columns = tuple(columns)
        index.elements = printed
        if node.get("whereClause") and tokens is not None:
            where = tokens.find_top(items[-1][1] + 1 if items else 0, "WHERE")
            index.predicate = tokens.expression(where + 1)
            refs |= _column_refs(node.get("whereClause"))
        index.refs = frozenset(refs)
        index.keys = _index_column_names([(e.get("name"), e.get("expr")) for e in elements])
        if not name:
            addition = _name_addition(index.keys + list(include))
            name = self._choose_relation_name(table.schema, table.name, addition, "idx")
        index.name = name
        self._register_index(table, index)

    @staticmethod
    def _index_expression(tokens: _Tokens, begin: int, end: int, expression: Any) -> str:
        """An index key expression as pg_get_indexdef prints a key: a function call bare,
        anything else in parentheses."""
        names = tokens.names
        if begin < end and names[begin] == _LPAREN:
            closing = tokens.match(begin)
            inner_begin, inner_end = begin + 1, closing
            # Redundant parentheses: ((a + b)) is (a + b).
            while (
                inner_begin < inner_end
                and names[inner_begin] == _LPAREN
                and tokens.match(inner_begin) == inner_end - 1
            ):
                inner_begin, inner_end = inner_begin + 1, inner_end - 1
            text = tokens.text(inner_begin, inner_end)
        else:
            # A bare function call: its name and argument list (CURRENT_DATE has none).
            opening = tokens.find(begin, _LPAREN)
            if opening >= end:
                text = tokens.text(begin, begin + 1)
            else:
                text = tokens.text(begin, min(tokens.match(opening), end - 1) + 1)
        if unwrap(expression)[0] in _FUNCTION_LIKE:
            return text
        return f"({text})"

    # views -------------------------------------------------------------------------------

    def _create_view(self, node: Node) -> None:
        self._define_view(node.get("view") or {}, node.get("query"), False, node.get("replace"))

    def _define_view(self, relation: Node, query: Any, materialized: bool, replace: Any) -> None:
        if relation.get("relpersistence") == "t":
            return
        schema, name = self._creation_key(relation)
        key = f"{schema}.{name}"
        previous = self._views.get(key)
        if key in self._relations and previous is None:
            self._drop_relation(key, cascade=False)
        view = _View(schema, name, self._here())
        view.materialized = materialized
        if previous is not None and replace:
            # CREATE OR REPLACE keeps the view's comment and privileges.
            view.comment = previous.comment
            view.grants = previous.grants
        tokens = self._source()
        start = tokens.find_top(tokens.at(relation.get("location", self._start)), "AS")
        view.definition = tokens.text(start + 1, _query_end(tokens, start))
        view.depends_on = self._read_relations(query) - {key}
        self._views[key] = view
        self._relations[key] = "m" if materialized else "v"

    def _read_relations(self, query: Any) -> set[str]:
        """The keys of the relations a query reads (common table expressions left out)."""
        ctes: set[str] = set()
        ranges: list[Node] = []
        for kind, inner in walk(query):
            if kind == "RangeVar":
                ranges.append(inner)
            elif kind == "CommonTableExpr":
                ctes.add(inner.get("ctename", ""))
        out = set()
        for range_var in ranges:
            if not range_var.get("schemaname") and range_var.get("relname") in ctes:
                continue
            out.add(self._relation(range_var))
        return out

    # functions ---------------------------------------------------------------------------

    def _create_function(self, node: Node) -> None:
        names = strings(node.get("funcname"))
        if not names:
            return
        schema = names[-2] if len(names) > 1 else self._create_in
        function = _Function(schema, names[-1], self._here())
        function.procedure = bool(node.get("is_procedure"))
        out_types = []
        table_columns = []
        for item in node.get("parameters") or ():
            parameter = unwrap(item)[1]
            mode = _PARAMETER_MODES.get(parameter.get("mode", ""), "")
            type_ = _bare(self._type(parameter.get("argType")))
            function.parameters.append((mode, parameter.get("name", ""), type_))
            if mode in ("OUT", "INOUT"):
                out_types.append(type_)
            elif mode == "TABLE":
                table_columns.append(f"{_quote(parameter.get('name', ''))} {type_}")
        return_type = node.get("returnType")
        if table_columns:
            function.returns = f"TABLE({', '.join(table_columns)})"
        elif return_type:
            returns = _bare(self._type(return_type))
            function.returns = f"SETOF {returns}" if return_type.get("setof") else returns
        elif not function.procedure:
            function.returns = out_types[0] if len(out_types) == 1 else "record"
        self._function_options(function, node.get("options"))
        body = node.get("sql_body")
        if body is not None:
            function.sql_body = True
            tokens = self._source()
            start = tokens.find_top(0, "RETURN")
            if start >= len(tokens):
                start = tokens.find_top(0, "BEGIN_P", "ATOMIC")
            function.body = tokens.text(start, len(tokens))
        key = function.key
        previous = self._functions.get(key)
        if previous is not None:
            function.comment = previous.comment
        self._functions[key] = function
        self._function_names.setdefault(f"{function.schema}.{function.name}", set()).add(key)

    def _function_options(self, function: _Function, options: Any) -> None:
        for item in options or ():
            option = unwrap(item)[1]
            name = option.get("defname", "")
            argument = option.get("arg")
            if name == "language":
                function.language = str(constant(argument) or "").lower()
            elif name == "volatility":
                function.volatility = str(constant(argument) or "volatile").upper()
            elif name == "security":
                function.security_definer = bool(constant(argument))
            elif name == "strict":
                function.strict = bool(constant(argument))
            elif name == "leakproof":
                function.leakproof = bool(constant(argument))
            elif name == "set":
                self._function_setting(function, unwrap(argument)[1])
            elif name == "as":
                parts = strings(unwrap(argument)[1].get("items"))
                function.body = parts[-1] if parts else ""

    @staticmethod
    def _function_setting(function: _Function, statement: Node) -> None:
        """SET / RESET in a function: proconfig's ``name=value`` entries."""
        kind = statement.get("kind", "")
        name = statement.get("name", "")
        if kind == "VAR_RESET_ALL":
            function.config = []
            return
        kept = [c for c in function.config if c.partition("=")[0] != name]
        if kind == "VAR_SET_VALUE":
            values = []
            for argument in statement.get("args") or ():
                value = constant(argument)
                text = str(value).lower() if isinstance(value, bool) else str(value)
                if name in _LIST_QUOTE_SETTINGS and isinstance(value, str):
                    text = _quote(value)
                values.append(text)
            kept.append(f"{name}={', '.join(values)}")
        elif kind not in ("VAR_RESET", "VAR_SET_DEFAULT"):
            return
        function.config = kept

    def _alter_function(self, node: Node) -> None:
        key = self._function_key(node.get("func") or {})
        function = self._functions.get(key or "")
        if function is not None:
            self._function_options(function, node.get("actions"))

    def _function_key(self, signature: Node) -> str | None:
        """The key of the function an ObjectWithArgs names (None when it is not known)."""
        names = strings(signature.get("objname"))
        if not names:
            return None
        schemas = [names[-2]] if len(names) > 1 else list(self._path)
        if signature.get("args_unspecified"):
            for schema in schemas:
                found = self._function_names.get(f"{schema}.{names[-1]}")
                if found and len(found) == 1:
                    return next(iter(found))
            return None
        if "objfuncargs" in signature:
            types = [
                _bare(self._type(unwrap(p)[1].get("argType")))
                for p in signature["objfuncargs"]
                if _PARAMETER_MODES.get(unwrap(p)[1].get("mode", ""), "") not in ("OUT", "TABLE")
            ]
        else:
            types = [_bare(self._type(unwrap(t)[1])) for t in signature.get("objargs") or ()]
        arguments = ", ".join(types)
        for schema in schemas:
            key = f"{schema}.{names[-1]}({arguments})"
            if key in self._functions:
                return key
        return None

    # triggers and policies -----------------------------------------------------------------

    def _create_trigger(self, node: Node) -> None:
        table = self._table(node.get("relation"))
        if table is None:
            return
        name = node.get("trigname", "")
        trigger = _Trigger(name, self._here())
        trigger.timing = node.get("timing", 0)
        trigger.events = node.get("events", 0)
        trigger.update_columns = tuple(strings(node.get("columns")))
        trigger.row_level = bool(node.get("row"))
        trigger.function = self._trigger_function(strings(node.get("funcname")))
        trigger.arguments = tuple(strings(node.get("args")))
        trigger.constraint = bool(node.get("isconstraint"))
        trigger.deferrable = bool(node.get("deferrable"))
        trigger.deferred = bool(node.get("initdeferred"))
        if node.get("whenClause") is not None:
            tokens = self._source()
            trigger.when = tokens.group(tokens.find_top(0, "WHEN"))
        transitions = []
        for item in node.get("transitionRels") or ():
            transition = unwrap(item)[1]
            word = "NEW" if transition.get("isNew") else "OLD"
            transitions.append(f"{word} TABLE AS {_quote(transition.get('name', ''))}")
        trigger.referencing = " ".join(transitions)
        table.triggers[name] = trigger

    def _trigger_function(self, names: list[str]) -> tuple[str, str]:
        if len(names) > 1:
            return names[-2], names[-1]
        name = names[-1] if names else ""
        for schema in self._path:
            if f"{schema}.{name}" in self._function_names:
                return schema, name
        if name in _PG_TRIGGER_FUNCTIONS:
            return "pg_catalog", name
        return self._create_in, name

    def _create_policy(self, node: Node) -> None:
        table = self._table(node.get("table"))
        if table is None:
            return
        name = node.get("policy_name", "")
        tokens = self._source() if node.get("qual") or node.get("with_check") else None
        using = with_check = None
        if tokens is not None and node.get("qual"):
            using = tokens.group(tokens.find_top(0, "USING"))
        if tokens is not None and node.get("with_check"):
            with_check = tokens.group(tokens.find_top(0, "WITH", "CHECK"))
        table.policies[name] = Policy(
            name,
            permissive=bool(node.get("permissive")),
            command=(node.get("cmd_name") or "all").upper(),
            roles=_roles(node.get("roles")),
            using=using,
            with_check=with_check,
            origin=self._here(),
        )

    def _alter_policy(self, node: Node) -> None:
        table = self._table(node.get("table"))
        policy = table.policies.get(node.get("policy_name", "")) if table is not None else None
        if table is None or policy is None:
            return
        changes: dict[str, Any] = {}
        if node.get("roles"):
            changes["roles"] = _roles(node.get("roles"))
        tokens = self._source()
        if node.get("qual"):
            changes["using"] = tokens.group(tokens.find_top(0, "USING"))
        if node.get("with_check"):
            changes["with_check"] = tokens.group(tokens.find_top(0, "WITH", "CHECK"))
        table.policies[policy.name] = dataclasses.replace(policy, **changes)

    # types and sequences -------------------------------------------------------------------

    def _create_enum(self, node: Node) -> None:
        key = self._new_type_key(strings(node.get("typeName")))
        schema, _dot, name = key.partition(".")
        labels = strings(node.get("vals"))
        self._enums[key] = (EnumType(schema, name, tuple(labels), self._here()), labels)
        self._types.add(key)

    def _new_type_key(self, names: list[str]) -> str:
        if len(names) > 1:
            return f"{names[-2]}.{names[-1]}"
        return f"{self._create_in}.{names[-1] if names else ''}"

    def _alter_enum(self, node: Node) -> None:
        key = self._names_key_of_type(strings(node.get("typeName")))
        found = self._enums.get(key)
        if found is None:
            return
        enum, labels = found
        new = node.get("newVal", "")
        old = node.get("oldVal")
        if old is not None:
            labels = [new if label == old else label for label in labels]
        elif new not in labels:
            neighbour = node.get("newValNeighbor")
            if neighbour in labels:
                position = labels.index(neighbour) + (1 if node.get("newValIsAfter") else 0)
                labels.insert(position, new)
            else:
                labels.append(new)
        self._enums[key] = (
            EnumType(enum.schema, enum.name, tuple(labels), enum.origin),
            labels,
        )

    def _names_key_of_type(self, names: list[str]) -> str:
        """The key of a type named ``[schema,] name`` (found on the search path)."""
        if len(names) > 1:
            return f"{names[-2]}.{names[-1]}"
        name = names[-1] if names else ""
        return f"{self._type_schema(name)}.{name}"

    def _create_domain(self, node: Node) -> None:
        self._types.add(self._new_type_key(strings(node.get("domainname"))))

    def _create_range(self, node: Node) -> None:
        self._types.add(self._new_type_key(strings(node.get("typeName"))))

    def _create_composite(self, node: Node) -> None:
        schema, name = self._creation_key(node.get("typevar") or {})
        self._relations[f"{schema}.{name}"] = "c"

    def _create_sequence(self, node: Node) -> None:
        relation = node.get("sequence") or {}
        if relation.get("relpersistence") == "t":
            return
        schema, name = self._creation_key(relation)
        key = f"{schema}.{name}"
        if key in self._relations:
            if node.get("if_not_exists"):
                return
            self._drop_relation(key, cascade=False)
        sequence: dict[str, Any] = {
            "schema": schema,
            "name": name,
            "data_type": "bigint",
            "start": None,
            "increment": 1,
            "minimum": None,
            "maximum": None,
            "cache": 1,
            "cycle": False,
            "owned_by": None,
            "origin": self._here(),
        }
        self._sequence_options(sequence, node.get("options"), creating=True)
        self._sequences[key] = sequence
        self._relations[key] = "S"

    def _alter_sequence(self, node: Node) -> None:
        sequence = self._sequences.get(self._relation(node.get("sequence"), ("S",)))
        if sequence is not None:
            self._sequence_options(sequence, node.get("options"), creating=False)

    def _sequence_options(self, sequence: dict[str, Any], options: Any, *, creating: bool) -> None:
        """CREATE/ALTER SEQUENCE options, with PostgreSQL's defaults for what is left out."""
        given = def_options(options)
        old_type = sequence["data_type"]
        if "as" in given:
            sequence["data_type"] = _bare(self._type(unwrap(given["as"])[1]))
        data_type = sequence["data_type"]
        if "increment" in given:
            sequence["increment"] = _integer(given["increment"], 1)
        ascending = sequence["increment"] > 0
        type_max = _SERIAL_MAXIMUM.get(data_type, _SERIAL_MAXIMUM["bigint"])
        type_min = _SERIAL_MINIMUM.get(data_type, _SERIAL_MINIMUM["bigint"])
        # A bound at the old type's limit follows a new type, as ALTER SEQUENCE AS does.
        if data_type != old_type and not creating:
            if sequence["maximum"] == _SERIAL_MAXIMUM.get(old_type):
                sequence["maximum"] = None
            if sequence["minimum"] == _SERIAL_MINIMUM.get(old_type):
                sequence["minimum"] = None
        for option, field_name in (("minvalue", "minimum"), ("maxvalue", "maximum")):
            if option in given:
                value = given[option]
                sequence[field_name] = None if value is None else _integer(value, 0)
        if sequence["minimum"] is None:
            sequence["minimum"] = 1 if ascending else type_min
        if sequence["maximum"] is None:
            sequence["maximum"] = type_max if ascending else -1
        if "start" in given:
            sequence["start"] = _integer(given["start"], 1)
        elif sequence["start"] is None:
            sequence["start"] = sequence["minimum"] if ascending else sequence["maximum"]
        if "cache" in given:
            sequence["cache"] = _integer(given["cache"], 1)
        if "cycle" in given:
            sequence["cycle"] = bool(constant(given["cycle"]))
        if "owned_by" in given:
            parts = strings(unwrap(given["owned_by"])[1].get("items"))
            if len(parts) >= 2 and parts[-1] != "none":
                table_key = self._names_key(parts[:-1], ("r",))
                schema, _dot, table = table_key.partition(".")
                sequence["owned_by"] = (schema, table, parts[-1])
            else:
                sequence["owned_by"] = None

    def _create_extension(self, node: Node) -> None:
        self._extensions.add(node.get("extname", ""))

    # comments and grants -----------------------------------------------------------------

    def _comment(self, node: Node) -> None:
        kind = node.get("objtype", "")
        text = node.get("comment") or None  # an empty comment removes it, as NULL does
        target = node.get("object")
        if kind in ("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE"):
            key = self._function_key(unwrap(target)[1])
            function = self._functions.get(key or "")
            if function is not None:
                function.comment = text
            return
        names = strings(unwrap(target)[1].get("items"))
        if kind == "OBJECT_TABLE":
            table = self._tables.get(self._names_key(names, ("r",)))
            if table is not None:
                table.comment = text
        elif kind in ("OBJECT_VIEW", "OBJECT_MATVIEW"):
            view = self._views.get(self._names_key(names, ("v", "m")))
            if view is not None:
                view.comment = text
        elif kind == "OBJECT_COLUMN" and len(names) >= 2:
            table = self._tables.get(self._names_key(names[:-1], ("r",)))
            column = table.columns.get(names[-1]) if table is not None else None
            if column is not None:
                column["comment"] = text

    def _grant(self, node: Node) -> None:
        if node.get("objtype") != "OBJECT_TABLE":
            return
        targets: list[_Table | _View] = []
        if node.get("targtype") == "ACL_TARGET_ALL_IN_SCHEMA":
            schemas = set(strings(node.get("objects")))
            targets.extend(t for t in self._tables.values() if t.schema in schemas)
            targets.extend(v for v in self._views.values() if v.schema in schemas)
        elif node.get("targtype", "ACL_TARGET_OBJECT") == "ACL_TARGET_OBJECT":
            for item in node.get("objects") or ():
                key = self._relation(unwrap(item)[1], ("r", "v", "m"))
                found = self._tables.get(key) or self._views.get(key)
                if found is not None:
                    targets.append(found)
        if not targets:
            return
        privileges: list[str] = []
        if "privileges" in node:
            for item in node["privileges"]:
                access = unwrap(item)[1]
                if not access.get("cols"):  # column privileges live in attacl
                    privileges.append(access.get("priv_name", "").upper())
        else:
            privileges = list(_ALL_TABLE_PRIVILEGES)
        grantees = _grantees(node.get("grantees"))
        option = bool(node.get("grant_option"))
        for target in targets:
            grants = target.grants
            for privilege in privileges:
                for grantee in grantees:
                    pair = (privilege, grantee)
                    if node.get("is_grant"):
                        grants[pair] = grants.get(pair, False) or option
                    elif option:
                        if pair in grants:
                            grants[pair] = False
                    else:
                        grants.pop(pair, None)

    def _set(self, node: Node) -> None:
        if node.get("name") != "search_path":
            return
        kind = node.get("kind")
        if kind == "VAR_SET_VALUE":
            self._set_path([str(constant(a)) for a in node.get("args") or ()])
        elif kind in ("VAR_SET_DEFAULT", "VAR_RESET"):
            self._set_path([self._default])

    # renames and moves -------------------------------------------------------------------

    def _rename(self, node: Node) -> None:
        kind = node.get("renameType", "")
        new = node.get("newname", "")
        if kind in (
            "OBJECT_TABLE",
            "OBJECT_VIEW",
            "OBJECT_MATVIEW",
            "OBJECT_INDEX",
            "OBJECT_SEQUENCE",
        ):
            key = self._relation(node.get("relation"))
            schema = key.partition(".")[0]
            self._move_relation(key, schema, new)
        elif kind == "OBJECT_COLUMN":
            table = self._table(node.get("relation"))
            if table is not None:
                self._rename_column(table, node.get("subname", ""), new)
        elif kind == "OBJECT_TABCONSTRAINT":
            table = self._table(node.get("relation"))
            constraint = table.constraints.get(node.get("subname", "")) if table else None
            if table is not None and constraint is not None:
                self._rename_constraint(table, constraint, new)
        elif kind == "OBJECT_TRIGGER":
            table = self._table(node.get("relation"))
            trigger = table.triggers.pop(node.get("subname", ""), None) if table else None
            if table is not None and trigger is not None:
                trigger.name = new
                table.triggers[new] = trigger
        elif kind == "OBJECT_POLICY":
            table = self._table(node.get("relation"))
            policy = table.policies.pop(node.get("subname", ""), None) if table else None
            if table is not None and policy is not None:
                table.policies[new] = dataclasses.replace(policy, name=new)
        elif kind in ("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE"):
            function_key = self._function_key(unwrap(node.get("object"))[1])
            if function_key is not None:
                function = self._functions[function_key]
                self._move_function(function_key, function.schema, new)
        elif kind in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
            names = strings(unwrap(node.get("object"))[1].get("items")) or strings(
                node.get("object")
            )
            self._move_type(self._names_key_of_type(names), None, new)
        elif kind == "OBJECT_SCHEMA":
            self._rename_schema(node.get("subname", ""), new)

    def _set_schema(self, node: Node) -> None:
        kind = node.get("objectType", "")
        schema = node.get("newschema", "")
        if kind in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_SEQUENCE"):
            key = self._relation(node.get("relation"))
            self._move_relation(key, schema, key.partition(".")[2])
        elif kind in ("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE"):
            function_key = self._function_key(unwrap(node.get("object"))[1])
            if function_key is not None:
                self._move_function(function_key, schema, self._functions[function_key].name)
        elif kind in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
            names = strings(unwrap(node.get("object"))[1].get("items")) or strings(
                node.get("object")
            )
            key = self._names_key_of_type(names)
            self._move_type(key, schema, key.partition(".")[2])

    def _move_relation(self, key: str, schema: str, name: str) -> None:
        """Rename a relation and/or move it to another schema, following what refers to it."""
        kind = self._relations.get(key)
        new_key = f"{schema}.{name}"
        if kind is None or new_key == key:
            return
        old_schema, _dot, old_name = key.partition(".")
        del self._relations[key]
        self._relations[new_key] = kind
        if kind == "r":
            table = self._tables.pop(key)
            table.schema, table.name = schema, name
            self._tables[new_key] = table
            self._follow_table(table, (old_schema, old_name), key)
        elif kind in ("v", "m"):
            view = self._views.pop(key)
            view.schema, view.name = schema, name
            self._views[new_key] = view
            for other in self._views.values():
                if key in other.depends_on:
                    other.depends_on = (other.depends_on - {key}) | {new_key}
        elif kind == "i":
            table_key = self._index_table.pop(key, "")
            self._index_table[new_key] = table_key
            owner = self._tables.get(table_key)
            if owner is not None:
                index = owner.indexes.pop(old_name, None)
                if index is not None:
                    index.name = name
                    owner.indexes[name] = index
                constraint = owner.constraints.get(old_name)
                if constraint is not None and constraint.kind in _INDEX_KINDS:
                    # Renaming a constraint's index renames the constraint.
                    del owner.constraints[old_name]
                    self._free_constraint_name(owner.schema, old_name)
                    constraint.name = name
                    owner.constraints[name] = constraint
                    self._take_constraint_name(owner.schema, name)
        elif kind == "S":
            sequence = self._sequences.pop(key, None)
            for table in self._tables.values():
                if key in table.owned:
                    table.owned[table.owned.index(key)] = new_key
            if sequence is not None:
                sequence["schema"], sequence["name"] = schema, name
                self._sequences[new_key] = sequence
                self._follow_sequence(sequence, (old_schema, old_name))

    def _follow_table(self, table: _Table, old: tuple[str, str], old_key: str) -> None:
        """What names a table follows its new name: references, views, indexes, sequences."""
        new = (table.schema, table.name)
        new_key = table.key
        for other in self._tables.values():
            for constraint in other.constraints.values():
                if constraint.references == old:
                    constraint.references = new
        for view in self._views.values():
            if old_key in view.depends_on:
                view.depends_on = (view.depends_on - {old_key}) | {new_key}
        for index_key, owner in list(self._index_table.items()):
            if owner == old_key:
                if old[0] != table.schema:
                    # Indexes go with their table to the new schema.
                    index_name = index_key.partition(".")[2]
                    del self._index_table[index_key]
                    self._relations.pop(index_key, None)
                    moved = f"{table.schema}.{index_name}"
                    self._index_table[moved] = new_key
                    self._relations[moved] = "i"
                else:
                    self._index_table[index_key] = new_key
        for sequence in self._sequences.values():
            owner = sequence["owned_by"]
            if owner is not None and (owner[0], owner[1]) == old:
                sequence["owned_by"] = (table.schema, table.name, owner[2])
        if old[0] != table.schema:
            for constraint in table.constraints.values():
                self._free_constraint_name(old[0], constraint.name)
                self._take_constraint_name(table.schema, constraint.name)
            # Owned sequences go with their table to the new schema.
            for owned in list(table.owned):
                self._move_relation(owned, table.schema, owned.partition(".")[2])

    def _follow_sequence(self, sequence: dict[str, Any], old: tuple[str, str]) -> None:
        """An owned column's nextval default names the sequence's new name."""
        owner = sequence["owned_by"]
        table = self._tables.get(f"{owner[0]}.{owner[1]}") if owner else None
        column = table.columns.get(owner[2]) if table is not None and owner else None
        if column is not None and column["default"]:
            before = quote_literal(_sql_name(*old))
            after = quote_literal(_sql_name(sequence["schema"], sequence["name"]))
            column["default"] = column["default"].replace(before, after)

    def _rename_column(self, table: _Table, old: str, new: str) -> None:
        if old not in table.columns or new in table.columns:
            return
        table.columns = {
            (new if name == old else name): column for name, column in table.columns.items()
        }
        table.columns[new]["name"] = new

        def renamed(names: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(new if n == old else n for n in names)

        for constraint in table.constraints.values():
            constraint.columns = renamed(constraint.columns)
            constraint.include = renamed(constraint.include)
            constraint.delete_columns = renamed(constraint.delete_columns)
            if old in constraint.refs:
                constraint.refs = (constraint.refs - {old}) | {new}
        for index in table.indexes.values():
            index.columns = renamed(index.columns)
            index.include = renamed(index.include)
            index.keys = list(renamed(tuple(index.keys)))
            index.elements = [
                _quote(new) + element[len(_quote(old)) :]
                if element == _quote(old) or element.startswith(_quote(old) + " ")
                else element
                for element in index.elements
            ]
        for trigger in table.triggers.values():
            trigger.update_columns = renamed(trigger.update_columns)
        me = (table.schema, table.name)
        for other in self._tables.values():
            for constraint in other.constraints.values():
                if constraint.references == me:
                    constraint.ref_columns = renamed(constraint.ref_columns)
        for sequence in self._sequences.values():
            if sequence["owned_by"] == (*me, old):
                sequence["owned_by"] = (*me, new)

    def _rename_constraint(self, table: _Table, constraint: _Constraint, new: str) -> None:
        if constraint.kind in _INDEX_KINDS:
            # The constraint's index takes the new name too.
            self._move_relation(f"{table.schema}.{constraint.name}", table.schema, new)
            return
        del table.constraints[constraint.name]
        self._free_constraint_name(table.schema, constraint.name)
        constraint.name = new
        table.constraints[new] = constraint
        self._take_constraint_name(table.schema, new)

    def _move_function(self, key: str, schema: str, name: str) -> None:
        function = self._functions.pop(key)
        self._function_names.get(f"{function.schema}.{function.name}", set()).discard(key)
        function.schema, function.name = schema, name
        self._functions[function.key] = function
        self._function_names.setdefault(f"{schema}.{name}", set()).add(function.key)

    def _move_type(self, key: str, schema: str | None, name: str) -> None:
        """Rename or move an enum (or note a domain's new name); columns follow it."""
        old_schema, _dot, old_name = key.partition(".")
        new_key = f"{schema or old_schema}.{name}"
        if key not in self._types or new_key == key:
            return
        self._types.discard(key)
        self._types.add(new_key)
        found = self._enums.pop(key, None)
        if found is not None:
            enum, labels = found
            moved = EnumType(schema or old_schema, name, enum.labels, enum.origin)
            self._enums[new_key] = (moved, labels)
        for table in self._tables.values():
            for column in table.columns.values():
                if column["type"] == key or column["type"] == f"{key}[]":
                    column["type"] = new_key + column["type"][len(key) :]

    def _rename_schema(self, old: str, new: str) -> None:
        if old not in self._schemas or new in self._schemas:
            return
        # Indexes and owned sequences move with their tables.
        for key in [k for k, kind in self._relations.items() if k.partition(".")[0] == old]:
            if self._relations.get(key, "i") != "i":
                self._move_relation(key, new, key.partition(".")[2])
        for key in [k for k, f in self._functions.items() if f.schema == old]:
            self._move_function(key, new, self._functions[key].name)
        for key in [k for k in self._types if k.partition(".")[0] == old]:
            self._move_type(key, new, key.partition(".")[2])
        self._schemas.discard(old)
        self._schemas.add(new)
        self._refresh_creation_schema()

    # DROP --------------------------------------------------------------------------------

    def _drop(self, node: Node) -> None:
        kind = node.get("removeType", "")
        cascade = node.get("behavior") == "DROP_CASCADE"
        for item in node.get("objects") or ():
            item_kind, inner = unwrap(item)
            names = strings(inner.get("items")) if item_kind == "List" else []
            if kind == "OBJECT_TABLE":
                key = self._names_key(names, ("r", "p"))
                if self._relations.get(key) in ("r", "p"):
                    self._drop_relation(key, cascade)
            elif kind in ("OBJECT_VIEW", "OBJECT_MATVIEW"):
                key = self._names_key(names, ("v", "m"))
                if key in self._views:
                    self._drop_relation(key, cascade)
            elif kind == "OBJECT_INDEX":
                self._drop_index(self._names_key(names, ("i",)))
            elif kind == "OBJECT_SEQUENCE":
                key = self._names_key(names, ("S",))
                if key in self._sequences:
                    self._drop_relation(key, cascade)
            elif kind in ("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE"):
                function_key = self._function_key(inner)
                if function_key is not None:
                    self._drop_function(function_key, cascade)
            elif kind in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
                type_names = strings(inner.get("names")) if item_kind == "TypeName" else names
                self._drop_type(self._names_key_of_type(type_names), cascade)
            elif kind == "OBJECT_SCHEMA":
                self._drop_schema(str(constant(item) or ""), cascade)
            elif kind == "OBJECT_EXTENSION":
                self._extensions.discard(str(constant(item) or ""))
            elif kind in ("OBJECT_TRIGGER", "OBJECT_POLICY") and len(names) >= 2:
                table = self._tables.get(self._names_key(names[:-1], ("r",)))
                if table is not None and kind == "OBJECT_TRIGGER":
                    table.triggers.pop(names[-1], None)
                elif table is not None:
                    table.policies.pop(names[-1], None)

    def _drop_relation(self, key: str, cascade: bool) -> None:
        """Drop a table, view, sequence or index (and, on CASCADE, what depends on it)."""
        kind = self._relations.pop(key, None)
        if kind == "r":
            table = self._tables.pop(key)
            for constraint in list(table.constraints.values()):
                self._remove_constraint(table, constraint)
            for index_name in list(table.indexes):
                self._drop_index(f"{table.schema}.{index_name}")
            for owned in table.owned:
                self._relations.pop(owned, None)
                self._sequences.pop(owned, None)
            if cascade:
                me = (table.schema, table.name)
                for other in self._tables.values():
                    for constraint in list(other.constraints.values()):
                        if constraint.kind == "f" and constraint.references == me:
                            self._remove_constraint(other, constraint)
        elif kind in ("v", "m"):
            self._views.pop(key, None)
        elif kind == "S":
            self._drop_sequence(key)
        elif kind == "i":
            self._relations[key] = kind
            self._drop_index(key)
            return
        if cascade and kind in ("r", "v", "m", "p"):
            for view_key in [k for k, v in self._views.items() if key in v.depends_on]:
                if view_key in self._views:
                    self._drop_relation(view_key, cascade=True)

    def _drop_index(self, key: str) -> None:
        table = self._tables.get(self._index_table.get(key, ""))
        name = key.partition(".")[2]
        if table is not None and name in table.constraints:
            return  # a constraint's index goes with the constraint, not alone
        self._relations.pop(key, None)
        self._index_table.pop(key, None)
        if table is not None:
            table.indexes.pop(name, None)

    def _drop_sequence(self, key: str) -> None:
        self._relations.pop(key, None)
        self._sequences.pop(key, None)
        for table in self._tables.values():
            if key in table.owned:
                table.owned.remove(key)

    def _drop_function(self, key: str, cascade: bool) -> None:
        function = self._functions.pop(key)
        self._function_names.get(f"{function.schema}.{function.name}", set()).discard(key)
        if cascade:
            callee = (function.schema, function.name)
            for table in self._tables.values():
                for name in [n for n, t in table.triggers.items() if t.function == callee]:
                    del table.triggers[name]

    def _drop_type(self, key: str, cascade: bool) -> None:
        if self._relations.get(key) == "c":
            del self._relations[key]
            return
        if key not in self._types:
            return
        self._types.discard(key)
        self._enums.pop(key, None)
        if cascade:
            for table in self._tables.values():
                for name in [
                    n
                    for n, c in table.columns.items()
                    if c["type"] == key or c["type"] == f"{key}[]"
                ]:
                    self._drop_column(table, name, cascade=True)

    def _drop_schema(self, schema: str, cascade: bool) -> None:
        if schema not in self._schemas:
            return
        if cascade:
            for key in [k for k, kind in self._relations.items() if k.partition(".")[0] == schema]:
                if key in self._relations:
                    self._drop_relation(key, cascade=True)
            for key in [k for k, f in self._functions.items() if f.schema == schema]:
                self._drop_function(key, cascade=True)
            for key in [k for k in self._types if k.partition(".")[0] == schema]:
                self._drop_type(key, cascade=True)
        self._schemas.discard(schema)
        self._refresh_creation_schema()


# --- small helpers ------------------------------------------------------------------------

_PARAMETER_MODES = {
    "FUNC_PARAM_IN": "IN",
    "FUNC_PARAM_DEFAULT": "",
    "FUNC_PARAM_OUT": "OUT",
    "FUNC_PARAM_INOUT": "INOUT",
    "FUNC_PARAM_VARIADIC": "VARIADIC",
    "FUNC_PARAM_TABLE": "TABLE",
}
_ORDERING = {"SORTBY_ASC": " ASC", "SORTBY_DESC": " DESC"}
_NULLS = {"SORTBY_NULLS_FIRST": " NULLS FIRST", "SORTBY_NULLS_LAST": " NULLS LAST"}


# ALTER TABLE subcommands PostgreSQL runs in its first pass (AT_PASS_DROP).
_DROP_SUBCOMMANDS = frozenset(
    {"AT_DropColumn", "AT_DropConstraint", "AT_DropNotNull", "AT_DropIdentity", "AT_DropExpression"}
)


def _alter_pass(command: Node) -> int:
    """0 for a subcommand PostgreSQL runs with the drops, 1 for the others (a stable sort
    keeps each group's written order)."""
    subtype = command.get("subtype")
    if subtype in _DROP_SUBCOMMANDS or (subtype == "AT_ColumnDefault" and not command.get("def")):
        return 0
    return 1


def _query_end(tokens: _Tokens, start: int) -> int:
    """Where a view's query ends: before a trailing WITH [CASCADED|LOCAL] CHECK OPTION or
    WITH [NO] DATA."""
    names = tokens.names
    stop = len(names)
    if stop - start > 2 and names[-1] in ("OPTION", "DATA_P"):
        for index in range(stop - 2, max(start, stop - 5), -1):
            if names[index] == "WITH":
                return index
    return stop


def _element_options(element: Node) -> str:
    """An index element's collation, operator class, order and NULLS placement."""
    if (
        "collation" not in element
        and "opclass" not in element
        and element.get("ordering") == "SORTBY_DEFAULT"
        and element.get("nulls_ordering") == "SORTBY_NULLS_DEFAULT"
    ):
        return ""
    text = ""
    collation = strings(element.get("collation"))
    if collation:
        text += f" COLLATE {'.'.join(_quote(c) for c in collation)}"
    opclass = strings(element.get("opclass"))
    if opclass:
        text += f" {'.'.join(_quote(c) for c in opclass)}"
    text += _ORDERING.get(element.get("ordering", ""), "")
    text += _NULLS.get(element.get("nulls_ordering", ""), "")
    return text


def _integer(node: Any, default: int) -> int:
    """An Integer or Float option value as an int (large bounds arrive as Float)."""
    value = constant(node)
    if value is None:
        kind, inner = unwrap(node)
        value = inner.get("fval") if kind == "Float" else None
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _unquote(name: str) -> str:
    if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name.lower()


def _roles(items: Any) -> tuple[str, ...]:
    """Policy roles as pg_policy lists them: ``public`` for PUBLIC, sorted."""
    out = []
    for item in items or ():
        role = unwrap(item)[1]
        kind = role.get("roletype", "")
        if kind == "ROLESPEC_PUBLIC":
            out.append("public")
        elif kind == "ROLESPEC_CSTRING":
            out.append(role.get("rolename", ""))
        else:
            out.append(kind.removeprefix("ROLESPEC_").lower())
    if not out or "public" in out:
        # PUBLIC covers every role: PostgreSQL keeps it alone.
        return ("public",)
    return tuple(sorted(out))


def _grantees(items: Any) -> list[str]:
    """GRANT's grantees: role names and ``PUBLIC`` (CURRENT_USER-style roles left out)."""
    out = []
    for item in items or ():
        role = unwrap(item)[1]
        kind = role.get("roletype", "")
        if kind == "ROLESPEC_PUBLIC":
            out.append("PUBLIC")
        elif kind == "ROLESPEC_CSTRING":
            out.append(role.get("rolename", ""))
    return out


def build_catalog(scripts: Iterable[JsonScript], default_schema: str = "public") -> Catalog:
    """The catalog the statements of ``scripts`` build, applied in order."""
    builder = CatalogBuilder(default_schema)
    with gc_paused():
        for script in scripts:
            for statement in script.statements:
                builder.apply(statement, script)
    return builder.catalog()
