"""A partitioned table's key and a partition's bound, as PostgreSQL prints them.

The key is printed in the shape of ``pg_get_partkeydef`` (``RANGE (day)``, ``LIST
(lower(region))``, an expression that is not a function call in parentheses, a written
collation or operator class after its element), expression keys cut from the source as
index expressions are. The bound is printed as ``pg_get_expr(relpartbound)`` prints it:
``FOR VALUES FROM ('2024-01-01') TO (MAXVALUE)``, ``FOR VALUES IN ('eu', NULL)``, ``FOR
VALUES WITH (modulus 4, remainder 0)``, ``DEFAULT``.

PostgreSQL stores each bound value as a constant of its key's type and prints it back with
that type's output function, never with a cast: an ``integer`` bare (quoted when negative),
a ``numeric`` bare when it has a decimal point (quoted otherwise), a ``boolean`` as
``true``/``false``, anything else quoted (``bigint`` and ``smallint`` too). The build
follows this when the key is a column, whose type it knows, and canonicalises the values
whose output it can compute: integers, numerics, booleans, ISO dates and timestamps. A
``timestamp with time zone`` is printed in UTC (``'2024-01-01 00:00:00+00'``), as a server
whose ``TimeZone`` is UTC prints it; a server in another zone prints its own offset. Values
of other types (``interval``, a date in another style, a key that is an expression) are
printed as written.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

from plimsoll.db.catalog import quote_literal
from plimsoll.db.ddl.indexes import element_options, index_expression
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.state import TableDraft, quote
from plimsoll.db.ddl.tokens import LPAREN
from plimsoll.db.sqljson import Node, constant, strings, unwrap

_STRATEGIES = {
    "PARTITION_STRATEGY_RANGE": "RANGE",
    "PARTITION_STRATEGY_LIST": "LIST",
    "PARTITION_STRATEGY_HASH": "HASH",
}
# Integer types whose values print quoted (only int4 has a bare form in get_const_expr).
_QUOTED_INTEGERS = frozenset({"bigint", "smallint"})
_TRUE_WORDS = frozenset({"t", "true", "y", "yes", "on", "1"})
_FALSE_WORDS = frozenset({"f", "false", "n", "no", "off", "0"})


def partition_key(model: Model, table: TableDraft, spec: Node) -> None:
    """``PARTITION BY``: the key's text in ``table.partition_by`` and its columns (None for
    an expression) in ``table.partition_keys``."""
    strategy = _STRATEGIES.get(spec.get("strategy", ""), "RANGE")
    elements = [unwrap(p)[1] for p in spec.get("partParams") or ()]
    printed: list[str] = []
    keys: list[str | None] = []
    items: list[tuple[int, int]] = []
    if any("expr" in e for e in elements):
        tokens = model.tokens()
        opening = tokens.find(tokens.at(spec.get("location", model.start)), LPAREN)
        items = tokens.split(opening)
    for position, element in enumerate(elements):
        expression = element.get("expr")
        if expression is None:
            name = element.get("name", "")
            text = quote(name)
            keys.append(name)
        else:
            tokens = model.tokens()
            begin, end = items[position] if position < len(items) else (0, 0)
            text = index_expression(tokens, begin, end, expression)
            keys.append(None)
        printed.append(text + element_options(element))
    table.partition_by = f"{strategy} ({', '.join(printed)})"
    table.partition_keys = keys


def bound_text(model: Model, spec: Node, parent: TableDraft | None) -> str:
    """A ``FOR VALUES ...`` / ``DEFAULT`` bound as ``pg_get_expr(relpartbound)`` prints it,
    each value in the type of its key column of ``parent`` (as written when unknown)."""
    if spec.get("is_default"):
        return "DEFAULT"
    strategy = spec.get("strategy", "")
    if strategy == "h":
        return (
            f"FOR VALUES WITH (modulus {spec.get('modulus', 0)},"
            f" remainder {spec.get('remainder', 0)})"
        )
    types = _key_types(parent)
    if strategy == "l":
        first = types[0] if types else None
        values: list[str] = []
        for datum in spec.get("listdatums") or ():
            text = _datum(model, datum, first)
            if text not in values:
                values.append(text)
        return f"FOR VALUES IN ({', '.join(values)})"
    lower = _datums(model, spec.get("lowerdatums") or (), types)
    upper = _datums(model, spec.get("upperdatums") or (), types)
    return f"FOR VALUES FROM ({lower}) TO ({upper})"


def _key_types(parent: TableDraft | None) -> list[str | None]:
    """The type of each key of ``parent`` (None for an expression or an unknown column)."""
    if parent is None:
        return []
    columns = parent.columns
    types: list[str | None] = []
    for key in parent.partition_keys:
        column = columns.get(key) if key is not None else None
        types.append(column["type"] if column is not None else None)
    return types


def _datums(model: Model, datums: Any, types: list[str | None]) -> str:
    return ", ".join(
        _datum(model, d, types[i] if i < len(types) else None) for i, d in enumerate(datums)
    )


def _datum(model: Model, datum: Any, type_: str | None) -> str:
    """One bound value in the type of its key."""
    kind, inner = unwrap(datum)
    if kind == "ColumnRef":
        fields = strings(inner.get("fields"))
        word = fields[-1].upper() if fields else ""
        if word in ("MINVALUE", "MAXVALUE"):
            return word
    if kind == "A_Const" and inner.get("isnull"):
        return "NULL"
    value = constant(datum)
    if kind == "A_Expr" and inner.get("kind") == "AEXPR_OP" and "lexpr" not in inner:
        # A signed number: +3, -2.5 (a negative integer constant arrives folded).
        operator = strings(inner.get("name"))
        number = constant(inner.get("rexpr"))
        if operator in (["+"], ["-"]) and isinstance(number, int | str):
            value = f"{'-' if operator == ['-'] else ''}{number}"
    if value is None:
        # Not a constant (an expression PostgreSQL evaluates): as written.
        tokens = model.tokens()
        return tokens.expression(tokens.at(inner.get("location", model.start)))
    return _printed(value, type_, kind)


def _printed(value: Any, type_: str | None, kind: str) -> str:
    """``value`` as get_const_expr prints a constant of ``type_`` without its cast."""
    if type_ is None:
        # The type is not known: a number or boolean as its literal suggests.
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return _integer(value, "integer")
        if isinstance(value, str) and kind == "A_Const" and _is_number(value):
            return _numeric(value)
        return quote_literal(str(value))
    text = str(value).lower() if isinstance(value, bool) else str(value)
    try:
        if type_ in ("integer", *_QUOTED_INTEGERS):
            return _integer(int(text), type_)
        if type_ == "numeric" or type_.startswith("numeric("):
            return _numeric(text)
        if type_ == "boolean":
            word = text.strip().lower()
            if word in _TRUE_WORDS or word in _FALSE_WORDS:
                return "true" if word in _TRUE_WORDS else "false"
        if type_ == "date":
            return quote_literal(datetime.date.fromisoformat(text.strip()).isoformat())
        if type_.startswith("timestamp"):
            return quote_literal(_timestamp(text.strip(), "with time zone" in type_))
    except ValueError:
        pass
    return quote_literal(text)


def _integer(number: int, type_: str) -> str:
    if type_ == "integer" and number >= 0:
        return str(number)
    return f"'{number}'"


def _is_number(text: str) -> bool:
    try:
        decimal.Decimal(text)
    except decimal.InvalidOperation:
        return False
    return True


def _numeric(text: str) -> str:
    """A numeric as numeric_out prints it: bare with a decimal point, quoted without."""
    try:
        printed = format(decimal.Decimal(text.strip()), "f")
    except decimal.InvalidOperation as exc:
        raise ValueError(text) from exc
    if "." in printed and not printed.startswith("-"):
        return printed
    return f"'{printed}'"


def _timestamp(text: str, zoned: bool) -> str:
    """An ISO timestamp as timestamp_out / timestamptz_out (in UTC) print it."""
    moment = datetime.datetime.fromisoformat(text)
    if zoned:
        if moment.tzinfo is not None:
            moment = moment.astimezone(datetime.UTC)
        moment = moment.replace(tzinfo=None)
    elif moment.tzinfo is not None:
        # A timestamp without time zone ignores a written zone.
        moment = moment.replace(tzinfo=None)
    printed = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        printed += f".{moment.microsecond:06d}".rstrip("0")
    return printed + ("+00" if zoned else "")
