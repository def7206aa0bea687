"""What hangs on a table: constraints, indexes, triggers and policies (with their comments,
and whether a trigger fires); and the foreign keys that must step aside while the key they
reference is replaced.

An object whose definition changed is dropped and created again (with its comment and, for
a trigger, its ENABLE / DISABLE state); one whose comment or trigger state alone changed is
altered in place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from plimsoll.db.catalog import Catalog, Constraint, Index, Policy, Table, Trigger, quote_ident
from plimsoll.db.catalog import sql_name as qualified_sql_name
from plimsoll.db.diff import risks
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step, kind_of
from plimsoll.db.diff.tables import alter, constraint_comment_sql
from plimsoll.db.diff.text import by_name, comment_sql, role, show

# A trigger's state when created: it fires (except in replica sessions).
_ENABLED = "ENABLE"

# Constraint kinds backed by a unique index a foreign key can reference.
_KEY_KINDS = ("p", "u")


def add_constraint_sql(table: Table, constraint: Constraint) -> str:
    """``ALTER TABLE ... ADD CONSTRAINT``, with the constraint's comment."""
    out = alter(table, f"ADD CONSTRAINT {quote_ident(constraint.name)} {constraint.definition}")
    if constraint.comment is not None:
        out += "\n" + constraint_comment_sql(table, constraint)
    return out


def drop_constraint_sql(table: Table, constraint: Constraint) -> str:
    """``ALTER TABLE ... DROP CONSTRAINT``."""
    return alter(table, f"DROP CONSTRAINT {quote_ident(constraint.name)}")


def create_index_sql(schema: str, index: Index) -> str:
    """The index's own definition, with its comment (an index lives in its table's
    ``schema``)."""
    out = f"{index.definition};"
    if index.comment is not None:
        out += "\n" + _index_comment_sql(schema, index, index.comment)
    return out


def _index_comment_sql(schema: str, index: Index, comment: str | None) -> str:
    return comment_sql(f"INDEX {qualified_sql_name(schema, index.name)}", comment)


def drop_index_sql(schema: str, index: Index) -> str:
    """``DROP INDEX`` (an index lives in its table's schema)."""
    return f"DROP INDEX {qualified_sql_name(schema, index.name)};"


def create_trigger_sql(table: Table, trigger: Trigger) -> str:
    """``CREATE TRIGGER``, then its ENABLE / DISABLE state and comment when set."""
    out = [f"{trigger.definition};"]
    if trigger.enabled != _ENABLED:
        out.append(_trigger_state_sql(table, trigger))
    if trigger.comment is not None:
        out.append(_trigger_comment_sql(table, trigger, trigger.comment))
    return "\n".join(out)


def _trigger_state_sql(table: Table, trigger: Trigger) -> str:
    return alter(table, f"{trigger.enabled} TRIGGER {quote_ident(trigger.name)}")


def _trigger_comment_sql(table: Table, trigger: Trigger, comment: str | None) -> str:
    return comment_sql(f"TRIGGER {quote_ident(trigger.name)} ON {table.sql_name}", comment)


def drop_trigger_sql(table: Table, trigger: Trigger) -> str:
    """``DROP TRIGGER``."""
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
    text += ";"
    if policy.comment is not None:
        text += "\n" + _policy_comment_sql(table, policy, policy.comment)
    return text


def _policy_comment_sql(table: Table, policy: Policy, comment: str | None) -> str:
    return comment_sql(f"POLICY {quote_ident(policy.name)} ON {table.sql_name}", comment)


def uncommented(item: Any) -> Any:
    """``item`` without its comment: what must match for the comment to change in place."""
    return replace(item, comment=None)


def _comment_step(text: Callable[[str | None], str], was: Any, now: Any) -> list[Step]:
    """COMMENT ON from ``was``'s comment to ``now``'s (none when equal)."""
    if was.comment == now.comment:
        return []
    return [Step(Phase.COMMENTS, text(now.comment), text(was.comment))]


def _comment_detail(was: Any, now: Any) -> list[str]:
    if was.comment == now.comment:
        return []
    return [f"comment {show(was.comment)} -> {show(now.comment)}"]


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
        if was is not None and now is not None and was != now:

            def text(comment: str | None, k: Constraint = now) -> str:
                return constraint_comment_sql(new, replace(k, comment=comment))

            settled = _settle_comment(was, now, text)
            if settled is not None:
                steps_in_place, details = settled
                name_key = f"{key}.{name}"
                in_place = tuple(steps_in_place)
                out.append(
                    Change(ChangeKind.CHANGED, "constraint", name_key, "; ".join(details), in_place)
                )
                continue
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
        lambda t: Step(Phase.DROP_TRIGGERS, drop_trigger_sql(old, t), create_trigger_sql(old, t)),
        lambda t: Step(Phase.CREATE_TRIGGERS, create_trigger_sql(new, t), drop_trigger_sql(new, t)),
        lambda was, now: _settle_trigger(new, was, now),
    )
    out += diff_named(
        old.policies,
        new.policies,
        "policy",
        key,
        lambda p: Step(Phase.DROP_POLICIES, drop_policy_sql(old, p), create_policy_sql(old, p)),
        lambda p: Step(Phase.CREATE_POLICIES, create_policy_sql(new, p), drop_policy_sql(new, p)),
        lambda was, now: _settle_comment(was, now, lambda c: _policy_comment_sql(new, now, c)),
    )
    return out


Settled = tuple[list[Step], list[str]]


def _settle_comment(was: Any, now: Any, text: Callable[[str | None], str]) -> Settled | None:
    """The COMMENT step when only the comment of ``was`` and ``now`` differs, else None."""
    if uncommented(was) != uncommented(now):
        return None
    return _comment_step(text, was, now), _comment_detail(was, now)


def _settle_trigger(table: Table, was: Trigger, now: Trigger) -> Settled | None:
    """ENABLE / DISABLE TRIGGER and COMMENT ON TRIGGER when nothing else of the trigger
    changed, else None (it is created again)."""
    if replace(uncommented(was), enabled=_ENABLED) != replace(uncommented(now), enabled=_ENABLED):
        return None
    steps = []
    details = []
    if was.enabled != now.enabled:
        details.append(f"{was.enabled} TRIGGER -> {now.enabled} TRIGGER")
        steps.append(
            Step(
                Phase.CREATE_TRIGGERS,
                _trigger_state_sql(table, now),
                _trigger_state_sql(table, was),
            )
        )
    steps += _comment_step(lambda c: _trigger_comment_sql(table, now, c), was, now)
    return steps, details + _comment_detail(was, now)


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
            create_index_sql(schema, i),
            down_risk=risk(i, after),
        ),
        lambda i: Step(
            Phase.CREATE_INDEXES,
            create_index_sql(schema, i),
            drop_index_sql(schema, i),
            up_risk=risk(i, before),
        ),
        lambda was, now: _settle_comment(was, now, lambda c: _index_comment_sql(schema, now, c)),
    )


def diff_named(
    old: Iterable[Any],
    new: Iterable[Any],
    object_type: str,
    owner_key: str,
    drop: Callable[[Any], Step],
    create: Callable[[Any], Step],
    settle: Callable[[Any, Any], Settled | None] | None = None,
) -> list[Change]:
    """Objects matched by name: a changed one is dropped and created again, unless
    ``settle`` gives the steps altering it in place (and their description)."""
    before, after = by_name(old), by_name(new)
    out = []
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        settled = settle(was, now) if settle is not None and was and now else None
        if settled is not None:
            steps_in_place, details = settled
            out.append(
                Change(
                    ChangeKind.CHANGED,
                    object_type,
                    f"{owner_key}.{name}",
                    "; ".join(details),
                    tuple(steps_in_place),
                )
            )
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
        if constraint.kind in _KEY_KINDS and not _kept(constraint, constraints):
            keys.append(frozenset(constraint.columns))
    for index in old.indexes:
        if index.unique and index.predicate is None and not _kept(index, indexes):
            keys.append(frozenset(index.columns))
    return keys


def _kept(item: Constraint | Index, after: dict[str, Any]) -> bool:
    """Whether ``item`` stays as it is (a comment changes in place)."""
    found = after.get(item.name)
    return found is not None and uncommented(found) == uncommented(item)


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
                or not _kept(constraint, kept)
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
                    add_constraint_sql(target, kept[constraint.name]),
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
