"""The names PostgreSQL generates for unnamed constraints, indexes and sequences.

``makeObjectName``, ``ChooseRelationName``/``ChooseConstraintName`` (the ``1``, ``2`` suffixes
on a clash), ``ChooseIndexNameAddition`` and ``ChooseIndexColumnNames`` with
``FigureColname`` for index expressions, each with PostgreSQL's 63-byte truncation that never
cuts inside a character.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from plimsoll.db.ddl.expressions import SQL_VALUE_FUNCTIONS
from plimsoll.db.sqljson import strings, unwrap

# PostgreSQL's identifier limit: NAMEDATALEN (64) less the terminating zero byte.
MAX_NAME_BYTES = 63


def clip(name: str, size: int) -> str:
    """``name`` cut to ``size`` UTF-8 bytes, never inside a character (pg_mbcliplen)."""
    raw = name.encode("utf-8")
    if len(raw) <= size:
        return name
    return raw[:size].decode("utf-8", "ignore")


def make_object_name(name1: str, name2: str | None, label: str | None) -> str:
    """PostgreSQL's ``makeObjectName``: ``name1_name2_label`` within 63 bytes, cutting the
    longer name first."""
    overhead = (1 if name2 is not None else 0) + (len(label) + 1 if label else 0)
    available = MAX_NAME_BYTES - overhead
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
        name1 = clip(name1, size1)
        if name2 is not None:
            name2 = clip(name2, size2)
    if name2 is None:
        return f"{name1}_{label}" if label else name1
    return f"{name1}_{name2}_{label}" if label else f"{name1}_{name2}"


def choose_name(name1: str, name2: str | None, label: str, taken: Callable[[str], bool]) -> str:
    """``ChooseRelationName`` / ``ChooseConstraintName``: the first of ``name1_name2_label``,
    ``..._label1``, ``..._label2`` ... that is not ``taken``."""
    number = 0
    modified = label
    while True:
        name = make_object_name(name1, name2, modified)
        if not taken(name):
            return name
        number += 1
        modified = f"{label}{number}"


def name_addition(names: Iterable[str]) -> str:
    """``ChooseIndexNameAddition``: column names joined by ``_``, stopped past 63 bytes."""
    out = ""
    for name in names:
        if out:
            out += "_"
        out += clip(name, MAX_NAME_BYTES)
        if len(out.encode("utf-8")) >= MAX_NAME_BYTES + 1:
            break
    return out


def index_column_names(elements: list[tuple[str | None, Any]]) -> list[str]:
    """``ChooseIndexColumnNames``: each (column name, expression) element's name (``expr``
    when none can be figured), made unique with a number."""
    result: list[str] = []
    for name, expression in elements:
        original = name or _figure(expression)[0] or "expr"
        current = original
        number = 0
        while current in result:
            number += 1
            suffix = str(number)
            current = clip(original, MAX_NAME_BYTES - len(suffix)) + suffix
        result.append(current)
    return result


# Expression nodes FigureColname names after themselves.
_FIXED_NAMES = {
    "A_ArrayExpr": "array",
    "RowExpr": "row",
    "CoalesceExpr": "coalesce",
    "GroupingFunc": "grouping",
}


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
        name = SQL_VALUE_FUNCTIONS.get(inner.get("op", ""), "").lower()
        return (name, 2) if name else (None, 0)
    return None, 0
