"""Tables becoming UNLOGGED or logged again (``ALTER TABLE ... SET UNLOGGED / LOGGED``).

PostgreSQL refuses a foreign key from a logged table to an unlogged one at every step: a
table is made UNLOGGED only once every table referencing it is, and made logged only once
every table it references is. The steps are ordered that way along the foreign keys of
both sides (each is in place while the persistence changes: one dropped or added by the
migration is dropped before or added after), the UNLOGGED ones first; the way back runs
them in reverse, which is the right order for it too.
"""

from __future__ import annotations

from collections.abc import Mapping

from plimsoll.db.catalog import Table
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.text import topological


def _references(tables: Mapping[str, Table]) -> set[tuple[str, str]]:
    """(referencing, referenced) table keys of every foreign key between two tables."""
    found = set()
    for key, table in tables.items():
        for constraint in (*table.constraints, *table.inherited_constraints):
            target = constraint.references
            if constraint.is_foreign_key and target is not None and target != key:
                found.add((key, target))
    return found


def _persistence(table: Table) -> str:
    return "unlogged" if table.unlogged else "logged"


def diff_persistence(a: Mapping[str, Table], b: Mapping[str, Table]) -> list[Change]:
    """The tables on both sides whose persistence changes, in an order PostgreSQL accepts."""
    changing = [key for key in sorted(a) if key in b and a[key].unlogged != b[key].unlogged]
    if not changing:
        return []
    edges = _references(a) | _references(b)
    to_unlogged = topological(
        [k for k in changing if b[k].unlogged],
        lambda key: {source for source, target in edges if target == key},
    )
    to_logged = topological(
        [k for k in changing if not b[k].unlogged],
        lambda key: {target for source, target in edges if source == key},
    )
    out = []
    for rank, key in enumerate([*to_unlogged, *to_logged], start=1):
        old, new = a[key], b[key]
        step = Step(
            Phase.TABLE_SETTINGS,
            f"ALTER TABLE {new.sql_name} SET {'UNLOGGED' if new.unlogged else 'LOGGED'};",
            f"ALTER TABLE {old.sql_name} SET {'UNLOGGED' if old.unlogged else 'LOGGED'};",
            # After the storage parameters (rank 0): the order of the two does not matter.
            rank,
        )
        detail = f"{_persistence(old)} -> {_persistence(new)}"
        out.append(Change(ChangeKind.CHANGED, "table", key, detail, (step,)))
    return out
