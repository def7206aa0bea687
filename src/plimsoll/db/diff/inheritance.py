"""Columns of child tables and partitions, whose parent's column changes reach them too.

PostgreSQL carries a parent's ``ADD COLUMN`` to its children (inheritance children and
partitions), drops a child's column with the parent's ``DROP COLUMN`` unless the child has
it as its own (``attislocal``), and recurses ``ALTER COLUMN ... TYPE``, ``SET`` / ``DROP
DEFAULT``, ``SET`` / ``DROP NOT NULL``, ``SET STATISTICS`` and ``SET STORAGE`` into them (not
``SET COMPRESSION``). A new child or partition takes its parent's columns with their storage
and compression (not their statistics target). A child's columns are therefore diffed
against what its parent's steps already make of them, and only the rest is written: the
child's own default, nullability, settings, comment and grants.

Only the links that hold on both sides count (a partition of the same table with the same
bound, a parent inherited before and after): a link made or broken by the migration is
made after (ATTACH, INHERIT) or broken before (DETACH, NO INHERIT) the column steps run.

Steps of a table at depth ``d`` (its distance from the top of its tree) run with rank
``d`` in their phase, after its parents'. What the way back needs once the parent's steps
have been undone runs with rank ``-d``: its ``up`` is empty and its ``down`` is placed
before the parent's in the up script, so the down script runs it after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property

from plimsoll.db.catalog import Column, Table, quote_ident
from plimsoll.db.diff import risks
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.tables import add_column_step, column_steps, drop_column_step
from plimsoll.db.diff.text import by_name, diff_grants


@dataclass(frozen=True)
class Lineage:
    """The tables of both sides (plain, partitioned and partitions) and their parents."""

    a: Mapping[str, Table]
    b: Mapping[str, Table]

    def stable_parents(self, key: str) -> tuple[str, ...]:
        """The parents of ``key`` on both sides, linked the same way (A's order)."""
        old, new = self.a.get(key), self.b.get(key)
        if old is None or new is None:
            return ()
        if old.partition_of is not None:
            same = (old.partition_of, old.bound) == (new.partition_of, new.bound)
            return (old.partition_of,) if same and old.partition_of in self.b else ()
        return tuple(p for p in old.inherits if p in new.inherits and p in self.b and p in self.a)

    @cached_property
    def defaults(self) -> dict[str, str]:
        """Each partitioned table's default partition, where it is that on both sides."""
        found = {}
        for key, table in self.b.items():
            was = self.a.get(key)
            if (
                table.partition_of is not None
                and was is not None
                and (was.partition_of, was.bound) == (table.partition_of, table.bound)
                and table.bound == "DEFAULT"
            ):
                found[table.partition_of] = key
        return found

    def depth(self, key: str) -> int:
        """How far ``key`` is from the top of its tree, through links on both sides."""
        return _depth(self, key, frozenset())

    def parent_column(self, key: str, name: str) -> tuple[str, Column | None, Column | None]:
        """The first stable parent of ``key`` having column ``name`` on either side, with
        that column on A and on B (None where it has none); ``("", None, None)`` if none."""
        for parent in self.stable_parents(key):
            was, now = self.a[parent].column(name), self.b[parent].column(name)
            if was is not None or now is not None:
                return parent, was, now
        return "", None, None


def _depth(lineage: Lineage, key: str, seen: frozenset[str]) -> int:
    parents = [p for p in lineage.stable_parents(key) if p not in seen]
    return max((_depth(lineage, p, seen | {key}) + 1 for p in parents), default=0)


def tree_depth(tables: Mapping[str, Table], key: str) -> int:
    """How deep ``key`` is in its partition tree (0 for a table that is no partition)."""
    depth, seen = 0, {key}
    parent = tables[key].partition_of if key in tables else None
    while parent is not None and parent in tables and parent not in seen:
        depth += 1
        seen.add(parent)
        parent = tables[parent].partition_of
    return depth


def inherited(column: Column) -> Column:
    """The column a child gets from its parent's ``column`` (no comment, no grants, no
    identity, no statistics target; its storage and compression)."""
    return Column(
        column.name,
        column.type,
        column.nullable,
        None if column.identity is not None else column.default,
        None,
        column.generated,
        collation=column.collation,
        storage=column.storage,
        compression=column.compression,
        local=False,
        type_storage=column.type_storage,
    )


def propagate(child: Column, was: Column, now: Column) -> Column:
    """``child`` once its parent's column went from ``was`` to ``now``: what changed on the
    parent is set on the child too (a type change drops and sets the default again, and
    resets the storage, set again as the parent's, and the compression, which is not)."""
    retyped = (was.type, was.collation) != (now.type, now.collation)
    default = child.default
    if was.default != now.default or (retyped and (was.default or now.default)):
        default = now.default
    return replace(
        child,
        type=now.type if retyped else child.type,
        collation=now.collation if retyped else child.collation,
        nullable=now.nullable if was.nullable != now.nullable else child.nullable,
        default=default,
        statistics=now.statistics if was.statistics != now.statistics else child.statistics,
        storage=now.storage if retyped or was.storage != now.storage else child.storage,
        compression=None if retyped else child.compression,
        type_storage=now.type_storage if retyped else child.type_storage,
    )


def residual_steps(table: Table, start: Column, end: Column) -> list[Step]:
    """The steps taking ``start`` to ``end`` on ``table`` (ALTERs, comment and grants)."""
    steps, _details, _rewrite = column_steps(table, start, end)
    grants = diff_grants(
        start.grants,
        end.grants,
        f"TABLE {table.sql_name}",
        table.key,
        columns=f" ({quote_ident(end.name)})",
    )
    return steps + [s for g in grants for s in g.steps]


def _given(*reasons: str) -> tuple[str, ...]:
    return tuple(r for r in reasons if r)


def _ranked(steps: list[Step], rank: int) -> tuple[Step, ...]:
    return tuple(replace(s, rank=rank) for s in steps)


def _way_back(steps: list[Step], phase: Phase, rank: int) -> tuple[Step, ...]:
    """``steps`` run on the way back only, after the parent's steps are undone."""
    # The down script runs steps of one place in reverse: list them reversed.
    return tuple(Step(phase, "", s.up, rank, down_risk=s.up_risk) for s in reversed(steps) if s.up)


def diff_child_columns(
    old: Table, new: Table, lineage: Lineage
) -> tuple[list[Change], bool] | None:
    """The column changes of a table with stable parents, less what the parents' steps do
    to it, and whether views reading it must be rebuilt; None when it has no stable parent."""
    key = new.key
    if not lineage.stable_parents(key):
        return None
    depth = lineage.depth(key)
    before, after = by_name(old.columns), by_name(new.columns)
    out: list[Change] = []
    rewrites = False
    for column in old.columns:
        if column.name in after:
            continue
        rewrites = True
        parent, was, now = lineage.parent_column(key, column.name)
        name = f"{key}.{column.name}"
        if was is not None and now is None and not column.local:
            # The parent's DROP COLUMN drops it here; on the way back its ADD COLUMN brings
            # the parent's version, which then gets this table's own settings again.
            back = residual_steps(new, inherited(was), column)
            steps = _way_back(back, Phase.DROP_COLUMNS, -depth)
            out.append(
                Change(
                    ChangeKind.REMOVED,
                    "column",
                    name,
                    f"through {parent}",
                    steps,
                    # This table's values go with the parent's column.
                    reasons=_given(risks.drop_column(key, column)),
                    covered_by=parent,
                )
            )
            continue
        out.append(
            Change(ChangeKind.REMOVED, "column", name, "", (drop_column_step(old, column, depth),))
        )
    for column in new.columns:
        if column.name in before:
            continue
        parent, was, now = lineage.parent_column(key, column.name)
        name = f"{key}.{column.name}"
        if was is None and now is not None:
            steps = _ranked(residual_steps(new, inherited(now), column), depth)
            out.append(
                Change(
                    ChangeKind.ADDED,
                    "column",
                    name,
                    f"through {parent}",
                    steps,
                    # The parent's ADD COLUMN meets this table's rows too.
                    reasons=_given(risks.add_column(key, inherited(now))),
                    covered_by=parent,
                )
            )
            continue
        out.append(
            Change(ChangeKind.ADDED, "column", name, "", (add_column_step(new, column, depth),))
        )
    for column in new.columns:
        previous = before.get(column.name)
        if previous is None:
            continue
        parent, was, now = lineage.parent_column(key, column.name)
        start = back_from = previous
        if was is not None and now is not None:
            start = propagate(previous, was, now)
        forward = residual_steps(new, start, column)
        if was is not None and now is not None:
            # Down: this table's steps undone give ``start``; the parent's undone give this.
            back_from = propagate(start, now, was)
        back = residual_steps(old, back_from, previous)
        rewrites = rewrites or (previous.type, previous.collation) != (
            column.type,
            column.collation,
        )
        if previous == column and not forward and not back:
            continue
        steps = _ranked(forward, depth) + _way_back(back, Phase.ALTER_COLUMNS, -depth)
        _steps, details, _rewrite = column_steps(new, previous, column)
        if previous.grants != column.grants:
            details.append("grants")
        detail = "; ".join(details) or f"unchanged: set again after {parent}'s ALTER reaches it"
        out.append(
            Change(
                ChangeKind.CHANGED,
                "column",
                f"{key}.{column.name}",
                detail,
                steps,
                # What the parent's ALTER does to this table's rows (its own steps say theirs).
                reasons=tuple(risks.column_change(key, previous, start)),
                covered_by=parent if parent and not steps else "",
            )
        )
    return out, rewrites
