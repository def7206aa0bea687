"""The locks each statement of a dry run needs: those it took, and those already held.

``pg_locks`` shows what the dry run's transaction holds. What a statement newly took is what
is held after it and was not before it. A lock the transaction already holds (taken by an
earlier statement, or an earlier migration: the dry run runs them all in one transaction)
does not show again, although the real ``up``, one transaction per migration, takes it
anew. So each statement's report adds, to what ``pg_locks`` shows new, the locks the risk
lock profile (:func:`plimsoll.db.risk.lock_profile.profile`) says its kind takes, when the
transaction holds them already: :attr:`LockState.HELD`, with where they were first taken.

Names are schema-qualified (``public.big``). A relation that no longer exists is named from
what the dry run saw of it before, or from the committed catalog (another connection: a
relation the statement dropped); one found nowhere was created and dropped by the statement
(the transient table of a rewrite, its TOAST table and index): those are counted, not
listed, since no other session can ever wait on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql as pgsql

from plimsoll.db.connection import connect_url
from plimsoll.db.sqljson import Node, strings, unwrap

if TYPE_CHECKING:
    from plimsoll.db.migrator import Migrator
    from plimsoll.db.risk.locks import LockLevel

# Locks the transaction holds. Left out: the transaction's own ids, the system catalogs
# (every statement touches them), and the relations whose oids are passed (the migrator's
# tracking table and its indexes). TOAST relations are read, to be known as such once a
# later statement drops them, and then left out too.
_LOCKS = """
SELECT l.locktype, l.mode, l.relation::int8, n.nspname, c.relname, c.relkind,
  CASE WHEN l.locktype = 'object'
    THEN COALESCE(pg_describe_object(l.classid, l.objid, l.objsubid), '') ELSE '' END,
  l.database, l.page, l.tuple, l.classid, l.objid, l.objsubid
FROM pg_locks l
LEFT JOIN pg_class c ON c.oid = l.relation
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = pg_backend_pid() AND l.granted
  AND l.locktype NOT IN ('virtualxid', 'transactionid')
  AND (n.nspname IS NULL OR n.nspname NOT IN ('pg_catalog', 'information_schema'))
  AND (l.relation IS NULL OR l.relation <> ALL(%s::oid[]))
ORDER BY 4, 5, 3, 2, 1, 7
"""

# The tracking table and its indexes (its TOAST relation is left out as all TOAST is).
_TRACKING = """
SELECT oid FROM pg_class WHERE oid = to_regclass(%(name)s)
UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid = to_regclass(%(name)s)
"""

# Relations by name, as the statement about to run would find them (its search_path).
_RESOLVE = """
SELECT q.name, c.oid::int8, n.nspname, c.relname
FROM unnest(%s::text[]) AS q(name)
JOIN pg_class c ON c.oid = to_regclass(q.name)
JOIN pg_namespace n ON n.oid = c.relnamespace
"""

# What a concurrent index statement locks, by the relation it names (%(name)s): the relation
# itself, the table of an index, and (%(indexes)s) the indexes of a table, but those of
# exclusion constraints, which REINDEX TABLE CONCURRENTLY skips.
_CONCURRENT_TARGETS = """
WITH target AS (SELECT to_regclass(%(name)s) AS oid)
SELECT r.oid::int8, n.nspname, c.relname FROM (
  SELECT oid FROM target
  UNION SELECT i.indrelid FROM pg_index i, target WHERE i.indexrelid = target.oid
  UNION SELECT i.indexrelid FROM pg_index i, target
    WHERE %(indexes)s AND i.indrelid = target.oid AND NOT i.indisexclusion
) r JOIN pg_class c ON c.oid = r.oid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT LIKE 'pg_toast%%'
ORDER BY 2, 3
"""

# Relations by oid in the committed catalog (asked on another connection).
_COMMITTED = """
SELECT c.oid::int8, n.nspname, c.relname FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY(%s::oid[])
"""


class LockState(StrEnum):
    """Whether a statement's lock showed new in ``pg_locks`` or was held already, or is what
    the real statement takes, per PostgreSQL's documentation, where the dry run ran an
    equivalent (``documented``: not observed)."""

    NEW = "new"
    HELD = "held"
    DOCUMENTED = "documented"


@dataclass(frozen=True)
class Lock:
    """A lock a statement of the dry run needs.

    ``relation`` is the locked relation, ``schema.name``; ``object`` describes the locked
    object of an ``object`` lock (``schema public``); both are empty for other kinds of lock.
    ``state`` says whether ``pg_locks`` showed it new after the statement, or the
    transaction held it already (the statement's kind takes it, by the lock profile);
    ``held_since`` is then where it was first taken (``0002_a line 1``). ``documented``: the
    dry run ran a transactional equivalent of the statement, and this is the lock the real
    statement takes (see :meth:`LockTracker.documented`), not one the dry run observed.
    """

    locktype: str
    relation: str
    mode: str
    object: str = ""
    state: LockState = LockState.NEW
    held_since: str | None = None


@dataclass(frozen=True)
class Taken:
    """What one statement locked: its locks, and how many locks were on relations it
    created and dropped itself (``transient``)."""

    locks: tuple[Lock, ...]
    transient: int = 0


def pg_mode(level: LockLevel) -> str:
    """``pg_locks.mode`` of a :class:`~plimsoll.db.risk.locks.LockLevel` (``ShareLock``)."""
    return "".join(word.capitalize() for word in str(level.value).split()) + "Lock"


def needed_locks(kind: str, node: Node, server_version: int) -> tuple[tuple[str, str], ...]:
    """The relation locks a statement's kind takes: (name as written, ``pg_locks`` mode).

    From the risk lock profile; nothing for a kind it does not know (its worst case, ACCESS
    EXCLUSIVE on every relation named, is a guess, not a lock to report as held).
    """
    from plimsoll.db.risk.lock_profile import profile
    from plimsoll.db.risk.operations import Knowledge

    found = profile(kind, node, Knowledge(pg_version=server_version // 10000))
    if not found.known:
        return ()
    return tuple(dict.fromkeys((lock.table, pg_mode(lock.level)) for lock in found.locks))


# A lock's identity: the object it locks and its mode. A stronger mode on an object already
# locked is another identity, so an upgrade shows as a new lock.
_Key = tuple[Any, ...]


@dataclass(frozen=True)
class _Row:
    locktype: str
    mode: str
    oid: int | None
    name: str | None
    kind: str | None
    object: str


class LockTracker:
    """The locks the transaction holds, to tell what each statement needs.

    Call :meth:`resolve` before a statement runs (with what its kind needs), then
    :meth:`taken` after it, and :meth:`close` at the end. ``sequences`` collects the oids of
    the sequences the transaction locked to change (``nextval``, ``setval``): those it may
    have moved.
    """

    def __init__(self, conn: psycopg.Connection[Any], migrator: Migrator) -> None:
        self.conn = conn
        self.conninfo = migrator.conninfo
        name = pgsql.SQL(".").join(
            pgsql.Identifier(part) for part in migrator.settings.tracking_table.split(".")
        )
        rows = conn.execute(_TRACKING, {"name": name.as_string(conn)}).fetchall()
        # The migrator's own bookkeeping is not the migration's doing.
        self.hidden: list[int] = [row[0] for row in rows]
        self.names: dict[int, str] = {}
        # TOAST relations seen (or dropped): a detail of their table, never reported.
        self.toast: set[int] = set()
        self.sequences: set[int] = set()
        self.held = self._held()
        self.since: dict[_Key, str] = dict.fromkeys(self.held, "the dry run's start")
        self._other: psycopg.Connection[Any] | None = None

    def close(self) -> None:
        """Close the connection opened to name dropped relations, if one was."""
        if self._other is not None:
            self._other.close()
            self._other = None

    def _held(self) -> dict[_Key, _Row]:
        held: dict[_Key, _Row] = {}
        for row in self.conn.execute(_LOCKS, (self.hidden,)).fetchall():
            locktype, mode, oid, schema, relname, relkind, described = row[:7]
            if oid is not None and (oid in self.toast or _toast(schema)):
                self.toast.add(oid)
                continue
            name = f"{schema}.{relname}" if relname is not None else None
            if oid is not None and name is not None:
                self.names[oid] = name
            if relkind == "S" and mode != "AccessShareLock":
                self.sequences.add(oid)
            key = (row[7], oid, *row[8:], mode, locktype)
            held[key] = _Row(locktype, mode, oid, name, relkind, described)
        return held

    def resolve(self, needed: Sequence[tuple[str, str]]) -> tuple[tuple[int, str], ...]:
        """The relations ``needed`` names, as (oid, mode), as the next statement finds them.

        A name that does not resolve (a relation the statement creates) is left out; it
        cannot be held already.
        """
        texts = {_regclass_text(name, self.conn): name for name, _ in needed}
        texts.pop("", None)
        if not texts:
            return ()
        try:
            # A savepoint: a name to_regclass refuses must not abort the dry run's transaction.
            with self.conn.transaction():
                rows = self.conn.execute(_RESOLVE, (list(texts),)).fetchall()
        except psycopg.DatabaseError:
            return ()
        oids: dict[str, int] = {}
        for text, oid, schema, relname in rows:
            oids[texts[text]] = oid
            self.names[oid] = f"{schema}.{relname}"
        return tuple((oids[name], mode) for name, mode in needed if name in oids)

    def taken(self, wanted: Iterable[tuple[int, str]] = (), where: str = "") -> Taken:
        """The locks the statement just run needs: those new since the last call, then those
        in ``wanted`` (from :meth:`resolve`) the transaction held already."""
        before = self.held
        now = self._held()
        self.held = now
        fresh = [key for key in now if key not in before]
        for key in fresh:
            self.since[key] = where
        unnamed = {oid for k in fresh if (oid := now[k].oid) is not None and now[k].name is None}
        self._name_dropped(unnamed - self.names.keys())
        locks: list[Lock] = []
        transient = 0
        for key in fresh:
            row = now[key]
            if row.oid in self.toast:
                continue
            relation = self._relation(row)
            if relation is None:
                transient += 1
                continue
            locks.append(Lock(row.locktype, relation, row.mode, row.object))
        held_keys = {
            (row.oid, row.mode): key for key, row in before.items() if row.locktype == "relation"
        }
        for oid, mode in dict.fromkeys(wanted):
            found = held_keys.get((oid, mode))
            if found is None or oid in self.hidden:
                continue
            locks.append(
                Lock(
                    "relation",
                    self.names.get(oid, str(oid)),
                    mode,
                    state=LockState.HELD,
                    held_since=self.since.get(found),
                )
            )
        return Taken(tuple(locks), transient)

    def documented(self, kind: str, node: Node) -> tuple[Lock, ...]:
        """The locks the real ``CONCURRENTLY`` statement (``kind``, its JSON tree) takes,
        for a dry run that runs its transactional equivalent instead.

        Asked before the equivalent runs (it may drop what it names). By PostgreSQL's
        documentation, and as ``pg_locks`` shows while they run: ``CREATE INDEX
        CONCURRENTLY`` takes SHARE UPDATE EXCLUSIVE on the table; ``DROP INDEX
        CONCURRENTLY`` on the index and its table; ``REINDEX ... CONCURRENTLY`` on the table
        and its indexes. None of them blocks reads or writes.
        """
        from plimsoll.db.risk.alter_table import name_of

        name: str | None = None
        if kind in ("IndexStmt", "ReindexStmt"):
            name = name_of(node.get("relation"))
        elif kind == "DropStmt" and node.get("objects"):
            name = ".".join(strings(unwrap(node["objects"][0])[1].get("items")))
        text = _regclass_text(name or "", self.conn)
        if not text:
            return ()
        indexes = kind == "ReindexStmt" and node.get("kind") == "REINDEX_OBJECT_TABLE"
        params = {"name": text, "indexes": indexes}
        try:
            # A savepoint: a name to_regclass refuses must not abort the dry run's transaction.
            with self.conn.transaction():
                rows = self.conn.execute(_CONCURRENT_TARGETS, params).fetchall()
        except psycopg.DatabaseError:
            return ()
        locks = []
        for oid, schema, relname in rows:
            self.names[oid] = f"{schema}.{relname}"
            locks.append(
                Lock(
                    "relation",
                    f"{schema}.{relname}",
                    "ShareUpdateExclusiveLock",
                    state=LockState.DOCUMENTED,
                )
            )
        return tuple(locks)

    def _relation(self, row: _Row) -> str | None:
        """The row's relation name; "" for a lock on no relation; None for a transient one."""
        if row.oid is None:
            return ""
        return row.name or self.names.get(row.oid)

    def _name_dropped(self, oids: set[int]) -> None:
        """Name the relations the dry run dropped but never saw, from the committed catalog."""
        if not oids:
            return
        if self._other is None:
            # Opened once, at the first rewrite or drop: most dry runs never need it.
            self._other = connect_url(
                self.conninfo, autocommit=True, application_name="plimsoll-dry-run"
            )
        for oid, schema, relname in self._other.execute(_COMMITTED, (sorted(oids),)):
            if _toast(schema):
                self.toast.add(oid)
            else:
                self.names[oid] = f"{schema}.{relname}"


def _toast(schema: str | None) -> bool:
    """Whether ``schema`` holds TOAST relations (``pg_toast``, ``pg_toast_temp_3``)."""
    return schema is not None and schema.startswith("pg_toast")


def _regclass_text(name: str, conn: psycopg.Connection[Any]) -> str:
    """``name`` as written (``app.orders``) as to_regclass reads it: each part quoted.

    A database name in front is dropped (to_regclass refuses one); "" for no name.
    """
    parts = [part for part in name.split(".") if part][-2:]
    if not parts:
        return ""
    return pgsql.Identifier(*parts).as_string(conn)
