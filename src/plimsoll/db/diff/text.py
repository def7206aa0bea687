"""SQL text and comparisons every kind of object shares: comments, grants, names."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from plimsoll.db.catalog import Grant, quote_ident, quote_literal
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step


def comment_sql(what: str, comment: str | None) -> str:
    """``COMMENT ON <what> IS ...`` (NULL removes the comment)."""
    return f"COMMENT ON {what} IS {quote_literal(comment) if comment is not None else 'NULL'};"


def role(name: str) -> str:
    """A grantee as SQL: PUBLIC, or a quoted role name."""
    return "PUBLIC" if name.lower() == "public" else quote_ident(name)


def grant_sql(grant: Grant, on: str, columns: str = "") -> str:
    """``GRANT privilege [(columns)] ON <on> TO role [WITH GRANT OPTION]``."""
    option = " WITH GRANT OPTION" if grant.grantable else ""
    return f"GRANT {grant.privilege}{columns} ON {on} TO {role(grant.grantee)}{option};"


def revoke_sql(grant: Grant, on: str, columns: str = "") -> str:
    """``REVOKE privilege [(columns)] ON <on> FROM role``."""
    return f"REVOKE {grant.privilege}{columns} ON {on} FROM {role(grant.grantee)};"


def sorted_grants(grants: Iterable[Grant]) -> list[Grant]:
    """Grants in a stable order (grantee, privilege), so generated SQL is deterministic."""
    return sorted(grants, key=lambda g: (g.grantee, g.privilege, g.grantable))


def grants_sql(
    old: frozenset[Grant], new: frozenset[Grant], on: str, columns: str = ""
) -> list[str]:
    """The REVOKEs then GRANTs turning ``old`` into ``new`` (empty when equal)."""
    out = [revoke_sql(g, on, columns) for g in sorted_grants(old - new)]
    out += [grant_sql(g, on, columns) for g in sorted_grants(new - old)]
    return out


def diff_grants(
    old: frozenset[Grant],
    new: frozenset[Grant],
    on: str,
    key: str,
    *,
    columns: str = "",
    object_type: str = "grant",
) -> list[Change]:
    """One change per grant revoked or granted on ``on`` (``columns`` for column grants)."""
    out = []
    for grant in sorted_grants(old - new):
        step = Step(
            Phase.GRANTS, revoke_sql(grant, on, columns), grant_sql(grant, on, columns), rank=0
        )
        detail = f"{grant.privilege}{columns} to {grant.grantee}"
        out.append(Change(ChangeKind.REMOVED, object_type, key, detail, (step,)))
    for grant in sorted_grants(new - old):
        # Granted after every revoke, so a grant whose option changed is revoked then granted.
        step = Step(
            Phase.GRANTS, grant_sql(grant, on, columns), revoke_sql(grant, on, columns), rank=1
        )
        detail = f"{grant.privilege}{columns} to {grant.grantee}"
        out.append(Change(ChangeKind.ADDED, object_type, key, detail, (step,)))
    return out


def diff_comment(old: str | None, new: str | None, what: str, key: str) -> list[Change]:
    """A comment change on ``what`` (``TABLE x``, ``TYPE y``...), or nothing."""
    if old == new:
        return []
    step = Step(Phase.COMMENTS, comment_sql(what, new), comment_sql(what, old))
    return [Change(ChangeKind.CHANGED, "comment", key, f"{show(old)} -> {show(new)}", (step,))]


def show(value: str | None) -> str:
    """A value in a change's detail (``none`` for None)."""
    return "none" if value is None else value


def pairs(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """The keys of either mapping, sorted."""
    return sorted(set(a) | set(b))


def by_name(items: Iterable[Any]) -> dict[str, Any]:
    """Objects keyed by their ``name``."""
    return {item.name: item for item in items}


def topological(keys: Iterable[str], needs: Callable[[str], Iterable[str]]) -> list[str]:
    """``keys`` sorted so that each comes after the keys it ``needs`` (cycles broken by name)."""
    known = set(keys)
    order: list[str] = []
    seen: set[str] = set()

    def visit(key: str, path: frozenset[str]) -> None:
        if key in seen or key in path:
            return
        for dependency in sorted(needs(key)):
            if dependency in known:
                visit(dependency, path | {key})
        seen.add(key)
        order.append(key)

    for key in sorted(known):
        visit(key, frozenset())
    return order
