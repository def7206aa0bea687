"""CREATE TRIGGER, CREATE / ALTER POLICY.

A trigger's function is found on the search path (or among PostgreSQL's own trigger
functions); a policy's roles are listed as ``pg_policy`` lists them (``public`` alone when
PUBLIC is among them; ``CURRENT_USER``-style roles as those words in lower case).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from plimsoll.db.catalog import Policy
from plimsoll.db.ddl.grants_comments import role_names
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.state import TriggerDraft, quote
from plimsoll.db.sqljson import Node, strings, unwrap

# PostgreSQL's own trigger functions, which an unqualified trigger may call.
_PG_TRIGGER_FUNCTIONS = frozenset(
    {
        "suppress_redundant_updates_trigger",
        "tsvector_update_trigger",
        "tsvector_update_trigger_column",
    }
)


def create_trigger(model: Model, node: Node) -> None:
    """CREATE [CONSTRAINT] TRIGGER on a table."""
    table = model.table(node.get("relation"))
    if table is None:
        return
    name = node.get("trigname", "")
    trigger = TriggerDraft(name, model.here())
    trigger.timing = node.get("timing", 0)
    trigger.events = node.get("events", 0)
    trigger.update_columns = tuple(strings(node.get("columns")))
    trigger.row_level = bool(node.get("row"))
    trigger.function = _trigger_function(model, strings(node.get("funcname")))
    trigger.arguments = tuple(strings(node.get("args")))
    trigger.constraint = bool(node.get("isconstraint"))
    trigger.deferrable = bool(node.get("deferrable"))
    trigger.deferred = bool(node.get("initdeferred"))
    if node.get("whenClause") is not None:
        tokens = model.tokens()
        trigger.when = tokens.group(tokens.find_top(0, "WHEN"))
    transitions = []
    for item in node.get("transitionRels") or ():
        transition = unwrap(item)[1]
        word = "NEW" if transition.get("isNew") else "OLD"
        transitions.append(f"{word} TABLE AS {quote(transition.get('name', ''))}")
    trigger.referencing = " ".join(transitions)
    table.triggers[name] = trigger


def _trigger_function(model: Model, names: list[str]) -> tuple[str, str]:
    """The (schema, name) of a trigger's function."""
    if len(names) > 1:
        return names[-2], names[-1]
    name = names[-1] if names else ""
    for schema in model.path:
        if f"{schema}.{name}" in model.function_names:
            return schema, name
    if name in _PG_TRIGGER_FUNCTIONS:
        return "pg_catalog", name
    return model.create_in, name


def create_policy(model: Model, node: Node) -> None:
    """CREATE POLICY on a table."""
    table = model.table(node.get("table"))
    if table is None:
        return
    name = node.get("policy_name", "")
    table.policies[name] = Policy(
        name,
        permissive=bool(node.get("permissive")),
        command=(node.get("cmd_name") or "all").upper(),
        roles=_roles(node.get("roles")),
        origin=model.here(),
        **{"using": None, "with_check": None, **_expressions(model, node)},
    )


def alter_policy(model: Model, node: Node) -> None:
    """ALTER POLICY: its roles, USING and WITH CHECK."""
    table = model.table(node.get("table"))
    policy = table.policies.get(node.get("policy_name", "")) if table is not None else None
    if table is None or policy is None:
        return
    changes = _expressions(model, node)
    if node.get("roles"):
        changes["roles"] = _roles(node.get("roles"))
    table.policies[policy.name] = dataclasses.replace(policy, **changes)


def _expressions(model: Model, node: Node) -> dict[str, Any]:
    """A policy statement's USING and WITH CHECK texts, those it has."""
    found: dict[str, Any] = {}
    if node.get("qual"):
        tokens = model.tokens()
        found["using"] = tokens.group(tokens.find_top(0, "USING"))
    if node.get("with_check"):
        tokens = model.tokens()
        found["with_check"] = tokens.group(tokens.find_top(0, "WITH", "CHECK"))
    return found


def _roles(items: Any) -> tuple[str, ...]:
    """Policy roles as pg_policy lists them: ``public`` for PUBLIC, sorted."""
    out = role_names(items, "public", special=True)
    if not out or "public" in out:
        # PUBLIC covers every role: PostgreSQL keeps it alone.
        return ("public",)
    return tuple(sorted(out))
