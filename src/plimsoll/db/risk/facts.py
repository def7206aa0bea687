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
   it, foreign keys to and from it, triggers and partitions, its columns and constraints, and
   the sessions holding a lock on it right now.

Other users' sessions show their state only to a superuser or a member of
``pg_read_all_stats``; without it, their activity and long transactions are not seen (the
report says so). Sizes come from ``pg_relation_size``, which takes a brief ACCESS SHARE lock: the session sets
``lock_timeout`` (``db.risk.facts_lock_timeout``) and, when a table is locked, reads the sizes
from ``pg_class`` instead (as of the last VACUUM or ANALYZE) and says so. A table never
analysed gets the planner's row estimate (``EXPLAIN``), as the planner itself would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from plimsoll.db.risk.locks import LockLevel
from plimsoll.db.risk.operations import ColumnInfo, ConstraintInfo, Knowledge


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
    """The server: version, identity (the calibration key), database and TimeZone."""

    version_num: int
    version: str
    identity: str
    database: str
    timezone: str
    max_connections: int
    sees_all_sessions: bool = True

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
            timezone_utc=self.server.timezone.upper() in ("UTC", "ETC/UTC", "GMT", "ZULU"),
            partitioned=frozenset(
                name for name, t in self.tables.items() if t.exists and t.kind in ("p", "I")
            ),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


_SERVER_SQL = """
SELECT current_setting('server_version_num')::int,
       current_setting('server_version'),
       current_setting('max_connections')::int,
       current_setting('TimeZone'),
       current_database(),
       (SELECT count(*) FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()),
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
       (SELECT json_agg(json_build_array(pid, extract(epoch FROM now() - xact_start)::float8,
                                         state, left(query, 200)) ORDER BY xact_start)
          FROM pg_stat_activity
         WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()
           AND backend_type = 'client backend'
           AND xact_start < now() - make_interval(secs => %(long)s)),
       (SELECT json_object_agg(proname, volatility) FROM (
          SELECT proname, max(provolatile::text) AS volatility
            FROM pg_proc WHERE proname = ANY(%(functions)s) GROUP BY proname) AS p),
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
         OR pg_has_role('pg_read_all_stats', 'MEMBER')
"""

_SIZES_LIVE = """
       CASE WHEN c.relkind = 'p' THEN
            (SELECT coalesce(sum(pg_relation_size(t.relid)), 0)::bigint
               FROM pg_partition_tree(c.oid) AS t)
            ELSE pg_relation_size(c.oid) END,
       CASE WHEN c.relkind = 'p' THEN
            (SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0)::bigint
               FROM pg_partition_tree(c.oid) AS t)
            ELSE pg_total_relation_size(c.oid) END,
       CASE WHEN c.relkind IN ('r', 'm', 'p') THEN pg_indexes_size(c.oid) ELSE 0 END,
"""
# Without locks: the sizes as of the last VACUUM or ANALYZE.
_SIZES_CATALOG = """
       c.relpages::bigint * current_setting('block_size')::bigint,
       (c.relpages::bigint + coalesce((SELECT sum(i.relpages) FROM pg_index x
          JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid), 0)::bigint)
          * current_setting('block_size')::bigint,
       coalesce((SELECT sum(i.relpages) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
          WHERE x.indrelid = c.oid), 0)::bigint * current_setting('block_size')::bigint,
"""

_TABLES_SQL = """
WITH wanted AS (
    SELECT w.written, w.ord, to_regclass(w.ident) AS rel
      FROM unnest(%(written)s::text[], %(idents)s::text[]) WITH ORDINALITY AS w(written, ident, ord)
)
SELECT w.written, c.oid IS NOT NULL, c.oid::regclass::text, c.relkind::text,
       c.reltuples::float8, c.relpages::bigint,
       {sizes}
       (SELECT count(*) FROM pg_index x WHERE x.indrelid = c.oid),
       (SELECT count(DISTINCT r.ev_class) FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
         WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
           AND d.refobjid = c.oid AND r.ev_class <> c.oid),
       (SELECT count(*) FROM pg_constraint k
         WHERE k.contype = 'f' AND k.confrelid = c.oid AND k.conrelid <> c.oid),
       (SELECT count(*) FROM pg_constraint k WHERE k.contype = 'f' AND k.conrelid = c.oid),
       (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal),
       (SELECT count(*) FROM pg_inherits h WHERE h.inhparent = c.oid),
       (SELECT x.indrelid::regclass::text FROM pg_index x WHERE x.indexrelid = c.oid),
       (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod),
                                         a.attnotnull, t.typlen > 0) ORDER BY a.attnum)
          FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
       (SELECT json_agg(json_build_array(k.conname, k.contype::text, k.convalidated,
                                         pg_get_constraintdef(k.oid),
                                         CASE WHEN k.confrelid <> 0
                                              THEN k.confrelid::regclass::text END))
          FROM pg_constraint k WHERE k.conrelid = c.oid),
       (SELECT json_agg(json_build_array(l.pid, l.mode, l.granted,
                                         extract(epoch FROM now() - a.xact_start)::float8,
                                         a.state, left(a.query, 200)))
          FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'relation' AND l.relation = c.oid AND l.pid <> pg_backend_pid()
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
  FROM wanted w
  LEFT JOIN pg_class c ON c.oid = w.rel
 ORDER BY w.ord
"""


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
        _SERVER_SQL, {"long": long_transaction_seconds, "functions": bare}
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
    tables = _tables(conn, wanted, notes)
    parents = [t.parent for t in tables.values() if t.parent and t.parent not in tables]
    if parents:
        tables.update(_tables(conn, list(dict.fromkeys(parents)), notes))
    return Facts(server, load, tables, volatility, tuple(notes))


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
        rows = conn.execute(_TABLES_SQL.format(sizes=_SIZES_LIVE), params).fetchall()
    except psycopg.errors.LockNotAvailable:
        from_catalog = True
        notes.append(
            "a table was locked by another session: sizes are pg_class's, as of the last "
            "VACUUM or ANALYZE"
        )
        rows = conn.execute(_TABLES_SQL.format(sizes=_SIZES_CATALOG), params).fetchall()
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
        )
        for name, contype, validated, definition, referenced in constraints_raw
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
    )


def estimate_rows(conn: psycopg.Connection[Any], statement: str) -> tuple[float, float] | None:
    """The planner's (rows, row width in bytes) for a statement, by ``EXPLAIN``; None if it fails.

    Nothing is executed: plain ``EXPLAIN`` only plans. It fails for a statement on a relation
    created earlier in the same migration (not there yet).
    """
    try:
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
