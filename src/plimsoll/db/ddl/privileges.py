"""Privileges as GRANT, REVOKE and ALTER DEFAULT PRIVILEGES change them.

:class:`Change` is what one GRANT or REVOKE does to the privileges held on an object.
**Default privileges** (``ALTER DEFAULT PRIVILEGES [IN SCHEMA ...] GRANT|REVOKE ... ON
TABLES|SEQUENCES|FUNCTIONS|ROUTINES TO|FROM ...``) are kept per kind of object and schema
and given to each table, view, sequence and function created afterwards, as PostgreSQL does:
the defaults without ``IN SCHEMA`` replace the built-in ones (a function's EXECUTE to
PUBLIC), those of a schema add to them. PostgreSQL keeps default privileges per creating
role; a script is taken to run as one role, so ``FOR ROLE`` is read as that role (the
usual case: the migration role sets the defaults of the objects it then creates). The
catalog lists them (:func:`catalog_default_privileges`) under the role ``FOR ROLE`` names,
or ``CURRENT_USER`` when it names none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from plimsoll.db.catalog import DefaultPrivilege, Grant, Origin
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.state import Privileges
from plimsoll.db.sqljson import Node, strings, unwrap

# The kind of object each ALTER DEFAULT PRIVILEGES target names, as keys of the defaults.
_DEFAULT_KINDS = {
    "OBJECT_TABLE": "TABLES",
    "OBJECT_SEQUENCE": "SEQUENCES",
    "OBJECT_FUNCTION": "FUNCTIONS",
    "OBJECT_ROUTINE": "FUNCTIONS",
    "OBJECT_PROCEDURE": "FUNCTIONS",
    "OBJECT_TYPE": "TYPES",
    "OBJECT_SCHEMA": "SCHEMAS",
}
# What ALL means for each kind of default.
_ALL_DEFAULT_PRIVILEGES = {
    "TABLES": ("INSERT", "SELECT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
    "SEQUENCES": ("USAGE", "SELECT", "UPDATE"),
    "FUNCTIONS": ("EXECUTE",),
    "TYPES": ("USAGE",),
    "SCHEMAS": ("USAGE", "CREATE"),
}
# The built-in defaults the global ones start from (acldefault): EXECUTE on functions and
# USAGE on types to PUBLIC; nothing on tables, sequences and schemas.
_BUILT_IN = {
    "FUNCTIONS": {("EXECUTE", "PUBLIC"): Grant("EXECUTE", "PUBLIC")},
    "TYPES": {("USAGE", "PUBLIC"): Grant("USAGE", "PUBLIC")},
}


class Change:
    """What one GRANT or REVOKE (or a default privilege) does to a set of privileges.

    A new privilege remembers ``origin``, the statement that gave it, so findings about it
    point there rather than at the object's CREATE.
    """

    def __init__(
        self, grantees: list[str], granting: bool, option: bool, origin: Origin | None
    ) -> None:
        self.grantees = grantees
        self.granting = granting
        self.option = option
        self.origin = origin

    def apply(self, held: Privileges, privileges: Iterable[str]) -> None:
        """Grant or revoke ``privileges`` in ``held`` (changed in place)."""
        for privilege in privileges:
            for grantee in self.grantees:
                pair = (privilege, grantee)
                known = held.get(pair)
                if self.granting:
                    if known is None or (self.option and not known.grantable):
                        origin = self.origin if known is None else known.origin
                        held[pair] = Grant(privilege, grantee, self.option, origin)
                elif self.option:
                    if known is not None and known.grantable:
                        held[pair] = Grant(privilege, grantee, False, known.origin)
                else:
                    held.pop(pair, None)

    @classmethod
    def of(cls, action: Node, origin: Origin | None) -> Change:
        """The change a GRANT or REVOKE node (or a default privileges action) makes."""
        grantees = role_names(action.get("grantees"), "PUBLIC", special=False)
        return cls(grantees, bool(action.get("is_grant")), bool(action.get("grant_option")), origin)


def _privilege_names(action: Node) -> list[str] | None:
    """The privileges an action names, upper case; None for ALL."""
    if "privileges" not in action:
        return None
    return [unwrap(item)[1].get("priv_name", "").upper() for item in action["privileges"]]


def alter_default_privileges(model: Model, node: Node) -> None:
    """ALTER DEFAULT PRIVILEGES [FOR ROLE ...] [IN SCHEMA ...] GRANT|REVOKE ...: kept for the
    objects created after it (FOR ROLE read as the role running the script)."""
    action = node.get("action") or {}
    kind = _DEFAULT_KINDS.get(action.get("objtype", ""))
    if kind is None:
        return
    schemas: list[str | None] = [None]
    role = "CURRENT_USER"
    for option in node.get("options") or ():
        item = unwrap(option)[1]
        if item.get("defname") == "schemas":
            schemas = list(strings(unwrap(item.get("arg"))[1].get("items")))
        elif item.get("defname") == "roles":
            named = role_names(unwrap(item.get("arg"))[1].get("items"), "PUBLIC", special=True)
            role = named[0] if named else role
    privileges = _privilege_names(action)
    wanted = _ALL_DEFAULT_PRIVILEGES[kind] if privileges is None else privileges
    change = Change.of(action, model.here())
    for schema in schemas:
        held = model.default_privileges.get((kind, schema))
        if held is None:
            held = dict(_BUILT_IN.get(kind, {})) if schema is None else {}
            model.default_privileges[(kind, schema)] = held
        model.default_privilege_roles[(kind, schema)] = role
        change.apply(held, wanted)


def catalog_default_privileges(model: Model) -> list[DefaultPrivilege]:
    """The default privileges as the catalog lists them: what each differs from the
    built-in ones (a privilege given, or a built-in one taken away, ``revoked``)."""
    out = []
    for (kind, schema), held in model.default_privileges.items():
        role = model.default_privilege_roles.get((kind, schema), "CURRENT_USER")
        built_in = _BUILT_IN.get(kind, {}) if schema is None else {}
        for (privilege, grantee), grant in held.items():
            if built_in.get((privilege, grantee)) != grant:
                out.append(
                    DefaultPrivilege(
                        role,
                        kind,
                        privilege,
                        grantee,
                        grant.grantable,
                        schema,
                        origin=grant.origin,
                    )
                )
        for pair, grant in built_in.items():
            if pair not in held:
                out.append(
                    DefaultPrivilege(
                        role, kind, grant.privilege, grant.grantee, False, schema, True
                    )
                )
    return out


def default_privileges(model: Model, kind: str, schema: str) -> Privileges | None:
    """The privileges a new object of ``kind`` (``TABLES``, ``SEQUENCES``, ``FUNCTIONS``) in
    ``schema`` starts with, or None when no ALTER DEFAULT PRIVILEGES changed the built-in
    ones."""
    defaults = model.default_privileges
    if not defaults:
        return None
    overall = defaults.get((kind, None))
    own = defaults.get((kind, schema))
    if overall is None and own is None:
        return None
    held = dict(_BUILT_IN.get(kind, {}) if overall is None else overall)
    for pair, grant in (own or {}).items():
        known = held.get(pair)
        if known is None or (grant.grantable and not known.grantable):
            held[pair] = grant
    return held


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
