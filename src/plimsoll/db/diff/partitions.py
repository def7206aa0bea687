"""Partitioned tables and partitions: created, dropped, attached, detached, re-bounded.

A partitioned table is created as a table is, with ``PARTITION BY``; a partition with
``CREATE TABLE ... PARTITION OF parent FOR VALUES ...`` once its parent has its final
columns, then what it has of its own (column defaults, comments and grants, constraints,
indexes, triggers). What a partition gets from its parent (columns, and copies of the
parent's indexes, constraints and triggers) is never written twice: the catalog keeps a
partition's own objects apart from the copies, and the parent's DDL makes the copies.

A table that becomes a partition is first given what ``ATTACH PARTITION`` needs and what
the partition has in B (the parent's CHECK constraints among them: ATTACH refuses a table
without them; the copies of the parent's keys and indexes under B's names, so ATTACH takes
them over rather than building new ones), then attached late. A partition that stops being
one is detached early, and is then a table holding what were copies (the cloned triggers
go with the DETACH). A partition whose bound or parent changes is detached and attached
again.

A changed partition key, or a plain table becoming partitioned (or back), has no DDL:
PostgreSQL cannot change either in place, and the only way, creating the table anew,
copying its rows and swapping names, is a data migration a careful user writes and times
by hand rather than have a diff drop a table full of rows. Such a change is reported, and
``--generate`` refuses it naming the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from plimsoll.db.catalog import Table, quote_ident
from plimsoll.db.diff import risks
from plimsoll.db.diff.inheritance import (
    Lineage,
    diff_child_columns,
    inherited,
    residual_steps,
    tree_depth,
)
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.parts import diff_parts
from plimsoll.db.diff.settings import options_clause
from plimsoll.db.diff.tables import (
    create_table_sql,
    diff_columns,
    diff_table_attributes,
    drop_table_sql,
    table_settings_sql,
)
from plimsoll.db.diff.text import comment_sql


def _parent_name(key: str) -> str:
    schema, _dot, name = key.partition(".")
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def in_tree(table: Table | None) -> bool:
    """Whether ``table`` is a partitioned table or a partition."""
    return table is not None and (table.partition_by is not None or table.is_partition)


def create_partition_sql(table: Table, parent: Table) -> str:
    """``CREATE [UNLOGGED] TABLE ... PARTITION OF`` with the bound (and the partition's own
    key) and storage parameters, then the partition's own column settings, its comment,
    row-level security and grants."""
    create = "CREATE UNLOGGED TABLE" if table.unlogged else "CREATE TABLE"
    text = f"{create} {table.sql_name} PARTITION OF {parent.sql_name} {table.bound}"
    if table.partition_by is not None:
        text += f" PARTITION BY {table.partition_by}"
    out = [text + options_clause(table.options) + ";"]
    for column in table.columns:
        source = parent.column(column.name)
        if source is not None:
            out += [s.up for s in residual_steps(table, inherited(source), column) if s.up]
    if table.comment is not None:
        out.append(comment_sql(f"TABLE {table.sql_name}", table.comment))
    out += table_settings_sql(table)
    return "\n".join(out)


def _attach_sql(table: Table) -> str:
    assert table.partition_of is not None
    return alter_key(table.partition_of, f"ATTACH PARTITION {table.sql_name} {table.bound}")


def _detach_sql(table: Table) -> str:
    assert table.partition_of is not None
    return alter_key(table.partition_of, f"DETACH PARTITION {table.sql_name}")


def alter_key(key: str, action: str) -> str:
    """``ALTER TABLE <key> <action>;`` for a table known by its key."""
    return f"ALTER TABLE {_parent_name(key)} {action};"


def detached(table: Table) -> Table:
    """``table`` as a plain table once detached: the copies of its parent's constraints and
    indexes are its own, its columns too (the copies of triggers go with the DETACH)."""
    return replace(
        table,
        partition_of=None,
        bound=None,
        columns=tuple(replace(c, local=True) for c in table.columns),
        constraints=tuple(
            sorted((*table.constraints, *table.inherited_constraints), key=lambda c: c.name)
        ),
        indexes=tuple(sorted((*table.indexes, *table.inherited_indexes), key=lambda i: i.name)),
        inherited_constraints=(),
        inherited_indexes=(),
    )


def _empty(table: Table) -> Table:
    return Table(table.schema, table.name)


def _default_sibling(lineage: Lineage, table: Table) -> str:
    """The default partition of ``table``'s parent on both sides, if any: it may hold rows
    of ``table``'s bound, and PostgreSQL then refuses the partition (created or attached)."""
    default = lineage.defaults.get(table.partition_of or "", "")
    return default if default != table.key else ""


def _joining_risk(lineage: Lineage, table: Table) -> str:
    """What a partition joining its parent risks: a default partition holding its rows."""
    default = _default_sibling(lineage, table)
    return risks.next_to_default(table.key, default) if default else ""


def create_member(new: Table, lineage: Lineage) -> list[Change]:
    """A partitioned table or a partition created, with what it has of its own."""
    if new.partition_of is None:
        step = Step(
            Phase.CREATE_TABLES,
            create_table_sql(new),
            drop_table_sql(new),
            down_risk=risks.drop_relation("partitioned table", new.key),
        )
        change = Change(ChangeKind.ADDED, "partitioned table", new.key, _key(new), (step,))
        return [change, *diff_parts(_empty(new), new, with_constraints=False, kept=False)]
    parent = lineage.b[new.partition_of]
    rank = tree_depth(lineage.b, new.key)
    step = Step(
        Phase.CREATE_PARTITIONS,
        create_partition_sql(new, parent),
        drop_table_sql(new),
        rank,
        up_risk=_joining_risk(lineage, new),
        down_risk=risks.drop_relation("partition", new.key),
    )
    change = Change(ChangeKind.ADDED, "partition", new.key, _of(new), (step,))
    return [change, *diff_parts(_empty(new), new, with_constraints=True, kept=False)]


def drop_member(old: Table, lineage: Lineage) -> list[Change]:
    """A partitioned table or a partition dropped (partitions before their parent)."""
    rank = -tree_depth(lineage.a, old.key)
    if old.partition_of is None:
        step = Step(
            Phase.DROP_TABLES,
            drop_table_sql(old),
            create_table_sql(old),
            rank,
            up_risk=risks.drop_relation("partitioned table", old.key),
        )
        change = Change(ChangeKind.REMOVED, "partitioned table", old.key, _key(old), (step,))
        return [change, *diff_parts(old, _empty(old), with_constraints=False, kept=False)]
    parent = lineage.a[old.partition_of]
    step = Step(
        Phase.DROP_TABLES,
        drop_table_sql(old),
        create_partition_sql(old, parent),
        rank,
        up_risk=risks.drop_relation("partition", old.key),
        down_risk=_joining_risk(lineage, old),
    )
    change = Change(ChangeKind.REMOVED, "partition", old.key, _of(old), (step,))
    return [change, *diff_parts(old, _empty(old), with_constraints=True, kept=False)]


def _key(table: Table) -> str:
    return f"PARTITION BY {table.partition_by}"


def _of(table: Table) -> str:
    text = f"of {table.partition_of} {table.bound}"
    return text + (f"; {_key(table)}" if table.partition_by is not None else "")


def _linked(table: Table) -> tuple[str | None, str | None]:
    return table.partition_of, table.bound


def _attach_step(table: Table, lineage: Lineage) -> Step:
    """ATTACH (every row checked against the bound), and DETACH back."""
    assert table.partition_of is not None and table.bound is not None
    check = risks.attach(table.key, table.partition_of, table.bound)
    joining = _joining_risk(lineage, table)
    return Step(
        Phase.ATTACH_PARTITIONS,
        _attach_sql(table),
        _detach_sql(table),
        up_risk=f"{check}; {joining}" if joining else check,
    )


def diff_member(
    old: Table, new: Table, lineage: Lineage, defaults_elsewhere: Mapping[str, str]
) -> tuple[list[Change], bool]:
    """A table on both sides, a partitioned table or a partition on one of them at least;
    and whether views reading it must be rebuilt."""
    key = new.key
    if old.partition_by != new.partition_by:
        detail = (
            f"partition key {old.partition_by or 'none'} -> {new.partition_by or 'none'}:"
            " PostgreSQL cannot change it in place; create the new table, copy the rows"
            " and swap the names by hand"
        )
        rebuild = risks.repartition(key)
        return [Change(ChangeKind.CHANGED, "partitioning", key, detail, reasons=(rebuild,))], True
    out: list[Change] = []
    source, target = old, new
    link: list[Step] = []
    moved = _linked(old) != _linked(new)
    if old.is_partition and moved:
        # The way back attaches it again: the inverse of an attach.
        back = _attach_step(old, lineage)
        link.append(Step(Phase.DETACH_PARTITIONS, back.down, back.up, down_risk=back.up_risk))
        source = detached(old)
    if new.is_partition and moved:
        link.append(_attach_step(new, lineage))
        target = detached(new)
    if link:
        if not old.is_partition:
            detail = f"attached: {_of(new)}"
        elif not new.is_partition:
            detail = f"detached from {old.partition_of}"
        else:
            detail = f"{_of(old)} -> {_of(new)}"
        out.append(Change(ChangeKind.CHANGED, "partition", key, detail, tuple(link)))
    found = diff_child_columns(source, target, lineage) if not link else None
    changes, rewrites = found or diff_columns(source, target, defaults_elsewhere)
    out += changes
    out += diff_parts(source, target, with_constraints=True)
    out += diff_table_attributes(source, target)
    return out, rewrites
