"""COMMENT ON and GRANT / REVOKE.

Comments on tables, views, materialized views, columns and functions; table privileges
(``ALL`` expanded to PostgreSQL's list, WITH GRANT OPTION, ``ON ALL TABLES IN SCHEMA``).
Column-level privileges live elsewhere in PostgreSQL (``attacl``) and are left out, as are
grants to ``CURRENT_USER``-style roles (usually the owner, whose privileges are not listed).
"""

from __future__ import annotations

from typing import Any

from plimsoll.db.ddl.functions import function_key
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.state import TableDraft
from plimsoll.db.ddl.views import ViewDraft
from plimsoll.db.sqljson import Node, strings, unwrap

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


def comment(model: Model, node: Node) -> None:
    """COMMENT ON a table, view, materialized view, column or function (an empty comment
    removes it, as NULL does)."""
    kind = node.get("objtype", "")
    text = node.get("comment") or None
    target = node.get("object")
    if kind in ("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE"):
        function = model.functions.get(function_key(model, unwrap(target)[1]) or "")
        if function is not None:
            function.comment = text
        return
    names = strings(unwrap(target)[1].get("items"))
    if kind == "OBJECT_TABLE":
        table = model.tables.get(model.names_key(names, ("r",)))
        if table is not None:
            table.comment = text
    elif kind in ("OBJECT_VIEW", "OBJECT_MATVIEW"):
        view = model.views.get(model.names_key(names, ("v", "m")))
        if view is not None:
            view.comment = text
    elif kind == "OBJECT_COLUMN" and len(names) >= 2:
        table = model.tables.get(model.names_key(names[:-1], ("r",)))
        column = table.columns.get(names[-1]) if table is not None else None
        if column is not None:
            column["comment"] = text


def grant(model: Model, node: Node) -> None:
    """GRANT / REVOKE [GRANT OPTION FOR] privileges on tables and views."""
    if node.get("objtype") != "OBJECT_TABLE":
        return
    targets = _targets(model, node)
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
    grantees = role_names(node.get("grantees"), "PUBLIC", special=False)
    option = bool(node.get("grant_option"))
    granting = bool(node.get("is_grant"))
    for target in targets:
        grants = target.grants
        for privilege in privileges:
            for grantee in grantees:
                pair = (privilege, grantee)
                if granting:
                    grants[pair] = grants.get(pair, False) or option
                elif option:
                    if pair in grants:
                        grants[pair] = False
                else:
                    grants.pop(pair, None)


def _targets(model: Model, node: Node) -> list[TableDraft | ViewDraft]:
    """The tables and views a GRANT names (or all those of its schemas)."""
    targets: list[TableDraft | ViewDraft] = []
    if node.get("targtype") == "ACL_TARGET_ALL_IN_SCHEMA":
        schemas = set(strings(node.get("objects")))
        targets.extend(t for t in model.tables.values() if t.schema in schemas)
        targets.extend(v for v in model.views.values() if v.schema in schemas)
    elif node.get("targtype", "ACL_TARGET_OBJECT") == "ACL_TARGET_OBJECT":
        for item in node.get("objects") or ():
            key = model.relation(unwrap(item)[1], ("r", "v", "m"))
            found = model.tables.get(key) or model.views.get(key)
            if found is not None:
                targets.append(found)
    return targets


def role_names(items: Any, public: str, *, special: bool) -> list[str]:
    """The roles of a list of RoleSpec nodes: names, ``public`` for PUBLIC, and (when
    ``special``) ``CURRENT_USER``-style roles as those words in lower case."""
    out = []
    for item in items or ():
        role = unwrap(item)[1]
        kind = role.get("roletype", "")
        if kind == "ROLESPEC_PUBLIC":
            out.append(public)
        elif kind == "ROLESPEC_CSTRING":
            out.append(role.get("rolename", ""))
        elif special:
            out.append(kind.removeprefix("ROLESPEC_").lower())
    return out
