"""Default privileges (``ALTER DEFAULT PRIVILEGES``): one change per privilege objects get
without being asked, or per built-in one taken away.

Each is written for its role (``FOR ROLE``), so the migration sets the defaults of the role
that had them whoever runs it, and runs right after the schemas are created, before any
object is.

Default privileges also reach every object a migration creates, on the way up or back:
whichever role runs it, whatever defaults hold at that moment, and whenever the object was
created on the side it comes from (a table created before ``ALTER DEFAULT PRIVILEGES`` ran
has none of them). So when either side has default privileges, :func:`settle_default_grants`
gives each object the migration creates its own grants exactly: it revokes what any default
privilege of either side may have given it and it does not hold, and grants again a built-in
privilege a default took away (EXECUTE to PUBLIC on a function) that it holds. A REVOKE of
a privilege not held and a GRANT of one held change nothing, so this holds whatever ran.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from plimsoll.db.catalog import (
    Catalog,
    DefaultPrivilege,
    Function,
    Grant,
    Table,
    View,
    quote_ident,
)
from plimsoll.db.diff.functions import function_kind
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.text import role

# The kinds of object a migration creates that default privileges apply to, by the object
# type of their change: what ALTER DEFAULT PRIVILEGES calls them.
_DEFAULTS_OF = {
    "table": "TABLES",
    "partitioned table": "TABLES",
    "partition": "TABLES",
    "view": "TABLES",
    "materialized view": "TABLES",
    "sequence": "SEQUENCES",
    "function": "FUNCTIONS",
    "procedure": "FUNCTIONS",
    "schema": "SCHEMAS",
}
# A step that must run last on the way back (after every object is created again) sits
# first on the way up.
_LAST_ON_THE_WAY_BACK = (Phase.DROP_TRIGGERS, -(10**6))


def _prefix(privilege: DefaultPrivilege) -> str:
    text = f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(privilege.role)}"
    if privilege.schema is not None:
        text += f" IN SCHEMA {quote_ident(privilege.schema)}"
    return text


def _grant_sql(privilege: DefaultPrivilege) -> str:
    option = " WITH GRANT OPTION" if privilege.grantable else ""
    return (
        f"{_prefix(privilege)} GRANT {privilege.privilege} ON {privilege.object_type}"
        f" TO {role(privilege.grantee)}{option};"
    )


def _revoke_sql(privilege: DefaultPrivilege) -> str:
    return (
        f"{_prefix(privilege)} REVOKE {privilege.privilege} ON {privilege.object_type}"
        f" FROM {role(privilege.grantee)};"
    )


def _step(privilege: DefaultPrivilege, *, add: bool) -> Step:
    """The step making a catalog hold ``privilege`` (``add``) or no longer hold it.

    A granted one is added by GRANT, a built-in one taken away (``revoked``) by REVOKE; the
    REVOKEs run first, so a grant whose grant option changes is revoked, then granted.
    """
    grant, revoke = _grant_sql(privilege), _revoke_sql(privilege)
    gives = add != privilege.revoked
    up, down = (grant, revoke) if gives else (revoke, grant)
    return Step(Phase.DEFAULT_PRIVILEGES, up, down, rank=1 if gives else 0)


def _name(privilege: DefaultPrivilege) -> str:
    where = f" in schema {privilege.schema}" if privilege.schema is not None else ""
    return f"for role {privilege.role}{where} on {privilege.object_type.lower()}"


def _detail(privilege: DefaultPrivilege) -> str:
    if privilege.revoked:
        return f"{privilege.privilege} from {privilege.grantee} revoked"
    option = " with grant option" if privilege.grantable else ""
    return f"{privilege.privilege} to {privilege.grantee}{option}"


def _order(privilege: DefaultPrivilege) -> tuple[str, str, str, str, str, bool, bool]:
    return (
        privilege.role,
        privilege.schema or "",
        privilege.object_type,
        privilege.grantee,
        privilege.privilege,
        privilege.revoked,
        privilege.grantable,
    )


def diff_default_privileges(a: Catalog, b: Catalog) -> list[Change]:
    """Default privileges given or taken away between ``a`` and ``b``."""
    out = []
    for kind, found, add in (
        (ChangeKind.REMOVED, a.default_privileges - b.default_privileges, False),
        (ChangeKind.ADDED, b.default_privileges - a.default_privileges, True),
    ):
        for privilege in sorted(found, key=_order):
            step = _step(privilege, add=add)
            out.append(
                Change(kind, "default privilege", _name(privilege), _detail(privilege), (step,))
            )
    return out


def settle_default_grants(a: Catalog, b: Catalog, changes: list[Change]) -> list[Change]:
    """``changes`` with, for each object created on the way up (in B) or on the way back
    (in A), the statements leaving it with its own grants whatever default privileges
    gave it (nothing when neither side has default privileges)."""
    defaults = a.default_privileges | b.default_privileges
    if not defaults:
        return changes
    out = []
    for change in changes:
        kind = _DEFAULTS_OF.get(change.object_type)
        if kind is None:
            out.append(change)
            continue
        steps = list(change.steps)
        # Created on the way up when added or dropped and created again (a view rebuilt, a
        # function whose result changed); on the way back when removed, or the same.
        recreated = _recreated(change)
        if change.kind is ChangeKind.ADDED or recreated:
            up = _settling_sql(b, change, kind, defaults)
            if up:
                steps.append(Step(Phase.GRANTS, up, "", rank=2))
        if change.kind is ChangeKind.REMOVED or recreated:
            down = _settling_sql(a, change, kind, defaults)
            if down:
                steps.append(Step(_LAST_ON_THE_WAY_BACK[0], "", down, _LAST_ON_THE_WAY_BACK[1]))
        out.append(
            replace(change, steps=tuple(steps)) if len(steps) > len(change.steps) else change
        )
    return out


def _recreated(change: Change) -> bool:
    """Whether a change drops its object and creates it again (a view's or a function's
    does it in a step of its own whose statement starts with the DROP; a change that alters
    the object in place never drops it)."""
    return change.kind is ChangeKind.CHANGED and any(
        step.up.startswith("DROP ") for step in change.steps
    )


def _settling_sql(
    catalog: Catalog, change: Change, kind: str, defaults: Iterable[DefaultPrivilege]
) -> str:
    """The REVOKEs and GRANTs that leave the object of ``change`` in ``catalog`` with its own
    grants (empty when it is not there)."""
    found = _target(catalog, change)
    if found is None:
        return ""
    on, schema, grants = found
    held = {(g.privilege, g.grantee): g.grantable for g in grants}
    out = []
    seen: set[tuple[str, str, bool]] = set()
    for default in sorted(defaults, key=_order):
        if default.object_type != kind or default.schema not in (None, schema):
            continue
        wanted = (default.privilege, default.grantee)
        if default.revoked:
            if wanted in held and (*wanted, True) not in seen:
                seen.add((*wanted, True))
                out.append(f"GRANT {default.privilege} ON {on} TO {role(default.grantee)};")
            continue
        if (*wanted, False) in seen:
            continue
        if wanted not in held:
            seen.add((*wanted, False))
            out.append(f"REVOKE {default.privilege} ON {on} FROM {role(default.grantee)};")
        elif default.grantable and not held[wanted]:
            seen.add((*wanted, False))
            out.append(
                f"REVOKE GRANT OPTION FOR {default.privilege} ON {on} FROM {role(default.grantee)};"
            )
    return "\n".join(out)


def _target(catalog: Catalog, change: Change) -> tuple[str, str | None, frozenset[Grant]] | None:
    """What grants are written on for the object of ``change`` in ``catalog`` (``TABLE
    public.t``), its schema, and its grants; None when ``catalog`` has no such object."""
    key = change.name
    if change.object_type == "schema":
        if key not in catalog.schemas:
            return None
        return f"SCHEMA {quote_ident(key)}", None, catalog.schema_grants.get(key, frozenset())
    if change.object_type in ("function", "procedure"):
        function: Function | None = catalog.functions.get(key)
        if function is None:
            return None
        return f"{function_kind(function)} {function.signature}", function.schema, function.grants
    if change.object_type == "sequence":
        sequence = catalog.sequences.get(key)
        if sequence is None:
            return None
        return f"SEQUENCE {sequence.sql_name}", sequence.schema, sequence.grants
    relations: Mapping[str, Table | View] = {
        **catalog.tables,
        **catalog.partitioned,
        **catalog.partitions,
        **catalog.views,
    }
    relation = relations.get(key)
    if relation is None:
        return None
    return f"TABLE {relation.sql_name}", relation.schema, relation.grants
