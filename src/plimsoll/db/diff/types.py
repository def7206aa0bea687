"""Domains and composite types: created, dropped and altered where PostgreSQL can
(``ALTER DOMAIN`` defaults, NOT NULL and constraints; ``ALTER TYPE`` attributes), and the
comments of every user type. Enums are :mod:`plimsoll.db.diff.enums`'.

Types are created before the tables using them and dropped after: enums first, then
domains, then composite types, each kind in dependency order (and the reverse to drop).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from plimsoll.db.catalog import Catalog, CompositeType, DomainType, quote_ident
from plimsoll.db.diff import risks
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.text import by_name, comment_sql, diff_comment, pairs, show, topological

# Ranks inside CREATE_TYPES (negated inside DROP_TYPES): enums, then domains, then composites.
DOMAIN_RANK = 1000
COMPOSITE_RANK = 2000

T = TypeVar("T", DomainType, CompositeType)


def _mentions(type_text: str, key_sql: str) -> bool:
    """Whether a ``format_type`` text names the type ``key_sql`` (itself or an array of it)."""
    return type_text == key_sql or type_text.startswith(f"{key_sql}[")


def _type_order(types: Mapping[str, DomainType] | Mapping[str, CompositeType]) -> list[str]:
    """Keys so that a type comes after the types it is made of."""
    sql_names = {t.sql_name: k for k, t in types.items()}

    def needs(key: str) -> list[str]:
        found = types[key]
        texts = (
            [found.base_type]
            if isinstance(found, DomainType)
            else [a.type for a in found.attributes]
        )
        return [sql_names[name] for name in sql_names for text in texts if _mentions(text, name)]

    return topological(types, needs)


# --- domains -----------------------------------------------------------------------------------


def _create_domain_sql(domain: DomainType) -> str:
    text = f"CREATE DOMAIN {domain.sql_name} AS {domain.base_type}"
    if domain.default is not None:
        text += f" DEFAULT {domain.default}"
    if domain.not_null:
        text += " NOT NULL"
    later = []
    for constraint in domain.constraints:
        if constraint.validated:
            text += f"\n    CONSTRAINT {quote_ident(constraint.name)} {constraint.definition}"
        else:
            # CREATE DOMAIN has no NOT VALID: such a constraint is added afterwards.
            later.append(_add_check_sql(domain, constraint.name, constraint.definition))
    out = [text + ";", *later]
    if domain.comment is not None:
        out.append(comment_sql(f"DOMAIN {domain.sql_name}", domain.comment))
    return "\n".join(out)


def _alter_domain(domain: DomainType, action: str) -> str:
    return f"ALTER DOMAIN {domain.sql_name} {action};"


def _add_check_sql(domain: DomainType, name: str, definition: str) -> str:
    return _alter_domain(domain, f"ADD CONSTRAINT {quote_ident(name)} {definition}")


def _drop_check_sql(domain: DomainType, name: str) -> str:
    return _alter_domain(domain, f"DROP CONSTRAINT {quote_ident(name)}")


def _ranks(
    before: Mapping[str, T], after: Mapping[str, T], base: int
) -> tuple[dict[str, int], dict[str, int]]:
    """Each type's rank among the creations (B's dependency order) and the drops (A's,
    negated: dropped in the reverse order)."""
    create = {k: base + i for i, k in enumerate(_type_order(after))}
    drop = {k: -(base + i) for i, k in enumerate(_type_order(before))}
    return create, drop


def _no_detail(_: object) -> str:
    return ""


def _made_or_dropped(
    object_type: str,
    key: str,
    old: T | None,
    new: T | None,
    create_sql: Callable[[T], str],
    drop_word: str,
    ranks: tuple[dict[str, int], dict[str, int]],
    detail: Callable[[T], str],
) -> Change:
    """A domain or composite type only in B (created) or only in A (dropped)."""
    if new is not None:
        step = Step(
            Phase.CREATE_TYPES,
            create_sql(new),
            f"DROP {drop_word} {new.sql_name};",
            ranks[0][key],
        )
        return Change(ChangeKind.ADDED, object_type, key, detail(new), (step,))
    assert old is not None
    step = Step(
        Phase.DROP_TYPES,
        f"DROP {drop_word} {old.sql_name};",
        create_sql(old),
        ranks[1][key],
    )
    return Change(ChangeKind.REMOVED, object_type, key, detail(old), (step,))


def diff_domains(a: Catalog, b: Catalog) -> list[Change]:
    """Domains created, dropped or altered."""
    ranks = _ranks(a.domains, b.domains, DOMAIN_RANK)
    out = []
    for key in pairs(a.domains, b.domains):
        old, new = a.domains.get(key), b.domains.get(key)
        if old is None or new is None:
            out.append(
                _made_or_dropped(
                    "domain",
                    key,
                    old,
                    new,
                    _create_domain_sql,
                    "DOMAIN",
                    ranks,
                    lambda d: d.base_type,
                )
            )
        elif old != new:
            out += _altered_domain(key, old, new)
    return out


def _altered_domain(key: str, old: DomainType, new: DomainType) -> list[Change]:
    out = diff_comment(old.comment, new.comment, f"DOMAIN {new.sql_name}", key)
    if old.base_type != new.base_type:
        # No ALTER changes a domain's base type; the columns using it would have to move.
        detail = f"base type {old.base_type} -> {new.base_type} (no ALTER for it)"
        return [*out, Change(ChangeKind.CHANGED, "domain", key, detail, ())]
    steps: list[Step] = []
    details: list[str] = []
    if old.default != new.default:
        details.append(f"default {show(old.default)} -> {show(new.default)}")
        steps.append(
            Step(
                Phase.ALTER_DOMAINS, _set_default(new, new.default), _set_default(old, old.default)
            )
        )
    if old.not_null != new.not_null:
        details.append("NOT NULL" if new.not_null else "nullable")
        set_, drop = _alter_domain(new, "SET NOT NULL"), _alter_domain(new, "DROP NOT NULL")
        check = risks.domain_not_null(key)
        steps.append(
            Step(Phase.ALTER_DOMAINS, set_, drop, up_risk=check)
            if new.not_null
            else Step(Phase.ALTER_DOMAINS, drop, set_, down_risk=check)
        )
    before, after = by_name(old.constraints), by_name(new.constraints)
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        if was is not None:
            # Relaxing comes first; the way back checks the rows once the columns are back.
            steps.append(
                Step(
                    Phase.ALTER_TYPES,
                    _drop_check_sql(old, name),
                    _add_check_sql(old, name, was.definition),
                    down_risk=risks.domain_check(key, name, was.definition, was.validated),
                )
            )
        if now is not None:
            steps.append(
                Step(
                    Phase.ALTER_DOMAINS,
                    _add_check_sql(new, name, now.definition),
                    _drop_check_sql(new, name),
                    up_risk=risks.domain_check(key, name, now.definition, now.validated),
                )
            )
        verb = "added" if was is None else "dropped" if now is None else "changed"
        details.append(f"constraint {name} {verb}")
    if steps:
        out.append(Change(ChangeKind.CHANGED, "domain", key, "; ".join(details), tuple(steps)))
    return out


def _set_default(domain: DomainType, default: str | None) -> str:
    if default is None:
        return _alter_domain(domain, "DROP DEFAULT")
    return _alter_domain(domain, f"SET DEFAULT {default}")


# --- composite types ---------------------------------------------------------------------------


def _create_composite_sql(composite: CompositeType) -> str:
    attributes = ",\n".join(f"    {quote_ident(a.name)} {a.type}" for a in composite.attributes)
    body = f"(\n{attributes}\n)" if attributes else "()"
    out = [f"CREATE TYPE {composite.sql_name} AS {body};"]
    if composite.comment is not None:
        out.append(comment_sql(f"TYPE {composite.sql_name}", composite.comment))
    return "\n".join(out)


def diff_composites(a: Catalog, b: Catalog) -> list[Change]:
    """Composite types created, dropped or altered attribute by attribute."""
    ranks = _ranks(a.composites, b.composites, COMPOSITE_RANK)
    out = []
    for key in pairs(a.composites, b.composites):
        old, new = a.composites.get(key), b.composites.get(key)
        if old is None or new is None:
            out.append(
                _made_or_dropped(
                    "composite type",
                    key,
                    old,
                    new,
                    _create_composite_sql,
                    "TYPE",
                    ranks,
                    _no_detail,
                )
            )
        elif old != new:
            out += diff_comment(old.comment, new.comment, f"TYPE {new.sql_name}", key)
            if old.attributes != new.attributes:
                used = (_columns_using(a, old.sql_name), _columns_using(b, new.sql_name))
                out.append(_altered_composite(key, old, new, used))
    return out


def _after_alter(start: CompositeType, target: CompositeType) -> list[str]:
    """The attribute names of ``start`` after dropping those ``target`` lacks and adding
    (at the end, as ADD ATTRIBUTE does) those it lacks."""
    wanted = {a.name for a in target.attributes}
    had = {a.name for a in start.attributes}
    kept = [a.name for a in start.attributes if a.name in wanted]
    return kept + [a.name for a in target.attributes if a.name not in had]


def _columns_using(catalog: Catalog, sql_name: str) -> list[str]:
    """The ``table.column`` names of the columns of a type (or an array of it), in plain
    and partitioned tables (whose partitions have the same columns)."""
    return [
        f"{table.key}.{column.name}"
        for table in (*catalog.tables.values(), *catalog.partitioned.values())
        for column in table.columns
        if _mentions(column.type, sql_name)
    ]


def _altered_composite(
    key: str, old: CompositeType, new: CompositeType, used: tuple[list[str], list[str]]
) -> Change:
    """ALTER TYPE adding, dropping and retyping attributes; ``used`` are the columns of
    the type in A and in B (an attribute dropped from the values they store is lost)."""
    used_by = used[0]
    names_new = [a.name for a in new.attributes]
    names_old = [a.name for a in old.attributes]
    if _after_alter(old, new) != names_new or _after_alter(new, old) != names_old:
        # ADD ATTRIBUTE appends: another order needs the type made again, by hand.
        detail = f"attributes {', '.join(names_old)} -> {', '.join(names_new)} (reordered)"
        return Change(ChangeKind.CHANGED, "composite type", key, detail, ())
    before, after = by_name(old.attributes), by_name(new.attributes)
    retyped = [a.name for a in new.attributes if a.name in before and before[a.name] != a]
    if retyped and used_by:
        # ALTER ATTRIBUTE ... TYPE is refused while a table column stores the type.
        detail = (
            f"attribute {', '.join(retyped)} retyped while {', '.join(sorted(used_by))}"
            " uses the type"
        )
        return Change(ChangeKind.CHANGED, "composite type", key, detail, ())
    actions_up: list[str] = []
    actions_down: list[str] = []
    details = []
    for attribute in old.attributes:
        if attribute.name not in after:
            actions_up.append(f"DROP ATTRIBUTE {quote_ident(attribute.name)}")
            details.append(f"{attribute.name} dropped")
    for attribute in new.attributes:
        previous = before.get(attribute.name)
        name = quote_ident(attribute.name)
        if previous is None:
            actions_up.append(f"ADD ATTRIBUTE {name} {attribute.type}")
            details.append(f"{attribute.name} added")
        elif previous.type != attribute.type:
            actions_up.append(f"ALTER ATTRIBUTE {name} TYPE {attribute.type}")
            actions_down.append(f"ALTER ATTRIBUTE {name} TYPE {previous.type}")
            details.append(f"{attribute.name} {previous.type} -> {attribute.type}")
    for attribute in new.attributes:
        if attribute.name not in before:
            actions_down.append(f"DROP ATTRIBUTE {quote_ident(attribute.name)}")
    for attribute in old.attributes:
        if attribute.name not in after:
            actions_down.append(f"ADD ATTRIBUTE {quote_ident(attribute.name)} {attribute.type}")
    dropped = [a.name for a in old.attributes if a.name not in after]
    added = [a.name for a in new.attributes if a.name not in before]
    step = Step(
        Phase.ALTER_TYPES,
        f"ALTER TYPE {new.sql_name} {', '.join(actions_up)};",
        f"ALTER TYPE {old.sql_name} {', '.join(actions_down)};",
        up_risk=risks.drop_attributes(key, dropped, used[0]),
        down_risk=risks.drop_attributes(key, added, used[1]),
    )
    return Change(ChangeKind.CHANGED, "composite type", key, "; ".join(details), (step,))
