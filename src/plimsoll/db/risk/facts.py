"""Facts of the live target, read in a few catalog queries: sizes, dependents, load, version.

:func:`read_facts` asks the server three questions, whatever the size of its catalog:

1. the server (version, TimeZone, ``max_connections``), its load (active sessions, and
   transactions open longer than ``long_transaction_seconds``: a lock request queues behind
   them, and every later query on the table queues behind the request) and the volatility of
   the functions the migrations call (``pg_proc.provolatile``);
2. the system identifier (``pg_control_system()``, the key of the calibration cache), on its
   own because some managed services refuse it;
3. each relation the migrations name, resolved through the session's ``search_path``: kind,
   row estimate, heap, index and total size (partitions summed), the number of views built on
   it, foreign keys to and from it, triggers and partitions, its columns and constraints, the
   sessions holding a lock on it right now, and what depends on it by name (the tables of its
   foreign keys both ways, the views built on it, what ``TRUNCATE ... CASCADE`` empties with
   it, and what uses each column): what CASCADE reaches and RESTRICT refuses.

Relations reached that way are read in a second round (:func:`read_tables`) when a statement
locks them. The queries themselves are in :mod:`plimsoll.db.risk.facts_sql`.

Other users' sessions show their state only to a superuser or a member of
``pg_read_all_stats``; without it, their activity and long transactions are not seen (the
report says so). Sizes come from ``pg_relation_size``, which takes a brief ACCESS SHARE lock:
the session sets ``lock_timeout`` (``db.risk.facts_lock_timeout``) and, when a table is locked, reads the sizes
from ``pg_class`` instead (as of the last VACUUM or ANALYZE) and says so. A table never
analysed gets the planner's row estimate (``EXPLAIN``), as the planner itself would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from plimsoll.db.risk import facts_sql
from plimsoll.db.risk.locks import LockLevel
from plimsoll.db.risk.operations import (
    ColumnInfo,
    ColumnUser,
    ConstraintInfo,
    Dependents,
    ForeignKeyLink,
    Knowledge,
)


@dataclass(frozen=True)
class LockHolder:
    """A session holding (or waiting for) a lock on a relation a migration touches."""

    pid: int
    table: str
    mode: LockLevel | None
    granted: bool
    transaction_seconds: float | None
    state: str | None
    query: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "pid": self.pid,
            "table": self.table,
            "mode": self.mode.value if self.mode else None,
            "granted": self.granted,
            "transaction_seconds": _round(self.transaction_seconds),
            "state": self.state,
            "query": self.query,
        }


@dataclass(frozen=True)
class LongTransaction:
    """A transaction open for longer than the configured threshold."""

    pid: int
    seconds: float
    state: str | None
    query: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "pid": self.pid,
            "seconds": _round(self.seconds),
            "state": self.state,
            "query": self.query,
        }


@dataclass(frozen=True)
class TableFacts:
    """One relation as the live database has it (``exists`` false: not there yet)."""

    name: str
    exists: bool
    qualified: str | None = None
    kind: str | None = None
    rows: float = 0.0
    rows_source: str = "statistics"
    heap_bytes: int = 0
    total_bytes: int = 0
    index_bytes: int = 0
    indexes: int = 0
    views: int = 0
    foreign_keys_in: int = 0
    foreign_keys_out: int = 0
    triggers: int = 0
    partitions: int = 0
    parent: str | None = None
    columns: Mapping[str, ColumnInfo] = field(default_factory=dict)
    constraints: Mapping[str, ConstraintInfo] = field(default_factory=dict)
    holders: tuple[LockHolder, ...] = ()
    sizes_from_catalog: bool = False
    related: Dependents = field(default_factory=Dependents)

    @property
    def dependents(self) -> int:
        """Views, foreign keys both ways, triggers and partitions: what else a lock reaches."""
        return (
            self.views
            + self.foreign_keys_in
            + self.foreign_keys_out
            + self.triggers
            + self.partitions
        )

    @property
    def row_width(self) -> float:
        """Average bytes per row on disk (heap bytes over rows; 100 when unknown)."""
        if self.rows >= 1 and self.heap_bytes > 0:
            return self.heap_bytes / self.rows
        return 100.0

    def as_dict(self) -> dict[str, Any]:
        """Plain data (columns and constraints left out: they are inputs, not findings)."""
        return {
            "name": self.name,
            "exists": self.exists,
            "relation": self.qualified,
            "kind": self.kind,
            "rows": round(self.rows),
            "rows_source": self.rows_source,
            "heap_bytes": self.heap_bytes,
            "total_bytes": self.total_bytes,
            "index_bytes": self.index_bytes,
            "indexes": self.indexes,
            "dependents": {
                "views": self.views,
                "foreign_keys_in": self.foreign_keys_in,
                "foreign_keys_out": self.foreign_keys_out,
                "triggers": self.triggers,
                "partitions": self.partitions,
            },
            "lock_holders": [h.as_dict() for h in self.holders],
            "sizes_from_catalog": self.sizes_from_catalog,
        }


@dataclass(frozen=True)
class ServerFacts:
    """The server: version, identity (the calibration key), database and TimeZone.

    ``timezone_zero``: whether the session TimeZone (the migrator's, as it connects the same
    way) has a fixed offset of zero: PostgreSQL 12+ then changes timestamp to timestamptz
    and back without a rewrite.
    """

    version_num: int
    version: str
    identity: str
    database: str
    timezone: str
    max_connections: int
    sees_all_sessions: bool = True
    timezone_zero: bool | None = None

    @property
    def major(self) -> int:
        """The major version (15 for 150005)."""
        return self.version_num // 10000

    @property
    def cache_key(self) -> str:
        """``<system identifier>/<server_version_num>``: one calibration per server version."""
        return f"{self.identity}/{self.version_num}"

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "version_num": self.version_num,
            "version": self.version,
            "identity": self.identity,
            "database": self.database,
            "timezone": self.timezone,
            "max_connections": self.max_connections,
            "sees_all_sessions": self.sees_all_sessions,
            "timezone_fixed_utc": self.timezone_zero,
        }


@dataclass(frozen=True)
class Load:
    """What runs on the server now: active sessions and long transactions."""

    active: int
    connections: int
    max_connections: int
    long_transactions: tuple[LongTransaction, ...] = ()

    @property
    def ratio(self) -> float:
        """Active sessions over ``max_connections``."""
        return self.active / self.max_connections if self.max_connections else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "active": self.active,
            "connections": self.connections,
            "max_connections": self.max_connections,
            "ratio": round(self.ratio, 3),
            "long_transactions": [t.as_dict() for t in self.long_transactions],
        }


@dataclass(frozen=True)
class Facts:
    """Everything read from the live target for one assessment."""

    server: ServerFacts
    load: Load
    tables: Mapping[str, TableFacts]
    volatility: Mapping[str, str]
    notes: tuple[str, ...] = ()

    def table(self, name: str) -> TableFacts | None:
        """The facts of a relation by the name a migration wrote (None when not asked)."""
        return self.tables.get(name)

    def knowledge(self) -> Knowledge:
        """What the lock profile may know: versions, volatility, columns, constraints."""
        return Knowledge(
            pg_version=self.server.major,
            volatility=dict(self.volatility),
            columns={name: t.columns for name, t in self.tables.items() if t.exists},
            constraints={name: t.constraints for name, t in self.tables.items() if t.exists},
            timezone_utc=self.server.timezone_zero,
            partitioned=frozenset(
                name for name, t in self.tables.items() if t.exists and t.kind in ("p", "I")
            ),
            live=True,
            missing=frozenset(name for name, t in self.tables.items() if not t.exists),
            dependents={name: t.related for name, t in self.tables.items() if t.exists},
            parents=frozenset(name for name, t in self.tables.items() if t.exists and t.partitions),
        )

    def with_tables(self, tables: Mapping[str, TableFacts], notes: Sequence[str] = ()) -> Facts:
        """These facts with more relations (read in a later round)."""
        from dataclasses import replace

        return replace(
            self,
            tables={**self.tables, **tables},
            notes=tuple(dict.fromkeys((*self.notes, *notes))),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def identifier(name: str) -> str:
    """A written relation name (``app.orders``, ``Orders`` as parsed) quoted for ``to_regclass``."""
    parts = name.split(".")
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def read_facts(
    conn: psycopg.Connection[Any],
    names: Iterable[str],
    functions: Iterable[str] = (),
    *,
    long_transaction_seconds: float = 60.0,
) -> Facts:
    """The facts of the server and of the relations ``names`` (as written in migrations).

    ``conn`` is an autocommit connection; ``functions`` are names whose volatility matters
    (defaults of new columns).
    """
    wanted = list(dict.fromkeys(n for n in names if n))
    bare = sorted({f.rsplit(".", 1)[-1] for f in functions if f})
    row = conn.execute(
        facts_sql.SERVER, {"long": long_transaction_seconds, "functions": bare}
    ).fetchone()
    assert row is not None
    version_num, version, max_connections, timezone, database, active, connections = row[:7]
    long_rows = row[7] or []
    volatility = dict(row[8] or {})
    server = ServerFacts(
        version_num=int(version_num),
        version=str(version),
        identity=_identity(conn),
        database=str(database),
        timezone=str(timezone),
        max_connections=int(max_connections),
        sees_all_sessions=bool(row[9]),
        timezone_zero=None if row[10] is None else bool(row[10]),
    )
    load = Load(
        active=int(active),
        connections=int(connections),
        max_connections=int(max_connections),
        long_transactions=tuple(
            LongTransaction(int(pid), float(seconds), state, query)
            for pid, seconds, state, query in long_rows
        ),
    )
    notes: list[str] = []
    tables = read_tables(conn, wanted, notes)
    return Facts(server, load, tables, volatility, tuple(notes))


def read_tables(
    conn: psycopg.Connection[Any], names: Sequence[str], notes: list[str]
) -> dict[str, TableFacts]:
    """The facts of relations ``names`` (and of the tables of those that are indexes)."""
    tables = _tables(conn, list(dict.fromkeys(n for n in names if n)), notes)
    parents = [t.parent for t in tables.values() if t.parent and t.parent not in tables]
    if parents:
        tables.update(_tables(conn, list(dict.fromkeys(parents)), notes))
    return tables


def zero_offset_zones(conn: psycopg.Connection[Any], zones: Sequence[str]) -> dict[str, bool]:
    """Whether each time zone name has a fixed offset of zero (an unknown name: absent)."""
    out: dict[str, bool] = {}
    for zone in dict.fromkeys(zones):
        try:
            row = conn.execute(facts_sql.ZONES, {"zones": [zone]}).fetchone()
        except psycopg.Error:
            continue  # not a time zone the server knows: SET TimeZone would fail
        if row is not None and row[1] is not None:
            out[zone] = bool(row[1])
    return out


def _identity(conn: psycopg.Connection[Any]) -> str:
    try:
        row = conn.execute("SELECT system_identifier::text FROM pg_control_system()").fetchone()
    except psycopg.Error:
        row = None
    if row and row[0]:
        return str(row[0])
    # Refused (some managed services): the address is the next best name of the server.
    info = conn.info
    return f"{info.host}:{info.port}"


def _tables(
    conn: psycopg.Connection[Any], names: Sequence[str], notes: list[str]
) -> dict[str, TableFacts]:
    if not names:
        return {}
    params = {"written": list(names), "idents": [identifier(n) for n in names]}
    from_catalog = False
    try:
        rows = conn.execute(facts_sql.TABLES.format(sizes=facts_sql.SIZES_LIVE), params).fetchall()
    except psycopg.errors.LockNotAvailable:
        from_catalog = True
        notes.append(
            "a table was locked by another session: sizes are pg_class's, as of the last "
            "VACUUM or ANALYZE"
        )
        rows = conn.execute(
            facts_sql.TABLES.format(sizes=facts_sql.SIZES_CATALOG), params
        ).fetchall()
    out: dict[str, TableFacts] = {}
    for row in rows:
        facts = _table(row, from_catalog)
        if facts.exists and facts.kind in ("r", "m", "p") and _unanalysed(row):
            facts = _planner_rows(conn, facts)
        out[facts.name] = facts
    return out


def _unanalysed(row: Sequence[Any]) -> bool:
    reltuples, relpages, heap = row[4], row[5], row[6]
    # -1 since PostgreSQL 14 (never analysed); before, 0 rows with 0 pages but a real size.
    return reltuples is None or reltuples < 0 or (reltuples == 0 and relpages == 0 and heap > 0)


def _planner_rows(conn: psycopg.Connection[Any], facts: TableFacts) -> TableFacts:
    try:
        row = conn.execute(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {facts.qualified}"  # noqa: S608 - regclass text
        ).fetchone()
    except psycopg.Error:
        return facts
    plan = _plan(row[0] if row else None)
    rows = float(plan.get("Plan Rows", 0.0)) if plan else 0.0
    return _replace(facts, rows=rows, rows_source="planner")


def _plan(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        plan = value[0].get("Plan")
        return plan if isinstance(plan, dict) else {}
    return {}


def _replace(facts: TableFacts, **changes: Any) -> TableFacts:
    from dataclasses import replace

    return replace(facts, **changes)


def _table(row: Sequence[Any], from_catalog: bool) -> TableFacts:
    (written, exists, qualified, kind, reltuples, _relpages, heap, total, index_bytes) = row[:9]
    (indexes, views, fk_in, fk_out, triggers, partitions, parent) = row[9:16]
    columns_raw, constraints_raw, holders_raw = row[16] or [], row[17] or [], row[18] or []
    if not exists:
        return TableFacts(name=written, exists=False)
    related = _related(row[19:24])
    columns = {
        name: ColumnInfo(type=str(type_), not_null=bool(not_null), fixed_width=bool(fixed))
        for name, type_, not_null, fixed in columns_raw
    }
    constraints = {
        name: ConstraintInfo(
            kind=str(contype),
            validated=bool(validated),
            definition=str(definition or ""),
            referenced=referenced,
            columns=tuple(keys or ()),
            index=index,
        )
        for name, contype, validated, definition, referenced, keys, index in constraints_raw
    }
    holders = tuple(
        LockHolder(
            pid=int(pid),
            table=written,
            mode=LockLevel.from_pg_locks(str(mode)),
            granted=bool(granted),
            transaction_seconds=None if seconds is None else float(seconds),
            state=state,
            query=query,
        )
        for pid, mode, granted, seconds, state, query in holders_raw
    )
    return TableFacts(
        name=written,
        exists=True,
        qualified=qualified,
        kind=kind,
        rows=max(float(reltuples or 0.0), 0.0),
        heap_bytes=int(heap or 0),
        total_bytes=int(total or 0),
        index_bytes=int(index_bytes or 0),
        indexes=int(indexes or 0),
        views=int(views or 0),
        foreign_keys_in=int(fk_in or 0),
        foreign_keys_out=int(fk_out or 0),
        triggers=int(triggers or 0),
        partitions=int(partitions or 0),
        parent=parent,
        columns=columns,
        constraints=constraints,
        holders=holders,
        sizes_from_catalog=from_catalog,
        related=related,
    )


def _related(raw: Sequence[Any]) -> Dependents:
    """What depends on a relation, from the last five columns of the tables query."""
    referencing_raw, references_raw, edges_raw, truncates_raw, users_raw = (r or [] for r in raw)
    edges = [(str(parent), str(child), str(kind)) for parent, child, kind in edges_raw]
    children: dict[str, list[str]] = {}
    for parent, child, kind in edges:
        if kind in ("v", "m"):
            children.setdefault(parent, []).append(child)
    columns: dict[str, list[ColumnUser]] = {}
    for column, kind, name, view in users_raw:
        dropped = _closure(children, str(view)) if view else ()
        columns.setdefault(str(column), []).append(ColumnUser(str(kind), str(name), dropped))
    return Dependents(
        referencing=tuple(
            ForeignKeyLink(str(name), str(table), tuple(keys or ()), index)
            for name, table, keys, index in referencing_raw
        ),
        references=tuple(
            ForeignKeyLink(str(name), str(table), tuple(keys or ()))
            for name, table, keys in references_raw
        ),
        views=tuple(dict.fromkeys(child for _, child, kind in edges if kind in ("v", "m"))),
        truncates=tuple(dict.fromkeys(str(t) for t in truncates_raw)),
        columns={column: tuple(users) for column, users in columns.items()},
    )


def _closure(children: Mapping[str, Sequence[str]], start: str) -> tuple[str, ...]:
    """``start`` and every view built on it, directly or not."""
    seen = [start]
    for name in seen:
        seen.extend(child for child in children.get(name, ()) if child not in seen)
    return tuple(seen)


def estimate_rows(
    conn: psycopg.Connection[Any], statement: str, search_path: str | None = None
) -> tuple[float, float] | None:
    """The planner's (rows, row width in bytes) for a statement, by ``EXPLAIN``; None if it fails.

    Nothing is executed: plain ``EXPLAIN`` only plans. It fails for a statement on a relation
    created earlier in the same migration (not there yet). ``search_path``: the one the
    migration set before the statement (the session's is restored afterwards).
    """
    try:
        if search_path is None:
            row = conn.execute(f"EXPLAIN (FORMAT JSON) {statement}", prepare=False).fetchone()
        else:
            with conn.transaction(force_rollback=True):
                conn.execute("SELECT set_config('search_path', %s, true)", (search_path,))
                row = conn.execute(f"EXPLAIN (FORMAT JSON) {statement}", prepare=False).fetchone()
    except psycopg.Error:
        return None
    plan = _plan(row[0] if row else None)
    if not plan:
        return None
    # An INSERT/UPDATE/DELETE's top node is ModifyTable; its child has the rows it changes.
    if plan.get("Node Type") == "ModifyTable" and plan.get("Plans"):
        plan = plan["Plans"][0]
    return float(plan.get("Plan Rows", 0.0)), float(plan.get("Plan Width", 0.0))
