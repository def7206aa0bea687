"""What hangs on a table: constraints, indexes, triggers and policies; and the foreign keys
that must step aside while the key they reference is replaced."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from plimsoll.db.catalog import Catalog, Constraint, Index, Policy, Table, Trigger, quote_ident
from plimsoll.db.catalog import sql_name as qualified_sql_name
from plimsoll.db.diff import risks
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step, kind_of
from plimsoll.db.diff.tables import alter
from plimsoll.db.diff.text import by_name, role

# Constraint kinds backed by a unique index a foreign key can reference.
_KEY_KINDS = ("p", "u")


def add_constraint_sql(table: Table, constraint: Constraint) -> str:
    """``ALTER TABLE ... ADD CONSTRAINT``."""
    return alter(table, f"ADD CONSTRAINT {quote_ident(constraint.name)} {constraint.definition}")


def drop_constraint_sql(table: Table, constraint: Constraint) -> str:
    """``ALTER TABLE ... DROP CONSTRAINT``."""
    return alter(table, f"DROP CONSTRAINT {quote_ident(constraint.name)}")


def create_index_sql(index: Index) -> str:
    """The index's own definition."""
    return f"{index.definition};"


def drop_index_sql(schema: str, index: Index) -> str:
    """``DROP INDEX`` (an index lives in its table's schema)."""
    return f"DROP INDEX {qualified_sql_name(schema, index.name)};"


def _create_trigger_sql(trigger: Trigger) -> str:
    return f"{trigger.definition};"


def _drop_trigger_sql(table: Table, trigger: Trigger) -> str:
    return f"DROP TRIGGER {quote_ident(trigger.name)} ON {table.sql_name};"


def create_policy_sql(table: Table, policy: Policy) -> str:
    """``CREATE POLICY`` with every clause spelled out."""
    text = (
        f"CREATE POLICY {quote_ident(policy.name)} ON {table.sql_name}"
        f" AS {'PERMISSIVE' if policy.permissive else 'RESTRICTIVE'}"
        f" FOR {policy.command} TO {', '.join(role(r) for r in policy.roles)}"
    )
    if policy.using is not None:
        text += f" USING ({policy.using})"
    if policy.with_check is not None:
        text += f" WITH CHECK ({policy.with_check})"
    return text + ";"


def drop_policy_sql(table: Table, policy: Policy) -> str:
    """``DROP POLICY``."""
    return f"DROP POLICY {quote_ident(policy.name)} ON {table.sql_name};"


def diff_parts(
    old: Table, new: Table, *, with_constraints: bool, kept: bool = True
) -> list[Change]:
    """Constraints (all of them, or only foreign keys for a table created or dropped whole),
    indexes, triggers and policies. ``kept`` is false for a table created or dropped whole:
    a constraint or unique index added to it meets no rows, either way."""
    out: list[Change] = []
    key = new.key
    before, after = by_name(old.constraints), by_name(new.constraints)
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        foreign = (was or now).is_foreign_key  # type: ignore[union-attr]
        if not foreign and not with_constraints:
            continue
        drop_phase = Phase.DROP_FOREIGN_KEYS if foreign else Phase.DROP_CONSTRAINTS
        add_phase = Phase.ADD_FOREIGN_KEYS if foreign else Phase.ADD_CONSTRAINTS
        steps = []
        if was is not None and was != now:
            steps.append(
                Step(
                    drop_phase,
                    drop_constraint_sql(old, was),
                    add_constraint_sql(old, was),
                    down_risk=risks.add_constraint(key, was, new.constraints) if kept else "",
                )
            )
        if now is not None and was != now:
            steps.append(
                Step(
                    add_phase,
                    add_constraint_sql(new, now),
                    drop_constraint_sql(new, now),
                    up_risk=risks.add_constraint(key, now, old.constraints) if kept else "",
                )
            )
        if steps:
            detail = (now or was).definition  # type: ignore[union-attr]
            out.append(
                Change(kind_of(was, now), "constraint", f"{key}.{name}", detail, tuple(steps))
            )
    out += diff_indexes(old.indexes, new.indexes, old.schema, key, kept=kept)
    out += diff_named(
        old.triggers,
        new.triggers,
        "trigger",
        key,
        lambda t: Step(Phase.DROP_TRIGGERS, _drop_trigger_sql(old, t), _create_trigger_sql(t)),
        lambda t: Step(Phase.CREATE_TRIGGERS, _create_trigger_sql(t), _drop_trigger_sql(new, t)),
    )
    out += diff_named(
        old.policies,
        new.policies,
        "policy",
        key,
        lambda p: Step(Phase.DROP_POLICIES, drop_policy_sql(old, p), create_policy_sql(old, p)),
        lambda p: Step(Phase.CREATE_POLICIES, create_policy_sql(new, p), drop_policy_sql(new, p)),
    )
    return out


def diff_indexes(
    old: Iterable[Index], new: Iterable[Index], schema: str, owner_key: str, *, kept: bool = True
) -> list[Change]:
    """Indexes of a table or materialized view: dropped, then created anew (a unique one
    on rows already there fails on duplicates; ``kept`` as for :func:`diff_parts`)."""

    before, after = tuple(old), tuple(new)

    def risk(index: Index, had: tuple[Index, ...]) -> str:
        return risks.create_index(owner_key, index, had) if kept else ""

    return diff_named(
        before,
        after,
        "index",
        owner_key,
        lambda i: Step(
            Phase.DROP_INDEXES,
            drop_index_sql(schema, i),
            create_index_sql(i),
            down_risk=risk(i, after),
        ),
        lambda i: Step(
            Phase.CREATE_INDEXES,
            create_index_sql(i),
            drop_index_sql(schema, i),
            up_risk=risk(i, before),
        ),
    )


def diff_named(
    old: Iterable[Any],
    new: Iterable[Any],
    object_type: str,
    owner_key: str,
    drop: Callable[[Any], Step],
    create: Callable[[Any], Step],
) -> list[Change]:
    """Objects matched by name: a changed one is dropped and created again."""
    before, after = by_name(old), by_name(new)
    out = []
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        steps = []
        if was is not None:
            steps.append(drop(was))
        if now is not None:
            steps.append(create(now))
        detail = getattr(now or was, "definition", "")
        out.append(
            Change(kind_of(was, now), object_type, f"{owner_key}.{name}", detail, tuple(steps))
        )
    return out


def _replaced_keys(old: Table, new: Table | None) -> list[frozenset[str]]:
    """The column sets of ``old``'s unique keys (constraints and unique indexes) that the
    migration drops: a foreign key referencing one of them must go first."""
    keys: list[frozenset[str]] = []
    constraints = by_name(new.constraints) if new is not None else {}
    indexes = by_name(new.indexes) if new is not None else {}
    for constraint in old.constraints:
        if constraint.kind in _KEY_KINDS and constraints.get(constraint.name) != constraint:
            keys.append(frozenset(constraint.columns))
    for index in old.indexes:
        if index.unique and index.predicate is None and indexes.get(index.name) != index:
            keys.append(frozenset(index.columns))
    return keys


def rebuild_dependent_foreign_keys(a: Catalog, b: Catalog) -> list[Change]:
    """Foreign keys that stay the same but reference a primary key or unique key being
    replaced: PostgreSQL refuses to drop the key under them, so each is dropped first and
    added again once the new key exists."""
    out: list[Change] = []
    replaced = {
        key: found
        for key, table in a.tables.items()
        if key in b.tables and (found := _replaced_keys(table, b.tables[key]))
    }
    if not replaced:
        return out
    for key in sorted(a.tables):
        table, target = a.tables[key], b.tables.get(key)
        if target is None:
            continue
        kept = by_name(target.constraints)
        for constraint in table.constraints:
            references = constraint.references
            if (
                not constraint.is_foreign_key
                or references not in replaced
                or kept.get(constraint.name) != constraint
                # A foreign key to a table created or dropped whole is that table's business.
                or references not in b.tables
            ):
                continue
            # Without its referenced columns (a hand-made catalog), any replaced key may be it.
            if (
                constraint.ref_columns
                and frozenset(constraint.ref_columns) not in replaced[references]
            ):
                continue
            steps = (
                Step(
                    Phase.DROP_FOREIGN_KEYS,
                    drop_constraint_sql(table, constraint),
                    add_constraint_sql(table, constraint),
                ),
                Step(
                    Phase.ADD_FOREIGN_KEYS,
                    add_constraint_sql(target, constraint),
                    drop_constraint_sql(target, constraint),
                ),
            )
            out.append(
                Change(
                    ChangeKind.CHANGED,
                    "constraint",
                    f"{key}.{constraint.name}",
                    f"recreated: the key it references on {references} is replaced",
                    steps,
                )
            )
    return out
