"""Partitioned tables: reported (created, dropped, their key, columns and partitions
attached or detached), without DDL: a partitioned table's indexes, constraints and triggers
spread to its partitions, which a table-by-table migration would create twice.
"""

from __future__ import annotations

from plimsoll.db.catalog import Catalog, PartitionedTable
from plimsoll.db.diff.model import Change, ChangeKind
from plimsoll.db.diff.text import pairs


def _summary(table: PartitionedTable) -> str:
    parts = ", ".join(f"{p.key} {p.bound}" for p in table.partitions)
    return f"PARTITION BY {table.partition_by}" + (f"; partitions {parts}" if parts else "")


def diff_partitioned(a: Catalog, b: Catalog) -> list[Change]:
    """One change (no DDL) per partitioned table created, dropped or changed."""
    out = []
    for key in pairs(a.partitioned, b.partitioned):
        old, new = a.partitioned.get(key), b.partitioned.get(key)
        if old is None and new is not None:
            out.append(Change(ChangeKind.ADDED, "partitioned table", key, _summary(new)))
        elif new is None and old is not None:
            out.append(Change(ChangeKind.REMOVED, "partitioned table", key, _summary(old)))
        elif old is not None and new is not None and old != new:
            out.append(Change(ChangeKind.CHANGED, "partitioned table", key, _details(old, new)))
    return out


def _details(old: PartitionedTable, new: PartitionedTable) -> str:
    details = []
    if old.partition_by != new.partition_by:
        details.append(f"partition key {old.partition_by} -> {new.partition_by}")
    if old.columns != new.columns:
        details.append("columns")
    before = {p.key: p.bound for p in old.partitions}
    after = {p.key: p.bound for p in new.partitions}
    for key in sorted(set(before) | set(after)):
        if key not in before:
            details.append(f"partition {key} attached ({after[key]})")
        elif key not in after:
            details.append(f"partition {key} detached")
        elif before[key] != after[key]:
            details.append(f"partition {key} bound {before[key]} -> {after[key]}")
    if old.comment != new.comment:
        details.append("comment")
    return "; ".join(details)
