"""COMMENT ON and GRANT / REVOKE.

Comments on tables, views, materialized views, columns, functions, sequences and types
(enums, domains, composite types). Privileges on tables and views, their columns
(``GRANT SELECT (col)``), sequences, functions and procedures, and schemas: ``ALL``
expanded to PostgreSQL's list for the object, WITH GRANT OPTION, ``ON ALL ... IN SCHEMA``.
A function starts with EXECUTE to PUBLIC, schema ``public`` with USAGE to PUBLIC. Grants
to ``CURRENT_USER``-style roles are left out (usually the owner, whose privileges are not
listed).
"""

from __future__ import annotations

from typing import Any

from plimsoll.db.ddl.functions import FunctionDraft, function_key
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.privileges import Change, role_names
from plimsoll.db.ddl.state import TableDraft, grant_set, privileges_of
from plimsoll.db.ddl.user_types import set_type_comment
from plimsoll.db.ddl.views import ViewDraft
from plimsoll.db.sqljson import Node, constant, strings, unwrap

__all__ = ["comment", "grant", "role_names"]

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
# What ALL means on the other kinds of object, and on a column.
_ALL_PRIVILEGES = {
    "OBJECT_SEQUENCE": ("USAGE", "SELECT", "UPDATE"),
    "OBJECT_FUNCTION": ("EXECUTE",),
    "OBJECT_PROCEDURE": ("EXECUTE",),
    "OBJECT_ROUTINE": ("EXECUTE",),
    "OBJECT_SCHEMA": ("USAGE", "CREATE"),
}
_ALL_COLUMN_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "REFERENCES")
# The functions ON ALL ... IN SCHEMA reaches: FUNCTIONS the functions (not procedures),
# PROCEDURES the procedures, ROUTINES both.
_ROUTINE_KINDS = {
    "OBJECT_FUNCTION": (False,),
    "OBJECT_PROCEDURE": (True,),
    "OBJECT_ROUTINE": (False, True),
}


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
    if kind in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
        type_names = strings(unwrap(target)[1].get("names"))
        set_type_comment(model, model.type_names_key(type_names), text)
        return
    names = strings(unwrap(target)[1].get("items"))
    if kind == "OBJECT_SEQUENCE":
        sequence = model.sequences.get(model.names_key(names, ("S",)))
        if sequence is not None:
            sequence["comment"] = text
        return
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
    """GRANT / REVOKE [GRANT OPTION FOR] privileges on tables, views, their columns,
    sequences, functions and schemas."""
    objtype = node.get("objtype", "")
    privileges: list[str] | None = None
    columns: dict[str, list[str]] = {}
    if "privileges" in node:
        privileges = []
        for item in node["privileges"]:
            access = unwrap(item)[1]
            privilege = access.get("priv_name", "").upper()
            if access.get("cols"):
                for column in strings(access["cols"]):
                    columns.setdefault(column, []).append(privilege)
            else:
                privileges.append(privilege)
    change = Change.of(node, model.here())
    if objtype == "OBJECT_TABLE":
        for target in _targets(model, node):
            table_privileges = _ALL_TABLE_PRIVILEGES if privileges is None else privileges
            change.apply(target.grants, table_privileges)
            if not isinstance(target, TableDraft):
                continue
            _column_grants(target, columns, change)
            if not change.granting:
                # Revoking a table privilege also revokes it on every column (PostgreSQL).
                revoked = [p for p in table_privileges if p in _ALL_COLUMN_PRIVILEGES]
                _column_grants(target, dict.fromkeys(target.columns, revoked), change)
    elif objtype == "OBJECT_SEQUENCE":
        for sequence in _sequences(model, node):
            held = privileges_of(sequence["grants"])
            change.apply(held, _ALL_PRIVILEGES[objtype] if privileges is None else privileges)
            sequence["grants"] = grant_set(held)
    elif objtype in _ROUTINE_KINDS:
        wanted = _ALL_PRIVILEGES[objtype] if privileges is None else privileges
        for function in _functions(model, node, objtype):
            change.apply(function.grants, wanted)
    elif objtype == "OBJECT_SCHEMA":
        for item in node.get("objects") or ():
            name = str(constant(item) or "")
            if name in model.schemas:
                held = model.schema_grants.setdefault(name, {})
                change.apply(held, _ALL_PRIVILEGES[objtype] if privileges is None else privileges)


def _column_grants(table: TableDraft, columns: dict[str, list[str]], change: Change) -> None:
    """Column privileges (``attacl``): a frozenset of Grants in each column record."""
    for name, privileges in columns.items():
        record = table.columns.get(name)
        if record is None:
            continue
        held = privileges_of(record["grants"])
        wanted = _ALL_COLUMN_PRIVILEGES if privileges == ["ALL"] else privileges
        change.apply(held, wanted)
        record["grants"] = grant_set(held)


def _sequences(model: Model, node: Node) -> list[dict[str, Any]]:
    """The sequences a GRANT names (or all those of its schemas)."""
    if node.get("targtype") == "ACL_TARGET_ALL_IN_SCHEMA":
        schemas = set(strings(node.get("objects")))
        return [s for s in model.sequences.values() if s["schema"] in schemas]
    out = []
    for item in node.get("objects") or ():
        found = model.sequences.get(model.relation(unwrap(item)[1], ("S",)))
        if found is not None:
            out.append(found)
    return out


def _functions(model: Model, node: Node, objtype: str) -> list[FunctionDraft]:
    """The functions and procedures a GRANT names (or all those of its schemas)."""
    if node.get("targtype") == "ACL_TARGET_ALL_IN_SCHEMA":
        schemas = set(strings(node.get("objects")))
        kinds = _ROUTINE_KINDS[objtype]
        return [f for f in model.functions.values() if f.schema in schemas and f.procedure in kinds]
    out = []
    for item in node.get("objects") or ():
        found = model.functions.get(function_key(model, unwrap(item)[1]) or "")
        if found is not None:
            out.append(found)
    return out


def _targets(model: Model, node: Node) -> list[TableDraft | ViewDraft]:
    """The tables and views a GRANT ON [TABLE] names (or all those of its schemas)."""
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
