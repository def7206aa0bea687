"""Functions and procedures: CREATE OR REPLACE where PostgreSQL allows it, drop and create
otherwise; comments; grants compared with what a new function grants (EXECUTE to PUBLIC)."""

from __future__ import annotations

from dataclasses import replace

from plimsoll.db.catalog import DEFAULT_FUNCTION_GRANTS, Catalog, Function
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.text import comment_sql, diff_comment, diff_grants, grants_sql, pairs


def function_kind(function: Function) -> str:
    """``FUNCTION`` or ``PROCEDURE``."""
    return "PROCEDURE" if function.procedure else "FUNCTION"


def _on(function: Function) -> str:
    return f"{function_kind(function)} {function.signature}"


def create_function_sql(function: Function) -> str:
    """The function's definition, then its comment and the grants that differ from a new
    function's."""
    out = []
    if "LANGUAGE sql" in function.definition:
        # A SQL-language body is checked against the tables it reads when created, and
        # functions are created before the tables (defaults and checks may call them).
        out.append("SET check_function_bodies = false;")
    out.append(function.definition.rstrip().rstrip(";") + ";")
    if function.comment is not None:
        out.append(comment_sql(_on(function), function.comment))
    out += grants_sql(DEFAULT_FUNCTION_GRANTS, function.grants, _on(function))
    return "\n".join(out)


def drop_function_sql(function: Function) -> str:
    """``DROP FUNCTION`` / ``DROP PROCEDURE`` by signature."""
    return f"DROP {function_kind(function)} {function.signature};"


def diff_functions(a: Catalog, b: Catalog) -> list[Change]:
    """Functions and procedures created, dropped or changed."""
    out = []
    for key in pairs(a.functions, b.functions):
        old, new = a.functions.get(key), b.functions.get(key)
        either = new or old
        kind = "procedure" if either is not None and either.procedure else "function"
        if old is None and new is not None:
            step = Step(Phase.FUNCTIONS, create_function_sql(new), drop_function_sql(new))
            out.append(Change(ChangeKind.ADDED, kind, key, "", (step,)))
        elif new is None and old is not None:
            step = Step(Phase.DROP_FUNCTIONS, drop_function_sql(old), create_function_sql(old))
            out.append(Change(ChangeKind.REMOVED, kind, key, "", (step,)))
        elif old is not None and new is not None and old != new:
            out += _changed(kind, key, old, new)
    return out


def _changed(kind: str, key: str, old: Function, new: Function) -> list[Change]:
    steps = []
    details = []
    # CREATE OR REPLACE cannot change the result type, argument names or kind; such a
    # function is dropped and created again, which also resets its comment and grants (the
    # new definition brings them back).
    replaceable = (old.returns, old.identity_args, old.procedure) == (
        new.returns,
        new.identity_args,
        new.procedure,
    )
    if old.definition != new.definition or not replaceable:
        details.append("definition")
        if replaceable:
            up = create_function_sql(replace(new, comment=None, grants=DEFAULT_FUNCTION_GRANTS))
            down = create_function_sql(replace(old, comment=None, grants=DEFAULT_FUNCTION_GRANTS))
        else:
            up = f"{drop_function_sql(old)}\n{create_function_sql(new)}"
            down = f"{drop_function_sql(new)}\n{create_function_sql(old)}"
        steps.append(Step(Phase.FUNCTIONS, up, down))
    out = []
    if steps:
        out.append(Change(ChangeKind.CHANGED, kind, key, ", ".join(details), tuple(steps)))
    if replaceable:
        # Kept by CREATE OR REPLACE: changed on their own (a recreation brings them back).
        out += diff_comment(old.comment, new.comment, _on(new), key)
        out += diff_grants(old.grants, new.grants, _on(new), key)
    return out
