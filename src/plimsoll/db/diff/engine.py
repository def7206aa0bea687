"""The comparison of two catalogs: every kind of object in turn, then the adjustments one
kind's changes force on another's (views rebuilt, foreign keys moved aside, enums recreated
rather than altered)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from plimsoll.db.catalog import Catalog, Table
from plimsoll.db.diff import risks
from plimsoll.db.diff.enums import diff_enums, writes_label
from plimsoll.db.diff.functions import diff_functions
from plimsoll.db.diff.inheritance import Lineage, diff_child_columns
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.partitions import create_member, diff_member, drop_member, in_tree
from plimsoll.db.diff.parts import diff_parts, rebuild_dependent_foreign_keys
from plimsoll.db.diff.persistence import diff_persistence
from plimsoll.db.diff.privileges import diff_default_privileges, settle_default_grants
from plimsoll.db.diff.schemas import diff_extensions, diff_schemas
from plimsoll.db.diff.sequences import diff_sequences
from plimsoll.db.diff.tables import (
    create_table_sql,
    diff_columns,
    diff_table_attributes,
    drop_table_sql,
    inherit_steps,
)
from plimsoll.db.diff.text import pairs
from plimsoll.db.diff.types import diff_composites, diff_domains
from plimsoll.db.diff.views import diff_views


def diff(a: Catalog, b: Catalog) -> list[Change]:
    """The changes turning catalog ``a`` into catalog ``b``, in the order a migration runs them."""
    changes: list[Change] = []
    changes += diff_schemas(a, b)
    changes += diff_default_privileges(a, b)
    changes += diff_extensions(a, b)
    enums = diff_enums(a, b)
    changes += diff_domains(a, b)
    changes += diff_composites(a, b)
    changes += diff_sequences(a, b)
    changes += diff_functions(a, b)
    rebuilt: set[str] = set(enums.rebuilt)
    # Partitioned tables and partitions are tables here; each catalog lists them apart.
    every_a, every_b = _all_tables(a), _all_tables(b)
    lineage = Lineage(every_a, every_b)
    for key in pairs(every_a, every_b):
        handled = {column: enum for (table, column), enum in enums.retyped.items() if table == key}
        table_changes, rewrites = _diff_table(every_a.get(key), every_b.get(key), lineage, handled)
        changes += table_changes
        if rewrites:
            rebuilt.add(key)
    changes += diff_persistence(every_a, every_b)
    changes += rebuild_dependent_foreign_keys(
        replace(a, tables=every_a), replace(b, tables=every_b)
    )
    changes += diff_views(a, b, rebuilt)
    changes += _settle_enums(enums.changes, enums.recreations, changes)
    changes = settle_default_grants(a, b, changes)
    return sorted(changes, key=lambda c: min((s.order for s in c.steps), default=(0, 0)))


def _settle_enums(
    enum_changes: list[Change],
    recreations: dict[int, tuple[Change, tuple[str, ...]]],
    others: list[Change],
) -> list[Change]:
    """Each enum change, with an ADD VALUE swapped for a recreation when the migration
    writes one of the added labels (a label added in a transaction is unusable in it)."""
    if not recreations:
        return enum_changes
    out = []
    for change in enum_changes:
        found = recreations.get(id(change))
        if found is not None:
            recreate, added = found
            texts = [s.up for c in [*others, *enum_changes] if c is not change for s in c.steps]
            texts += [s.up for s in change.steps if s.phase is not Phase.ALTER_TYPES]
            if any(writes_label(text, added) for text in texts):
                change = recreate
        out.append(change)
    return out


def _all_tables(catalog: Catalog) -> dict[str, Table]:
    return {**catalog.tables, **catalog.partitioned, **catalog.partitions}


def _empty(table: Table) -> Table:
    return Table(table.schema, table.name)


def _diff_table(
    old: Table | None, new: Table | None, lineage: Lineage, defaults_elsewhere: Mapping[str, str]
) -> tuple[list[Change], bool]:
    """The changes of one table, and whether views reading it must be rebuilt."""
    if old is None and new is not None:
        if in_tree(new):
            return create_member(new, lineage), False
        step = Step(
            Phase.CREATE_TABLES,
            create_table_sql(new),
            drop_table_sql(new),
            down_risk=risks.drop_relation("table", new.key),
        )
        steps = (step, *inherit_steps(new, (), new.inherits))
        changes = [Change(ChangeKind.ADDED, "table", new.key, "", steps)]
        return changes + diff_parts(_empty(new), new, with_constraints=False, kept=False), False
    if new is None and old is not None:
        if in_tree(old):
            return drop_member(old, lineage), False
        step = Step(
            Phase.DROP_TABLES,
            drop_table_sql(old),
            create_table_sql(old),
            up_risk=risks.drop_relation("table", old.key),
        )
        steps = (*inherit_steps(old, old.inherits, ()), step)
        changes = [Change(ChangeKind.REMOVED, "table", old.key, "", steps)]
        return changes + diff_parts(old, _empty(old), with_constraints=False, kept=False), False
    assert old is not None and new is not None
    if in_tree(old) or in_tree(new):
        return diff_member(old, new, lineage, defaults_elsewhere)
    found = diff_child_columns(old, new, lineage)
    changes, rewrites = found or diff_columns(old, new, defaults_elsewhere)
    changes += diff_parts(old, new, with_constraints=True)
    changes += diff_table_attributes(old, new)
    if old.inherits != new.inherits:
        detail = (
            f"inherits {', '.join(old.inherits) or 'none'} -> {', '.join(new.inherits) or 'none'}"
        )
        steps = tuple(inherit_steps(new, old.inherits, new.inherits))
        # A changed order of parents has no ALTER: only reported.
        if set(old.inherits) == set(new.inherits):
            steps = ()
        changes.append(Change(ChangeKind.CHANGED, "inheritance", new.key, detail, steps))
    return changes, rewrites
