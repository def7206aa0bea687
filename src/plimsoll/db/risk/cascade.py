"""What a statement does to relations it does not name, and what it will refuse, by the live facts.

The lock profile reads a statement alone. Some statements reach further, through the
dependencies the live catalog records (checked in ``pg_locks`` on PostgreSQL 15):

=========================================  ============================================================
statement                                  also
=========================================  ============================================================
``TRUNCATE t CASCADE``                     empties every table referencing ``t`` (and those referencing
                                           them): ACCESS EXCLUSIVE on each
``TRUNCATE t``                             fails when a table not truncated with it references ``t``
``DROP TABLE t CASCADE``                   drops the views built on ``t`` and the foreign keys of other
                                           tables to ``t``: ACCESS EXCLUSIVE on each
``DROP TABLE t`` (or ``DROP VIEW``)        fails when a view or another table's foreign key depends on it
``DROP TABLE t``, with or without CASCADE  ACCESS EXCLUSIVE on each table ``t`` references (its foreign
                                           key's triggers there are dropped)
``DROP COLUMN c [CASCADE]``                the same for what uses ``c``: views, rules, triggers, policies,
                                           generated columns, foreign keys relying on an index on ``c``;
                                           the foreign key of ``c`` itself locks its referenced table
``DROP CONSTRAINT k [CASCADE]``            a foreign key: ACCESS EXCLUSIVE on the referenced table; a key
                                           other tables' foreign keys rely on: dropped with CASCADE,
                                           refused without
``ALTER COLUMN c TYPE``                    fails when a view, rule, trigger, policy or generated column
                                           uses ``c``; a foreign key on ``c`` (either way) is rebuilt:
                                           ACCESS EXCLUSIVE on the other table, checked again (both
                                           tables read) when the column is rewritten
=========================================  ============================================================

Without live facts (``Knowledge.live`` false, as in lint) the profile is returned unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from plimsoll.db.risk.alter_table import name_of
from plimsoll.db.risk.locks import LockLevel
from plimsoll.db.risk.operations import (
    Knowledge,
    StatementProfile,
    TableLock,
    Work,
    WorkKind,
)
from plimsoll.db.risk.run_state import canonical
from plimsoll.db.sqljson import Node, unwrap

AE = LockLevel.ACCESS_EXCLUSIVE

_TYPE_CHANGE_REFUSED = {
    "view": "cannot alter type of a column used by a view or rule",
    "rule": "cannot alter type of a column used by a view or rule",
    "trigger": "cannot alter type of a column used in a trigger definition",
    "policy": "cannot alter type of a column used in a policy definition",
    "generated column": "cannot alter type of a column used by a generated column",
}
_DROPPED_KINDS = {
    "OBJECT_TABLE": "table",
    "OBJECT_VIEW": "view",
    "OBJECT_MATVIEW": "materialized view",
    "OBJECT_FOREIGN_TABLE": "foreign table",
}


@dataclass
class _Reach:
    """Locks, work, notes and the first refusal gathered for one statement."""

    named: set[str]
    locks: list[TableLock] = field(default_factory=list)
    work: list[Work] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fails: str | None = None

    def lock(self, table: str, reason: str, **flags: bool) -> None:
        if canonical(table) in self.named or any(lock.table == table for lock in self.locks):
            return
        self.locks.append(TableLock(table, AE, reason=reason, **flags))

    def refuse(self, reason: str) -> None:
        self.fails = self.fails or reason


def reach(kind: str, node: Node, found: StatementProfile, knowledge: Knowledge) -> StatementProfile:
    """``found`` with the locks, work and refusals the live dependencies add (see above)."""
    if not knowledge.live:
        return found
    state = _Reach({canonical(lock.table) for lock in found.locks})
    cascade = node.get("behavior") == "DROP_CASCADE"
    if kind == "TruncateStmt":
        _truncate(found, knowledge, state, cascade)
    elif kind == "DropStmt" and node.get("removeType") in _DROPPED_KINDS:
        _drop(found, knowledge, state, cascade, _DROPPED_KINDS[node["removeType"]])
    elif kind == "AlterTableStmt" and node.get("objtype", "OBJECT_TABLE") == "OBJECT_TABLE":
        table = name_of(node.get("relation"))
        if table:
            for item in node.get("cmds") or ():
                _alter(unwrap(item)[1], table, found, knowledge, state)
    if not (state.locks or state.work or state.notes or state.fails):
        return found
    return replace(
        found,
        locks=(*found.locks, *state.locks),
        work=(*found.work, *(w for w in state.work if w not in found.work)),
        notes=(*found.notes, *state.notes),
        fails=found.fails or state.fails,
    )


def _truncate(found: StatementProfile, knowledge: Knowledge, state: _Reach, cascade: bool) -> None:
    for lock in found.locks:
        depends = knowledge.depends_on(lock.table)
        if cascade:
            for table in depends.truncates:
                state.lock(
                    table,
                    f"TRUNCATE ... CASCADE empties it too: it references {lock.table}"
                    " (directly or through other tables)",
                    emptied=True,
                )
            continue
        for link in depends.referencing:
            if canonical(link.table) not in state.named:
                state.refuse(
                    "cannot truncate a table referenced in a foreign key constraint: "
                    f"{link.table} references {lock.table} ({link.name}); truncate "
                    f"{link.table} in the same statement, or use CASCADE"
                )
    emptied = [t.table for t in state.locks if t.emptied]
    if emptied:
        state.notes.append(
            "TRUNCATE ... CASCADE also empties " + ", ".join(emptied) + ": every row is lost"
        )


def _drop(
    found: StatementProfile, knowledge: Knowledge, state: _Reach, cascade: bool, what: str
) -> None:
    for lock in found.locks:
        depends = knowledge.depends_on(lock.table)
        for view in depends.views:
            if cascade:
                state.lock(view, f"dropped by CASCADE: built on {lock.table}", dropped=True)
            elif canonical(view) not in state.named:
                state.refuse(_depends(f"{what} {lock.table}", f"view {view}"))
        for link in depends.referencing:
            if cascade:
                state.lock(
                    link.table, f"its foreign key {link.name} to {lock.table} is dropped (CASCADE)"
                )
            elif canonical(link.table) not in state.named:
                state.refuse(
                    _depends(f"{what} {lock.table}", f"constraint {link.name} on {link.table}")
                )
        for link in depends.references:
            state.lock(
                link.table, f"the foreign key {link.name} of {lock.table} to it is dropped with it"
            )
    dropped = [t.table for t in state.locks if t.dropped]
    if dropped:
        state.notes.append("CASCADE also drops " + ", ".join(dropped))


def _depends(what: str, dependent: str) -> str:
    return (
        f"cannot drop {what} because other objects depend on it: {dependent}"
        " (drop it first, or use CASCADE)"
    )


def _alter(
    cmd: Node, table: str, found: StatementProfile, knowledge: Knowledge, state: _Reach
) -> None:
    subtype = cmd.get("subtype", "")
    name = str(cmd.get("name") or "")
    depends = knowledge.depends_on(table)
    cascade = cmd.get("behavior") == "DROP_CASCADE"
    if subtype == "AT_DropColumn":
        users = depends.columns.get(name, ())
        links = [link for link in depends.referencing if name in link.columns]
        if not cascade and (users or links):
            first = users[0].describe() if users else f"constraint {links[0].name}"
            state.refuse(_depends(f"column {name} of table {table}", first))
        if cascade:
            for user in users:
                for view in user.views:
                    state.lock(view, f"dropped by CASCADE: uses {table}.{name}", dropped=True)
                if user.kind != "view":
                    state.notes.append(f"CASCADE also drops {user.describe()}")
            for link in links:
                state.lock(
                    link.table, f"its foreign key {link.name} to {table} is dropped (CASCADE)"
                )
        for link in depends.references:
            if name in link.columns:
                state.lock(link.table, f"the foreign key {link.name} on {table}.{name} is dropped")
    elif subtype == "AT_DropConstraint":
        _drop_constraint(name, table, knowledge, state, cascade)
    elif subtype == "AT_AlterColumnType":
        for user in depends.columns.get(name, ()):
            state.refuse(
                f"{_TYPE_CHANGE_REFUSED.get(user.kind, 'cannot alter type')}: "
                f"{user.describe()} depends on column {name}"
            )
        rewritten = any(w.kind is WorkKind.REWRITE and w.table == table for w in found.work)
        for link in depends.referencing:
            if name in link.columns:
                state.lock(link.table, f"its foreign key {link.name} to {table} is rebuilt")
                if rewritten:
                    state.work.append(Work(WorkKind.FOREIGN_KEY_SCAN, link.table, table))
        for link in depends.references:
            if name in link.columns:
                state.lock(link.table, f"the foreign key {link.name} of {table} is rebuilt")
                if rewritten:
                    state.work.append(Work(WorkKind.FOREIGN_KEY_SCAN, table, link.table))


def _drop_constraint(
    name: str, table: str, knowledge: Knowledge, state: _Reach, cascade: bool
) -> None:
    info = knowledge.constraint(table, name)
    if info is None:
        return
    if info.kind == "f" and info.referenced:
        state.lock(info.referenced, f"the foreign key {name} of {table} to it is dropped")
    if info.kind in ("p", "u") and info.index:
        for link in knowledge.depends_on(table).referencing:
            if link.index != info.index:
                continue
            if cascade:
                state.lock(link.table, f"its foreign key {link.name} is dropped (CASCADE)")
            else:
                state.refuse(
                    _depends(f"constraint {name} on table {table}", f"constraint {link.name}")
                )
