"""Expression texts: simple ones printed from the tree, the rest cut from the source.

A default that is a constant, a cast, a plain function call or a column (``now()``,
``'open'::shop.state``, ``nextval('s'::regclass)``) is printed from its parse tree the way
``pg_get_expr`` prints it; anything else is the statement's own text (see
:class:`~plimsoll.db.ddl.tokens.Tokens`), which reads the same once PostgreSQL's added casts
and parentheses are set aside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plimsoll.db.catalog import quote_literal
from plimsoll.db.ddl.state import quote, sql_name
from plimsoll.db.ddl.tokens import DEFAULT_STOPS
from plimsoll.db.ddl.types import INTEGER_MINIMUM, bare
from plimsoll.db.sqljson import Node, constant, function_name, strings, unwrap, walk

if TYPE_CHECKING:
    from plimsoll.db.ddl.model import Model

SQL_VALUE_FUNCTIONS = {
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
# What makes a function call more than plain: aggregates' clauses, window, VARIADIC.
_NOT_PLAIN_CALL = ("agg_order", "agg_filter", "over", "agg_within_group", "agg_distinct")


def simple(model: Model, node: Any) -> str | None:
    """A constant, cast, plain function call or column printed from the tree; else None."""
    kind, inner = unwrap(node)
    if kind == "A_Const":
        return _constant(node, inner)
    if kind == "TypeCast":
        argument = simple(model, inner.get("arg"))
        if argument is None or argument.startswith("-"):
            return None
        return f"{argument}::{model.type_text(inner.get('typeName'))}"
    if kind == "FuncCall":
        if (
            inner.get("funcformat") != "COERCE_EXPLICIT_CALL"
            or inner.get("func_variadic")
            or any(key in inner for key in _NOT_PLAIN_CALL)
        ):
            return None
        name = ".".join(quote(n) for n in strings(inner.get("funcname")))
        if inner.get("agg_star"):
            return f"{name}(*)"
        arguments = []
        for argument in inner.get("args") or ():
            text = simple(model, argument)
            if text is None:
                return None
            arguments.append(text)
        return f"{name}({', '.join(arguments)})"
    if kind == "SQLValueFunction":
        if "typmod" in inner and inner.get("typmod", -1) >= 0:
            return None
        return SQL_VALUE_FUNCTIONS.get(inner.get("op", ""))
    if kind == "ColumnRef":
        fields = inner.get("fields") or ()
        if any("A_Star" in f for f in fields):
            return None
        return ".".join(quote(n) for n in strings(fields))
    return None


def _constant(node: Any, inner: Node) -> str | None:
    """An A_Const as pg_get_expr prints it (None for a bit string)."""
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
        whole = value.lstrip("-").isdigit() and int(value) >= INTEGER_MINIMUM["bigint"]
        return f"'{value}'::{'bigint' if whole else 'numeric'}"
    return str(value)


def _default_simple(model: Model, expression: Any, column_type: str) -> str | None:
    """A simple default printed as pg_get_expr prints it: a string literal cast to the
    column's type, ``nextval`` on the sequence's qualified name; "" for NULL; None when the
    expression is not simple."""
    kind, inner = unwrap(expression)
    if kind == "A_Const":
        if inner.get("isnull"):
            return ""
        if "sval" in inner:
            return f"{quote_literal(str(constant(expression)))}::{bare(column_type)}"
    elif kind == "FuncCall" and function_name(inner) == "nextval":
        arguments: list[Any] = inner.get("args") or []
        name = constant(arguments[0]) if len(arguments) == 1 else None
        if isinstance(name, str) and unwrap(arguments[0])[0] == "A_Const":
            parts = [unquote(p) for p in name.split(".")]
            key = model.names_key(parts, ("S",))
            schema, _dot, sequence = key.partition(".")
            return f"nextval({quote_literal(sql_name(schema, sequence))}::regclass)"
    return simple(model, expression)


def default_text(model: Model, constraint: Node, column_type: str) -> str | None:
    """A column constraint's DEFAULT expression (None for DEFAULT NULL, which PostgreSQL
    does not store)."""
    expression = constraint.get("raw_expr")
    text = _default_simple(model, expression, column_type)
    if text is not None:
        return text or None
    tokens = model.tokens()
    keyword = tokens.find(tokens.at(constraint.get("location", model.start)), "DEFAULT")
    return tokens.expression(keyword + 1, DEFAULT_STOPS)


def loose_default_text(model: Model, expression: Any, column_type: str) -> str | None:
    """ALTER COLUMN SET DEFAULT's expression (its node has no location of its own)."""
    text = _default_simple(model, expression, column_type)
    if text is not None:
        return text or None
    tokens = model.tokens()
    index = tokens.at(max(min_location(expression), model.start))
    while index > 0 and tokens.names[index - 1] != "DEFAULT":
        index -= 1
    return tokens.expression(index)


def column_refs(node: Any) -> set[str]:
    """The column names an expression mentions (each ColumnRef's last field)."""
    found: set[str] = set()
    for kind, inner in walk(node):
        if kind == "ColumnRef":
            fields = strings(inner.get("fields"))
            if fields:
                found.add(fields[-1])
    return found


def min_location(node: Any) -> int:
    """The smallest location inside a subtree (-1 when it has none)."""
    best = -1
    for _kind, inner in walk(node):
        location = inner.get("location", -1)
        if isinstance(location, int) and location >= 0 and (best < 0 or location < best):
            best = location
    return best


def unquote(name: str) -> str:
    """An identifier as written in a string (``'"My Seq"'``, ``'s'``) as PostgreSQL folds it."""
    if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name.lower()


def integer(node: Any, default: int) -> int:
    """An Integer or Float option value as an int (large bounds arrive as Float)."""
    value = constant(node)
    if value is None:
        kind, inner = unwrap(node)
        value = inner.get("fval") if kind == "Float" else None
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default
