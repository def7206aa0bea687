"""Partitions: what PostgreSQL copies from a partitioned table to its partitions, and
ATTACH / DETACH PARTITION.

A partition has every column of its partitioned table (not its own: ``local`` false), with
NOT NULL, defaults, generation expressions and collations, and a copy of each of the
table's constraints and indexes, made when the partition is created or attached and when
the table gains one later (ALTER TABLE ... ADD, CREATE INDEX), dropped with the table's:

* a CHECK under its name; a foreign key under its name too, unless the partition already
  has a constraint of that name (``<partition>_<columns>_fkey`` then);
* a primary key, unique or exclusion constraint, and an index, under the names PostgreSQL
  generates for the partition (``<partition>_pkey``, ``<partition>_<columns>_key``,
  ``<partition>_<keys>_idx``).

Before making a copy, PostgreSQL looks for an equivalent the partition already has (an
index with the same keys, options and predicate; a constraint of the same kind on the same
columns; a check of the same name) and adopts it, keeping its name: a table attached with
its own indexes keeps them. Each copy records the name of its parent's constraint or index
(``parent``): the catalog lists the copies apart (``inherited_constraints``,
``inherited_indexes``). Row triggers are copied too, but introspection leaves the copies
out, and DETACH drops them: the build makes none.

DETACH makes the table a plain table again; its columns and the copies become its own.
"""

from __future__ import annotations

from typing import Any

from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.names import name_addition
from plimsoll.db.ddl.state import (
    INDEX_KINDS,
    INDEX_LABELS,
    ConstraintDraft,
    IndexDraft,
    TableDraft,
)


def copy_columns(model: Model, parent: TableDraft, child: TableDraft) -> None:
    """PARTITION OF: the partitioned table's columns, in order, none of them the
    partition's own (identity, comments and column grants are not copied)."""
    columns = child.columns
    for name, column in parent.columns.items():
        columns[name] = _column_copy(column, child.origin)


def _column_copy(column: dict[str, Any], origin: Any) -> dict[str, Any]:
    """A partition's copy of its table's column: not its own, without identity, comment or
    column grants."""
    copy = dict(column)
    copy["identity"] = None
    copy["comment"] = None
    copy["grants"] = frozenset()
    copy["local"] = False
    copy["origin"] = origin
    return copy


def clone_all(model: Model, parent: TableDraft, child: TableDraft) -> None:
    """Every constraint and index of ``parent`` onto its partition ``child`` (and on down
    to ``child``'s partitions), in PostgreSQL's order: checks, indexes with the constraints
    they back, foreign keys."""
    constraints = list(parent.constraints.values())
    for constraint in constraints:
        if constraint.kind == "c":
            clone_constraint(model, parent, constraint, child)
    for constraint in constraints:
        if constraint.kind in INDEX_KINDS:
            clone_constraint(model, parent, constraint, child)
    for index in list(parent.indexes.values()):
        clone_index(model, parent, index, child)
    for constraint in constraints:
        if constraint.kind == "f":
            clone_constraint(model, parent, constraint, child)


def clone_constraint(
    model: Model, parent: TableDraft, constraint: ConstraintDraft, child: TableDraft
) -> None:
    """``constraint`` of ``parent`` onto its partition ``child``: an equivalent one adopted,
    or a copy made; then on to ``child``'s partitions."""
    mine = _equivalent_constraint(child, constraint)
    if mine is not None:
        mine.parent = constraint.name
    else:
        mine = constraint.copy()
        mine.parent = constraint.name
        mine.origin = model.here()
        kind = constraint.kind
        if kind in INDEX_KINDS:
            addition = (
                None if kind == "p" else name_addition(constraint.columns + constraint.include)
            )
            mine.name = model.choose_relation_name(
                child.schema, child.name, addition, INDEX_LABELS[kind], True
            )
            if kind == "p":
                model.set_not_null(child, constraint.columns)
            model.register_index_constraint(child, mine)
        else:
            if kind == "f" and constraint.name in child.constraints:
                mine.name = model.choose_constraint_name(
                    child.schema, child.name, name_addition(constraint.columns), "fkey"
                )
            model.store_constraint(child, mine)
    for grandchild in partitions_of(model, child):
        clone_constraint(model, child, mine, grandchild)


def _equivalent_constraint(
    child: TableDraft, constraint: ConstraintDraft
) -> ConstraintDraft | None:
    """The constraint of ``child`` PostgreSQL adopts as the copy of ``constraint``."""
    kind = constraint.kind
    if kind == "c":
        same = child.constraints.get(constraint.name)
        return same if same is not None and same.kind == "c" else None
    for mine in child.constraints.values():
        if mine.kind != kind or mine.parent is not None or mine.columns != constraint.columns:
            continue
        if kind == "f":
            if (
                mine.references == constraint.references
                and mine.ref_columns == constraint.ref_columns
            ):
                return mine
        elif (
            mine.include == constraint.include
            and mine.nulls_not_distinct == constraint.nulls_not_distinct
            and mine.exclusion == constraint.exclusion
        ):
            return mine
    return None


def clone_index(model: Model, parent: TableDraft, index: IndexDraft, child: TableDraft) -> None:
    """``index`` of ``parent`` onto its partition ``child``: an equivalent one adopted, or a
    copy made under the name PostgreSQL generates; then on to ``child``'s partitions."""
    mine = next(
        (i for i in child.indexes.values() if i.parent is None and _same_index(i, index)), None
    )
    if mine is None:
        mine = index.copy()
        mine.only = False
        mine.origin = model.here()
        addition = name_addition(index.keys + list(index.include))
        mine.name = model.choose_relation_name(child.schema, child.name, addition, "idx")
        model.register_index(child, mine)
    mine.parent = index.name
    for grandchild in partitions_of(model, child):
        clone_index(model, child, mine, grandchild)


def _same_index(mine: IndexDraft, theirs: IndexDraft) -> bool:
    """Whether two indexes are equivalent (PostgreSQL's CompareIndexInfo)."""
    return (
        mine.elements == theirs.elements
        and mine.unique == theirs.unique
        and mine.method == theirs.method
        and mine.include == theirs.include
        and mine.predicate == theirs.predicate
        and mine.nulls_not_distinct == theirs.nulls_not_distinct
    )


def attach(model: Model, parent: TableDraft, child: TableDraft, bound: str) -> None:
    """ATTACH PARTITION: ``child`` becomes a partition of ``parent``; its columns are no
    longer its own, and it adopts or gets a copy of each of ``parent``'s constraints and
    indexes."""
    if child.partition_of is not None or child is parent:
        return
    for column in child.columns.values():
        if column["name"] in parent.columns:
            column["local"] = False
    child.partition_of = parent.key
    child.bound = bound
    parent.partitions.append(child.key)
    clone_all(model, parent, child)
    for index in parent.indexes.values():
        if index.only:
            index.only = not _everywhere(model, parent, index.name)


def detach(model: Model, parent: TableDraft, child: TableDraft) -> None:
    """DETACH PARTITION: ``child`` is a plain table again, its columns and the copies of
    its parent's constraints and indexes its own."""
    if child.partition_of != parent.key:
        return
    parent.partitions.remove(child.key)
    child.partition_of = None
    child.bound = None
    for column in child.columns.values():
        column["local"] = True
    for constraint in child.constraints.values():
        constraint.parent = None
    for index in child.indexes.values():
        index.parent = None


def attach_index(model: Model, parent_key: str, child_key: str) -> None:
    """ALTER INDEX parent ATTACH PARTITION child: the partition's index (or constraint)
    becomes the copy of the partitioned table's; the parent's is valid once every partition
    has one."""
    table = model.tables.get(model.index_table.get(parent_key, ""))
    partition = model.tables.get(model.index_table.get(child_key, ""))
    if table is None or partition is None or partition.partition_of != table.key:
        return
    parent_name = parent_key.partition(".")[2]
    child_name = child_key.partition(".")[2]
    mine = partition.indexes.get(child_name) or partition.constraints.get(child_name)
    if mine is None:
        return
    mine.parent = parent_name
    index = table.indexes.get(parent_name)
    if index is not None and index.only:
        index.only = not _everywhere(model, table, parent_name)


def _everywhere(model: Model, table: TableDraft, name: str) -> bool:
    """Whether every partition of ``table`` has a valid copy of its index ``name``."""
    for partition in partitions_of(model, table):
        copy = next((i for i in partition.indexes.values() if i.parent == name), None)
        if copy is None or copy.only:
            return False
    return True


def drop_copies(model: Model, table: TableDraft, name: str) -> None:
    """The copies of ``table``'s constraint ``name`` on its partitions (and theirs) dropped
    with it."""
    for partition in partitions_of(model, table):
        for constraint in list(partition.constraints.values()):
            if constraint.parent == name:
                model.remove_constraint(partition, constraint)
                drop_copies(model, partition, constraint.name)


def rename_copies(model: Model, table: TableDraft, old: str, new: str, check: bool) -> None:
    """``table``'s constraint or index ``old`` is now ``new``: its copies name it so (a
    check's copies are renamed too, as PostgreSQL renames inherited checks)."""
    for partition in partitions_of(model, table):
        for constraint in list(partition.constraints.values()):
            if constraint.parent == old:
                constraint.parent = new
                if check and constraint.name == old and new not in partition.constraints:
                    model.rename_constraint(partition, constraint, new)
                    rename_copies(model, partition, old, new, check)
        for index in partition.indexes.values():
            if index.parent == old:
                index.parent = new


def added_column(model: Model, table: TableDraft, name: str) -> None:
    """ADD COLUMN on a partitioned table: the column on each partition (and theirs)."""
    column = table.columns.get(name)
    if column is None:
        return
    for partition in partitions_of(model, table):
        if name not in partition.columns:
            partition.columns[name] = _column_copy(column, column.get("origin"))
            added_column(model, partition, name)


def partitions_of(model: Model, table: TableDraft) -> list[TableDraft]:
    """The partitions of ``table`` (none for a table that is not partitioned)."""
    tables = model.tables
    return [tables[k] for k in table.partitions if k in tables]
