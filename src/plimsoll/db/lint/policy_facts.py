"""Facts about row-level security policies: which conditions are always true, which isolate.

PostgreSQL combines the policies applying to a command so: the permissive ones with OR, then
the restrictive ones with AND. A row passes when one permissive policy admits it and every
restrictive one does. So one permissive policy that is always true (``USING (true)``,
``USING (1 = 1)``) opens the table for its command whatever the others say, and one that
does not restrict a column (``USING (tenant_id IS NOT NULL)``) lets every row through on
that column.

Policy expressions are read with PostgreSQL's own parser (pglast), as files give them and as
``pg_get_expr`` prints them from a live database; each text is parsed once per process.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import pglast.parser

from plimsoll.db.catalog import Policy

# The commands a policy may apply to, and what ALL covers.
COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")
# SQL value functions that name the session (CURRENT_USER, SESSION_USER, CURRENT_ROLE...).
_SESSION_VALUE_FUNCTIONS = frozenset(
    {"SVFOP_CURRENT_USER", "SVFOP_SESSION_USER", "SVFOP_CURRENT_ROLE", "SVFOP_USER"}
)
# Functions without arguments whose value is not the session's identity: the time, chance,
# or the transaction. A call of any other function without arguments (`app.current_tenant()`)
# is taken as the session's tenant, and `current_setting(...)` with any.
_NOT_SESSION_FUNCTIONS = frozenset(
    {
        "now",
        "clock_timestamp",
        "statement_timestamp",
        "transaction_timestamp",
        "timeofday",
        "random",
        "gen_random_uuid",
        "uuid_generate_v4",
        "txid_current",
        "pg_current_xact_id",
        "pi",
    }
)
_EQUALITY = frozenset({"=", "==="})
Node = Any


@lru_cache(maxsize=1024)
def _parsed(expression: str) -> Node | None:
    """The parse tree (JSON as dicts) of a policy expression, or None when it does not parse."""
    try:
        tree = json.loads(pglast.parser.parse_sql_json(f"SELECT {expression}"))
    except pglast.parser.ParseError:
        return None
    statements = tree.get("stmts") or []
    if len(statements) != 1:
        return None
    targets = statements[0]["stmt"].get("SelectStmt", {}).get("targetList") or []
    if len(targets) != 1:
        return None
    return targets[0]["ResTarget"].get("val")


def _kind(node: Node) -> tuple[str, dict[str, Any]]:
    if isinstance(node, dict) and len(node) == 1:
        ((kind, inner),) = node.items()
        if isinstance(inner, dict):
            return kind, inner
    return "", {}


def _strip_casts(node: Node) -> Node:
    kind, inner = _kind(node)
    while kind == "TypeCast":
        node = inner.get("arg")
        kind, inner = _kind(node)
    return node


def _constant(node: Node) -> Any:
    """The value of a constant (a literal, maybe cast), or a sentinel when not constant."""
    kind, inner = _kind(_strip_casts(node))
    if kind != "A_Const" or inner.get("isnull"):
        return _UNKNOWN
    for field in ("boolval", "ival", "fval", "sval", "bsval"):
        if field in inner:
            value = inner[field]
            if isinstance(value, dict):
                value = next(iter(value.values()), None)
            if field == "boolval":
                return bool(value)
            if field == "ival":
                return int(value or 0)
            if field == "fval":
                return float(value)
            return value
    return _UNKNOWN


_UNKNOWN = object()


def _truth(node: Node) -> bool | None:
    """True or False when the expression's value does not depend on the row, else None."""
    node = _strip_casts(node)
    kind, inner = _kind(node)
    if kind == "A_Const":
        value = _constant(node)
        return value if isinstance(value, bool) else None
    if kind == "BoolExpr":
        values = [_truth(arg) for arg in inner.get("args") or ()]
        op = inner.get("boolop")
        if op == "NOT_EXPR":
            return None if values[0] is None else not values[0]
        if op == "AND_EXPR":
            if any(v is False for v in values):
                return False
            return True if all(v is True for v in values) else None
        if op == "OR_EXPR":
            if any(v is True for v in values):
                return True
            return False if all(v is False for v in values) else None
    if kind == "A_Expr" and inner.get("kind") == "AEXPR_OP":
        names = [_kind(n)[1].get("sval") for n in inner.get("name") or ()]
        left, right = _constant(inner.get("lexpr")), _constant(inner.get("rexpr"))
        if left is _UNKNOWN or right is _UNKNOWN or not names:
            return None
        try:
            return _compare(str(names[-1]), left, right)
        except TypeError:
            return None
    if kind == "NullTest":
        value = _constant(inner.get("arg"))
        if value is _UNKNOWN:
            return None
        return inner.get("nulltesttype") == "IS_NOT_NULL"
    return None


def _compare(op: str, left: Any, right: Any) -> bool | None:
    table = {
        "=": left == right,
        "<>": left != right,
        "!=": left != right,
    }
    if op in table:
        return table[op]
    ordered = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}
    return ordered.get(op)


def always_true(expression: str | None) -> bool:
    """Whether a policy expression holds for every row: ``true``, ``1 = 1``, ``NOT false``,
    ``'a' = 'a'``, or an OR with one of those (parentheses, casts and case aside)."""
    if expression is None:
        return False
    tree = _parsed(expression)
    return tree is not None and _truth(tree) is True


def _column_name(node: Node) -> str | None:
    kind, inner = _kind(_strip_casts(node))
    if kind != "ColumnRef":
        return None
    fields = inner.get("fields") or []
    last = _kind(fields[-1])[1].get("sval") if fields else None
    return last if isinstance(last, str) else None


def _session_function(call: Node) -> bool:
    """Whether a function call gives the session's value: ``current_setting(...)``, or a call
    without arguments that is not a clock or chance (``app.current_tenant()``). ``abs(7)`` is a
    constant and ``now()`` a time, neither the session's tenant."""
    names = [
        _kind(part)[1].get("sval") for part in call.get("funcname") or () if isinstance(part, dict)
    ]
    name = str(names[-1]).lower() if names else ""
    if name == "current_setting":
        return True
    return not call.get("args") and name not in _NOT_SESSION_FUNCTIONS


def _session_valued(node: Node, column: str) -> bool:
    """Whether an expression gives a value of the session, not of the row: it calls a
    session function (``current_setting(...)``, ``app.current_tenant()``), names the session's role
    (``current_user``) or takes a parameter, and reads no column of the row (a subquery may
    read its own tables)."""
    found = False

    def walk(value: Any, in_subquery: bool) -> bool:
        nonlocal found
        if isinstance(value, list):
            return all(walk(item, in_subquery) for item in value)
        if not isinstance(value, dict):
            return True
        kind, inner = _kind(value)
        if (
            kind == "ParamRef"
            or (kind == "FuncCall" and _session_function(inner))
            or (kind == "SQLValueFunction" and inner.get("op") in _SESSION_VALUE_FUNCTIONS)
        ):
            found = True
        if kind == "ColumnRef" and not in_subquery:
            return False  # a value of the row: nothing isolates by it
        if kind == "SubLink":
            return walk(inner.get("subselect"), True) and walk(inner.get("testexpr"), in_subquery)
        return all(walk(item, in_subquery) for item in value.values())

    return walk(node, False) and found


def restricts(expression: str | None, column: str) -> bool:
    """Whether a policy expression admits only rows whose ``column`` equals a session value.

    ``tenant_id = current_setting('app.tenant_id')::bigint``, ``tenant_id = ANY
    (app.my_tenants())``, ``tenant_id IN (SELECT tenant_id FROM members WHERE login =
    current_user)``: yes; ``tenant_id IS NOT NULL``, ``tenant_id = 7``, ``true``, or an OR
    with a branch that does not restrict: no.
    """
    if expression is None:
        return False
    tree = _parsed(expression)
    return tree is not None and _restricts(tree, column)


def _restricts(node: Node, column: str) -> bool:
    node = _strip_casts(node)
    kind, inner = _kind(node)
    if kind == "BoolExpr":
        args = inner.get("args") or ()
        if inner.get("boolop") == "AND_EXPR":
            return any(_restricts(arg, column) for arg in args)
        if inner.get("boolop") == "OR_EXPR":
            return all(_restricts(arg, column) or _truth(arg) is False for arg in args)
        return False
    if kind == "A_Expr":
        names = [_kind(n)[1].get("sval") for n in inner.get("name") or ()]
        if not names or names[-1] not in _EQUALITY:
            return False
        if inner.get("kind") not in ("AEXPR_OP", "AEXPR_OP_ANY", "AEXPR_IN"):
            return False
        left, right = inner.get("lexpr"), inner.get("rexpr")
        if _column_name(left) == column:
            return _session_valued(right, column)
        if inner.get("kind") == "AEXPR_OP" and _column_name(right) == column:
            return _session_valued(left, column)
        return False
    if kind == "SubLink" and inner.get("subLinkType") == "ANY_SUBLINK":
        subquery = inner.get("subselect")
        return _column_name(inner.get("testexpr")) == column and _session_valued(
            {"SubLink": {"subselect": subquery}}, column
        )
    return False


def applies_to(policy: Policy, command: str) -> bool:
    """Whether the policy governs ``command`` (its own, or ALL)."""
    return policy.command.upper() in ("ALL", command)


def condition(policy: Policy, command: str) -> list[str | None]:
    """The expressions a policy applies to rows of ``command``: USING for the rows it reads,
    WITH CHECK (USING when absent) for the rows it writes."""
    if command in ("SELECT", "DELETE"):
        return [policy.using]
    check = policy.with_check if policy.with_check is not None else policy.using
    if command == "INSERT":
        return [check]
    return [policy.using, check]


def unrestricted(policies: Iterable[Policy], command: str, column: str) -> list[Policy]:
    """The permissive policies that let ``command`` past ``column`` (none when a restrictive
    policy restricts the column for that command: restrictive policies AND in)."""
    applying = [p for p in policies if applies_to(p, command)]
    if any(
        not p.permissive and all(restricts(e, column) for e in condition(p, command))
        for p in applying
    ):
        return []
    return [
        p
        for p in applying
        if p.permissive and not all(restricts(e, column) for e in condition(p, command))
    ]
