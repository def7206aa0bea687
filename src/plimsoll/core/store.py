"""The embedded state store: SQLite (WAL), behind one interface a PostgreSQL store can implement.

The store holds what plimsoll must remember between runs: the notification outbox, the
circuit-breaker state per channel, migration runs, query baselines with their samples and
check history, and the timings of plimsoll's own operations; runtime samples, alerts, usage
events and the rest join later as new schema versions. The layout follows coverage.py's: a thin connection wrapper
(:class:`SqliteConnection`) apart from the queries (:class:`SqliteStore`), and a
``SCHEMA_VERSION`` whose history is written next to it.

Safe across threads (one connection per store, serialised by a lock) and across processes (WAL,
a busy timeout, and every write in a ``BEGIN IMMEDIATE`` transaction).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plimsoll.core.errors import CannotRunError, ConfigError
from plimsoll.core.paths import ensure_private_dir

if TYPE_CHECKING:
    from plimsoll.core.config import StoreConfig

DEFAULT_PATH = ".plimsoll/state.db"

# Schema versions, one line each; a new version appends a migration to MIGRATIONS below.
#   1: meta (key/value, holds the schema version), outbox (pending and delivered notifications,
#      with a dedupe key), breaker (consecutive failures and opening time per channel).
#   2: migration_runs (one row per migration applied or reverted: timing, outcome, server
#      version, the tables it touched with their sizes), for risk prediction.
#   3: query_baselines (a query's baseline per database; a replaced one is kept, superseded,
#      as history), query_samples (the measurements of each baseline), baseline_checks (every
#      regression check's verdict), operation_timings (how long plimsoll's own operations
#      took, for its objectives).
SCHEMA_VERSION = 3

# MIGRATIONS[n] takes a database from version n-1 to version n; all pending ones run in order
# inside one transaction, so a store is never left half-migrated.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            channel TEXT NOT NULL,
            dedupe_key TEXT,
            payload TEXT NOT NULL,
            created_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            delivered_at REAL
        )
        """,
        "CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at)",
        "CREATE INDEX outbox_key ON outbox (channel, dedupe_key)",
        """
        CREATE TABLE breaker (
            channel TEXT PRIMARY KEY,
            failures INTEGER NOT NULL DEFAULT 0,
            opened_at REAL
        )
        """,
    ),
    2: (
        """
        CREATE TABLE migration_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            database TEXT NOT NULL,
            version TEXT NOT NULL,
            name TEXT NOT NULL,
            direction TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL NOT NULL,
            duration_ms INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            error TEXT,
            server_version INTEGER,
            tables TEXT NOT NULL DEFAULT '[]'
        )
        """,
        "CREATE INDEX migration_runs_version ON migration_runs (database, version)",
    ),
    3: (
        """
        CREATE TABLE query_baselines (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            database TEXT NOT NULL,
            query_key TEXT NOT NULL,
            name TEXT,
            query TEXT NOT NULL,
            metric TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            superseded_at REAL
        )
        """,
        "CREATE INDEX query_baselines_key ON query_baselines (database, query_key, superseded_at)",
        """
        CREATE TABLE query_samples (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            baseline_id INTEGER NOT NULL REFERENCES query_baselines (id) ON DELETE CASCADE,
            recorded_at REAL NOT NULL,
            value REAL NOT NULL,
            execution_ms REAL,
            planning_ms REAL,
            total_cost REAL,
            rows REAL,
            shared_hit INTEGER,
            shared_read INTEGER,
            plan TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX query_samples_baseline ON query_samples (baseline_id)",
        """
        CREATE TABLE baseline_checks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            database TEXT NOT NULL,
            query_key TEXT NOT NULL,
            baseline_id INTEGER,
            checked_at REAL NOT NULL,
            status TEXT NOT NULL,
            improved INTEGER NOT NULL DEFAULT 0,
            stale INTEGER NOT NULL DEFAULT 0,
            metric TEXT NOT NULL,
            current REAL NOT NULL,
            mean REAL,
            stddev REAL,
            low REAL,
            high REAL,
            samples INTEGER NOT NULL DEFAULT 0,
            change REAL,
            message TEXT NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX baseline_checks_key ON baseline_checks (database, query_key, checked_at)",
        """
        CREATE TABLE operation_timings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            operation TEXT NOT NULL,
            seconds REAL NOT NULL,
            recorded_at REAL NOT NULL,
            ok INTEGER NOT NULL DEFAULT 1
        )
        """,
        "CREATE INDEX operation_timings_operation ON operation_timings (operation, recorded_at)",
    ),
}

_META_DDL = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


@dataclass(frozen=True)
class OutboxItem:
    """A notification kept in the outbox until it is delivered."""

    id: int
    channel: str
    payload: dict[str, Any]
    created_at: float
    attempts: int
    next_attempt_at: float
    last_error: str | None
    delivered_at: float | None
    dedupe_key: str | None = None


@dataclass(frozen=True)
class BreakerState:
    """The circuit-breaker state of one channel: consecutive failures and when it opened."""

    channel: str
    failures: int = 0
    opened_at: float | None = None


class Store(ABC):
    """The state store interface: every backend (SQLite now, PostgreSQL later) implements it.

    Times are Unix timestamps in seconds (UTC), passed in by the caller so logic stays testable.
    """

    @property
    @abstractmethod
    def schema_version(self) -> int:
        """Return the schema version of the opened store."""

    @abstractmethod
    def close(self) -> None:
        """Release the store's connection."""

    # --- outbox ---------------------------------------------------------------------------

    @abstractmethod
    def outbox_add(
        self,
        channel: str,
        payload: Mapping[str, Any],
        *,
        now: float,
        next_attempt_at: float,
        attempts: int = 0,
        last_error: str | None = None,
        dedupe_key: str | None = None,
    ) -> int:
        """Keep ``payload`` for ``channel`` and return its outbox id.

        With a ``dedupe_key``, an undelivered item of the same channel and key is replaced by
        the newer payload (its id and attempts kept) rather than queued twice.
        """

    @abstractmethod
    def outbox_claim(
        self,
        now: float,
        *,
        lease_seconds: float,
        channels: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[OutboxItem]:
        """Take the undelivered items due at ``now``, oldest first, leasing them for a while.

        A claimed item is hidden from other claimers for ``lease_seconds``, so two processes
        flushing at once never deliver the same item twice.
        """

    @abstractmethod
    def outbox_delivered(self, item_id: int, now: float) -> None:
        """Mark an outbox item as delivered at ``now``."""

    @abstractmethod
    def outbox_failed(self, item_id: int, *, error: str, next_attempt_at: float) -> None:
        """Record a failed attempt on an outbox item and when to try again."""

    @abstractmethod
    def outbox_postpone(self, item_id: int, next_attempt_at: float) -> None:
        """Move an item's next attempt without counting an attempt (e.g. its breaker is open)."""

    @abstractmethod
    def outbox_supersede(self, channel: str, dedupe_key: str, now: float) -> int:
        """Retire the undelivered items of ``channel`` with ``dedupe_key``: a newer one went out."""

    @abstractmethod
    def outbox_pending(self, channel: str | None = None) -> list[OutboxItem]:
        """Return the undelivered items, oldest first, optionally of one channel."""

    @abstractmethod
    def outbox_get(self, item_id: int) -> OutboxItem | None:
        """Return one outbox item by id, or None."""

    @abstractmethod
    def outbox_purge(self, delivered_before: float) -> int:
        """Delete items delivered before ``delivered_before``; return how many went."""

    # --- circuit breaker ------------------------------------------------------------------

    @abstractmethod
    def breaker_get(self, channel: str) -> BreakerState:
        """Return the breaker state of ``channel`` (closed with no failures when unknown)."""

    @abstractmethod
    def breaker_failure(self, channel: str, *, now: float, threshold: int) -> BreakerState:
        """Count one more consecutive failure; open (or re-open) the breaker at ``threshold``."""

    @abstractmethod
    def breaker_success(self, channel: str) -> None:
        """Close the breaker of ``channel`` and forget its failures."""

    # --- migration runs -------------------------------------------------------------------

    @abstractmethod
    def ensure_part_schema(self, part: str, migrations: Sequence[Sequence[str]]) -> int:
        """Bring a part's own tables up to date; return their schema version.

        A part (runtime alerts, usage analytics, ...) keeps its tables in the store without the
        core knowing them: ``migrations[n]`` holds the statements that take its tables from
        version ``n`` to ``n + 1``; the version reached is kept in ``meta`` as
        ``schema.<part>``. Applied in one transaction; a store written by a newer plimsoll
        (a higher version than the part knows) is refused with CannotRunError.
        """

    @abstractmethod
    def migration_run_add(self, run: MigrationRun) -> int:
        """Record one migration applied or reverted; return its id."""

    @abstractmethod
    def migration_runs(self, database: str | None = None, limit: int = 1000) -> list[MigrationRun]:
        """The recorded runs, newest first (of one database when given)."""

    # --- query baselines ------------------------------------------------------------------

    @abstractmethod
    def baseline_record(
        self, baseline: QueryBaseline, samples: Sequence[QuerySample], *, append: bool = False
    ) -> QueryBaseline:
        """Store ``samples`` as the current baseline of ``baseline``'s query; return it, stored.

        By default the query's current baseline (if any) is superseded, kept as history, and a
        new one starts at ``baseline.updated_at``. With ``append`` the samples join the current
        baseline of the same metric instead (one is started when there is none).
        """

    @abstractmethod
    def baseline_get(self, database: str, query_key: str) -> QueryBaseline | None:
        """The current baseline of one query, with its samples, or None."""

    @abstractmethod
    def baselines(
        self,
        database: str | None = None,
        *,
        query_key: str | None = None,
        include_superseded: bool = False,
    ) -> list[QueryBaseline]:
        """Baselines with their samples, by query then newest first (current ones by default)."""

    @abstractmethod
    def baseline_checks_add(self, checks: Sequence[BaselineCheck]) -> None:
        """Keep the verdicts of one regression check."""

    @abstractmethod
    def baseline_checks(
        self, database: str | None = None, *, query_key: str | None = None, limit: int = 1000
    ) -> list[BaselineCheck]:
        """Past verdicts, newest first (of one database and one query when given)."""

    # --- operation timings ----------------------------------------------------------------

    @abstractmethod
    def timings_add(self, timings: Sequence[OperationTiming]) -> None:
        """Keep how long some of plimsoll's own operations took."""

    @abstractmethod
    def timings(
        self, operation: str | None = None, *, since: float | None = None
    ) -> list[OperationTiming]:
        """Recorded timings, oldest first (of one operation, from ``since``, when given)."""

    @abstractmethod
    def timings_purge(self, before: float) -> int:
        """Delete timings recorded before ``before``; return how many went."""


@dataclass(frozen=True)
class MigrationRun:
    """One migration applied or reverted: when, how long, how it ended, what it touched."""

    database: str
    version: str
    name: str
    direction: str
    started_at: float
    finished_at: float
    duration_ms: int
    outcome: str
    error: str | None = None
    server_version: int | None = None
    tables: tuple[tuple[str, int | None], ...] = ()
    id: int | None = None


@dataclass(frozen=True)
class QuerySample:
    """One measurement of a query: the compared ``value`` and what EXPLAIN reported around it.

    ``plan`` is a small JSON-ready summary of the plan (node types, top node), not the plan.
    """

    recorded_at: float
    value: float
    execution_ms: float | None = None
    planning_ms: float | None = None
    total_cost: float | None = None
    rows: float | None = None
    shared_hit: int | None = None
    shared_read: int | None = None
    plan: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True)
class QueryBaseline:
    """A query's baseline on one database: what ``metric`` its samples measure, and since when.

    ``superseded_at`` is set once a newer baseline replaced it (it stays as history).
    """

    database: str
    query_key: str
    query: str
    metric: str
    created_at: float
    updated_at: float
    name: str | None = None
    superseded_at: float | None = None
    samples: tuple[QuerySample, ...] = ()
    id: int | None = None


@dataclass(frozen=True)
class BaselineCheck:
    """One query's verdict in a regression check, with the baseline figures it was judged by."""

    database: str
    query_key: str
    checked_at: float
    status: str
    metric: str
    current: float
    baseline_id: int | None = None
    improved: bool = False
    stale: bool = False
    mean: float | None = None
    stddev: float | None = None
    low: float | None = None
    high: float | None = None
    samples: int = 0
    change: float | None = None
    message: str = ""
    id: int | None = None


@dataclass(frozen=True)
class OperationTiming:
    """How long one of plimsoll's own operations took, and whether it completed."""

    operation: str
    seconds: float
    recorded_at: float
    ok: bool = True
    id: int | None = None


class SqliteConnection:
    """A thin wrapper over one ``sqlite3`` connection: pragmas, a lock, and transactions.

    ``path`` may be ``":memory:"`` for a private in-memory database.
    """

    def __init__(self, path: str | Path, *, busy_timeout_seconds: float = 30.0) -> None:
        self.path = str(path)
        self.busy_timeout_seconds = busy_timeout_seconds
        self._lock = threading.RLock()
        self._depth = 0
        self._pid = os.getpid()
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            # A .plimsoll folder ignores itself, so the store never dirties a work tree.
            ensure_private_dir(Path(self.path).parent)
        try:
            # isolation_level=None: transactions are explicit, so BEGIN IMMEDIATE takes the write
            # lock up front and two processes cannot both read-then-write the same rows.
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_seconds,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_seconds * 1000)}")
            if self.path != ":memory:":
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise CannotRunError(f"cannot open the state store {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        return conn

    def _reset_if_forked(self) -> None:
        # A connection inherited through fork() must not be used by the child, nor the lock:
        # another thread of the parent may have held it at the fork, and would never release
        # it here. Checked before taking the lock, so a child starts afresh.
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._depth = 0
            self._lock = threading.RLock()
            self._conn = self._open()

    def _connection(self) -> sqlite3.Connection:
        self._reset_if_forked()
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one write transaction (nested blocks join the outer one)."""
        self._reset_if_forked()
        with self._lock:
            conn = self._connection()
            if self._depth:
                self._depth += 1
                try:
                    yield conn
                finally:
                    self._depth -= 1
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise CannotRunError(
                    f"cannot write to the state store {self.path}: {exc}"
                ) from None
            self._depth = 1
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                self._depth = 0

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Hold the connection for several reads that must see one state (no write lock)."""
        self._reset_if_forked()
        with self._lock:
            conn = self._connection()
            if self._depth:
                yield conn
                return
            # A deferred transaction: one snapshot for every read of the block.
            conn.execute("BEGIN")
            self._depth = 1
            try:
                yield conn
            finally:
                self._depth = 0
                conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a read query and return all its rows."""
        self._reset_if_forked()
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the connection (in a forked child, the parent's is left to the parent)."""
        if os.getpid() != self._pid:
            return
        with self._lock:
            self._conn.close()


def _item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        channel=row["channel"],
        payload=json.loads(row["payload"]),
        created_at=row["created_at"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
        dedupe_key=row["dedupe_key"],
    )


_OUTBOX_COLUMNS = (
    "id, channel, dedupe_key, payload, created_at, attempts, next_attempt_at, last_error, "
    "delivered_at"
)


def _where(*conditions: tuple[str, Any], always: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """A ``WHERE`` clause of the ``(sql, value)`` conditions whose value is not None.

    ``sql`` holds one ``?`` for its value; ``always`` are conditions without a value.
    """
    parts = [sql for sql, value in conditions if value is not None]
    parts.extend(always)
    params = [value for _, value in conditions if value is not None]
    return (f"WHERE {' AND '.join(parts)}" if parts else ""), params


class SqliteStore(Store):
    """The SQLite state store (WAL mode), migrated to :data:`SCHEMA_VERSION` when opened."""

    def __init__(self, path: str | Path = DEFAULT_PATH, *, busy_timeout_seconds: float = 30.0):
        self.db = SqliteConnection(path, busy_timeout_seconds=busy_timeout_seconds)
        self._version = self._migrate()

    @classmethod
    def memory(cls) -> SqliteStore:
        """Open a private in-memory store (lost when closed): for tests and one-shot runs."""
        return cls(":memory:")

    @property
    def schema_version(self) -> int:
        """Return the schema version of the opened store."""
        return self._version

    def _migrate(self) -> int:
        with self.db.transaction() as conn:
            conn.execute(_META_DDL)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            current = int(row["value"]) if row else 0
            if current > SCHEMA_VERSION:
                raise CannotRunError(
                    f"the state store {self.db.path} has schema version {current}, newer than "
                    f"the {SCHEMA_VERSION} this plimsoll knows: upgrade plimsoll to use it"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                try:
                    for statement in MIGRATIONS[version]:
                        conn.execute(statement)
                except sqlite3.Error as exc:
                    # The surrounding transaction rolls back every version applied in this run.
                    raise CannotRunError(
                        f"migrating the state store {self.db.path} to schema version {version} "
                        f"failed: {exc}"
                    ) from exc
            if current != SCHEMA_VERSION:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(SCHEMA_VERSION),),
                )
        return SCHEMA_VERSION

    def ensure_part_schema(self, part: str, migrations: Sequence[Sequence[str]]) -> int:
        """Bring a part's own tables up to date (see :meth:`Store.ensure_part_schema`)."""
        key = f"schema.{part}"
        target = len(migrations)
        with self.db.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            current = int(row["value"]) if row else 0
            if current > target:
                raise CannotRunError(
                    f"the state store {self.db.path} holds {part} tables at version {current},"
                    f" newer than the {target} this plimsoll knows: upgrade plimsoll to use it"
                )
            for version in range(current, target):
                try:
                    for statement in migrations[version]:
                        conn.execute(statement)
                except sqlite3.Error as exc:
                    raise CannotRunError(
                        f"migrating the {part} tables of the state store {self.db.path} to"
                        f" version {version + 1} failed: {exc}"
                    ) from exc
            if current != target:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, str(target)),
                )
        return target

    def close(self) -> None:
        """Release the store's connection."""
        self.db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- outbox ---------------------------------------------------------------------------

    def outbox_add(
        self,
        channel: str,
        payload: Mapping[str, Any],
        *,
        now: float,
        next_attempt_at: float,
        attempts: int = 0,
        last_error: str | None = None,
        dedupe_key: str | None = None,
    ) -> int:
        """Keep ``payload`` for ``channel``; return its outbox id (see :meth:`Store.outbox_add`)."""
        text = json.dumps(dict(payload), sort_keys=True, default=str)
        with self.db.transaction() as conn:
            if dedupe_key is not None:
                row = conn.execute(
                    "SELECT id FROM outbox WHERE channel = ? AND dedupe_key = ? "
                    "AND delivered_at IS NULL ORDER BY id LIMIT 1",
                    (channel, dedupe_key),
                ).fetchone()
                if row is not None:
                    conn.execute(
                        "UPDATE outbox SET payload = ?, last_error = COALESCE(?, last_error), "
                        "next_attempt_at = MIN(next_attempt_at, ?) WHERE id = ?",
                        (text, last_error, next_attempt_at, row["id"]),
                    )
                    return int(row["id"])
            cursor = conn.execute(
                "INSERT INTO outbox (channel, dedupe_key, payload, created_at, attempts, "
                "next_attempt_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (channel, dedupe_key, text, now, attempts, next_attempt_at, last_error),
            )
            return int(cursor.lastrowid or 0)

    def outbox_claim(
        self,
        now: float,
        *,
        lease_seconds: float,
        channels: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[OutboxItem]:
        """Take the due undelivered items, oldest first, leasing them for ``lease_seconds``."""
        sql = (
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox "
            "WHERE delivered_at IS NULL AND next_attempt_at <= ?"
        )
        params: list[Any] = [now]
        if channels is not None:
            if not channels:
                return []
            sql += f" AND channel IN ({', '.join('?' for _ in channels)})"
            params.extend(channels)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        with self.db.transaction() as conn:
            rows = conn.execute(sql, params).fetchall()
            conn.executemany(
                "UPDATE outbox SET next_attempt_at = ? WHERE id = ?",
                [(now + lease_seconds, row["id"]) for row in rows],
            )
        return [_item(row) for row in rows]

    def outbox_delivered(self, item_id: int, now: float) -> None:
        """Mark an outbox item as delivered at ``now``."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE outbox SET delivered_at = ? WHERE id = ?", (now, item_id))

    def outbox_failed(self, item_id: int, *, error: str, next_attempt_at: float) -> None:
        """Record a failed attempt on an outbox item and when to try again."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                "WHERE id = ?",
                (error, next_attempt_at, item_id),
            )

    def outbox_postpone(self, item_id: int, next_attempt_at: float) -> None:
        """Move an item's next attempt without counting an attempt."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE id = ?", (next_attempt_at, item_id)
            )

    def outbox_supersede(self, channel: str, dedupe_key: str, now: float) -> int:
        """Retire the undelivered items of ``channel`` with ``dedupe_key``: a newer one went out."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE outbox SET delivered_at = ?, last_error = 'superseded by a newer message' "
                "WHERE channel = ? AND dedupe_key = ? AND delivered_at IS NULL",
                (now, channel, dedupe_key),
            )
            return cursor.rowcount

    def outbox_pending(self, channel: str | None = None) -> list[OutboxItem]:
        """Return the undelivered items, oldest first, optionally of one channel."""
        sql = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE delivered_at IS NULL"
        params: tuple[Any, ...] = ()
        if channel is not None:
            sql += " AND channel = ?"
            params = (channel,)
        return [_item(row) for row in self.db.query(sql + " ORDER BY id", params)]

    def outbox_get(self, item_id: int) -> OutboxItem | None:
        """Return one outbox item by id, or None."""
        rows = self.db.query(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE id = ?", (item_id,))
        return _item(rows[0]) if rows else None

    def outbox_purge(self, delivered_before: float) -> int:
        """Delete items delivered before ``delivered_before``; return how many went."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?",
                (delivered_before,),
            )
            return cursor.rowcount

    # --- circuit breaker ------------------------------------------------------------------

    def breaker_get(self, channel: str) -> BreakerState:
        """Return the breaker state of ``channel`` (closed with no failures when unknown)."""
        rows = self.db.query(
            "SELECT failures, opened_at FROM breaker WHERE channel = ?", (channel,)
        )
        if not rows:
            return BreakerState(channel)
        return BreakerState(channel, rows[0]["failures"], rows[0]["opened_at"])

    def breaker_failure(self, channel: str, *, now: float, threshold: int) -> BreakerState:
        """Count one more consecutive failure; open (or re-open) the breaker at ``threshold``."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO breaker (channel, failures) VALUES (?, 1) "
                "ON CONFLICT (channel) DO UPDATE SET failures = failures + 1",
                (channel,),
            )
            # Re-stamping opened_at on every failure past the threshold is what makes a failed
            # half-open trial open the breaker again for a full reset period.
            conn.execute(
                "UPDATE breaker SET opened_at = ? WHERE channel = ? AND failures >= ?",
                (now, channel, max(threshold, 1)),
            )
            row = conn.execute(
                "SELECT failures, opened_at FROM breaker WHERE channel = ?", (channel,)
            ).fetchone()
        return BreakerState(channel, row["failures"], row["opened_at"])

    def breaker_success(self, channel: str) -> None:
        """Close the breaker of ``channel`` and forget its failures."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM breaker WHERE channel = ?", (channel,))

    # --- migration runs -------------------------------------------------------------------

    def migration_run_add(self, run: MigrationRun) -> int:
        """Record one migration applied or reverted; return its id."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO migration_runs (database, version, name, direction, started_at,"
                " finished_at, duration_ms, outcome, error, server_version, tables)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.database,
                    run.version,
                    run.name,
                    run.direction,
                    run.started_at,
                    run.finished_at,
                    run.duration_ms,
                    run.outcome,
                    run.error,
                    run.server_version,
                    json.dumps([list(t) for t in run.tables]),
                ),
            )
            return int(cursor.lastrowid or 0)

    def migration_runs(self, database: str | None = None, limit: int = 1000) -> list[MigrationRun]:
        """The recorded runs, newest first (of one database when given)."""
        where, params = ("WHERE database = ?", (database,)) if database else ("", ())
        rows = self.db.query(
            f"SELECT * FROM migration_runs {where} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [
            MigrationRun(
                database=r["database"],
                version=r["version"],
                name=r["name"],
                direction=r["direction"],
                started_at=r["started_at"],
                finished_at=r["finished_at"],
                duration_ms=r["duration_ms"],
                outcome=r["outcome"],
                error=r["error"],
                server_version=r["server_version"],
                tables=tuple((name, size) for name, size in json.loads(r["tables"])),
                id=r["id"],
            )
            for r in rows
        ]

    # --- query baselines ------------------------------------------------------------------

    def baseline_record(
        self, baseline: QueryBaseline, samples: Sequence[QuerySample], *, append: bool = False
    ) -> QueryBaseline:
        """Store ``samples`` as the query's current baseline (see :meth:`Store.baseline_record`)."""
        now = baseline.updated_at
        with self.db.transaction() as conn:
            current = conn.execute(
                "SELECT id, metric FROM query_baselines WHERE database = ? AND query_key = ?"
                " AND superseded_at IS NULL ORDER BY id DESC LIMIT 1",
                (baseline.database, baseline.query_key),
            ).fetchone()
            # Samples of another metric (a time, a cost) cannot be pooled: start afresh.
            if append and current is not None and current["metric"] == baseline.metric:
                baseline_id = int(current["id"])
                conn.execute(
                    "UPDATE query_baselines SET updated_at = ?, query = ?,"
                    " name = COALESCE(?, name) WHERE id = ?",
                    (now, baseline.query, baseline.name, baseline_id),
                )
            else:
                if current is not None:
                    conn.execute(
                        "UPDATE query_baselines SET superseded_at = ? WHERE id = ?",
                        (now, current["id"]),
                    )
                cursor = conn.execute(
                    "INSERT INTO query_baselines (database, query_key, name, query, metric,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        baseline.database,
                        baseline.query_key,
                        baseline.name,
                        baseline.query,
                        baseline.metric,
                        baseline.created_at,
                        now,
                    ),
                )
                baseline_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO query_samples (baseline_id, recorded_at, value, execution_ms,"
                " planning_ms, total_cost, rows, shared_hit, shared_read, plan)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        baseline_id,
                        sample.recorded_at,
                        sample.value,
                        sample.execution_ms,
                        sample.planning_ms,
                        sample.total_cost,
                        sample.rows,
                        sample.shared_hit,
                        sample.shared_read,
                        json.dumps(dict(sample.plan), sort_keys=True, default=str),
                    )
                    for sample in samples
                ],
            )
            rows = conn.execute(
                "SELECT * FROM query_baselines WHERE id = ?", (baseline_id,)
            ).fetchall()
            return self._with_samples(conn, rows)[0]

    @staticmethod
    def _with_samples(conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[QueryBaseline]:
        """Baseline rows as QueryBaselines carrying their samples (one query for all samples)."""
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        samples: dict[int, list[QuerySample]] = {i: [] for i in ids}
        # Chunked: SQLite limits the number of parameters of one statement.
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for r in conn.execute(
                f"SELECT * FROM query_samples WHERE baseline_id IN ({', '.join('?' * len(chunk))})"
                " ORDER BY id",
                chunk,
            ):
                samples[r["baseline_id"]].append(
                    QuerySample(
                        recorded_at=r["recorded_at"],
                        value=r["value"],
                        execution_ms=r["execution_ms"],
                        planning_ms=r["planning_ms"],
                        total_cost=r["total_cost"],
                        rows=r["rows"],
                        shared_hit=r["shared_hit"],
                        shared_read=r["shared_read"],
                        plan=json.loads(r["plan"]),
                        id=r["id"],
                    )
                )
        return [
            QueryBaseline(
                database=row["database"],
                query_key=row["query_key"],
                query=row["query"],
                metric=row["metric"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                name=row["name"],
                superseded_at=row["superseded_at"],
                samples=tuple(samples[row["id"]]),
                id=row["id"],
            )
            for row in rows
        ]

    def baseline_get(self, database: str, query_key: str) -> QueryBaseline | None:
        """The current baseline of one query, with its samples, or None."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM query_baselines WHERE database = ? AND query_key = ?"
                " AND superseded_at IS NULL ORDER BY id DESC LIMIT 1",
                (database, query_key),
            ).fetchall()
            found = self._with_samples(conn, rows)
        return found[0] if found else None

    def baselines(
        self,
        database: str | None = None,
        *,
        query_key: str | None = None,
        include_superseded: bool = False,
    ) -> list[QueryBaseline]:
        """Baselines with their samples, by query then newest first (current ones by default)."""
        clause, params = _where(
            ("database = ?", database),
            ("query_key = ?", query_key),
            always=() if include_superseded else ("superseded_at IS NULL",),
        )
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT * FROM query_baselines {clause} ORDER BY database, query_key, id DESC",
                params,
            ).fetchall()
            return self._with_samples(conn, rows)

    def baseline_checks_add(self, checks: Sequence[BaselineCheck]) -> None:
        """Keep the verdicts of one regression check."""
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO baseline_checks (database, query_key, baseline_id, checked_at,"
                " status, improved, stale, metric, current, mean, stddev, low, high, samples,"
                " change, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        c.database,
                        c.query_key,
                        c.baseline_id,
                        c.checked_at,
                        c.status,
                        int(c.improved),
                        int(c.stale),
                        c.metric,
                        c.current,
                        c.mean,
                        c.stddev,
                        c.low,
                        c.high,
                        c.samples,
                        c.change,
                        c.message,
                    )
                    for c in checks
                ],
            )

    def baseline_checks(
        self, database: str | None = None, *, query_key: str | None = None, limit: int = 1000
    ) -> list[BaselineCheck]:
        """Past verdicts, newest first (of one database and one query when given)."""
        clause, params = _where(("database = ?", database), ("query_key = ?", query_key))
        rows = self.db.query(
            f"SELECT * FROM baseline_checks {clause} ORDER BY checked_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            BaselineCheck(
                database=r["database"],
                query_key=r["query_key"],
                checked_at=r["checked_at"],
                status=r["status"],
                metric=r["metric"],
                current=r["current"],
                baseline_id=r["baseline_id"],
                improved=bool(r["improved"]),
                stale=bool(r["stale"]),
                mean=r["mean"],
                stddev=r["stddev"],
                low=r["low"],
                high=r["high"],
                samples=r["samples"],
                change=r["change"],
                message=r["message"],
                id=r["id"],
            )
            for r in rows
        ]

    # --- operation timings ----------------------------------------------------------------

    def timings_add(self, timings: Sequence[OperationTiming]) -> None:
        """Keep how long some of plimsoll's own operations took."""
        if not timings:
            return
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO operation_timings (operation, seconds, recorded_at, ok)"
                " VALUES (?, ?, ?, ?)",
                [(t.operation, t.seconds, t.recorded_at, int(t.ok)) for t in timings],
            )

    def timings(
        self, operation: str | None = None, *, since: float | None = None
    ) -> list[OperationTiming]:
        """Recorded timings, oldest first (of one operation, from ``since``, when given)."""
        clause, params = _where(("operation = ?", operation), ("recorded_at >= ?", since))
        rows = self.db.query(
            f"SELECT * FROM operation_timings {clause} ORDER BY recorded_at, id", params
        )
        return [
            OperationTiming(
                operation=r["operation"],
                seconds=r["seconds"],
                recorded_at=r["recorded_at"],
                ok=bool(r["ok"]),
                id=r["id"],
            )
            for r in rows
        ]

    def timings_purge(self, before: float) -> int:
        """Delete timings recorded before ``before``; return how many went."""
        with self.db.transaction() as conn:
            cursor = conn.execute("DELETE FROM operation_timings WHERE recorded_at < ?", (before,))
            return cursor.rowcount


def open_store(
    path: str | Path = DEFAULT_PATH, *, url: str | None = None, root: Path | None = None
) -> Store:
    """Open the configured store: SQLite at ``path`` (relative to ``root``), or fail on a URL.

    A PostgreSQL ``url`` needs the PostgreSQL backend, which this version does not ship yet;
    saying so is better than silently writing to SQLite instead.
    """
    if url:
        raise ConfigError(
            "store.url: a PostgreSQL state store is not supported by this version of plimsoll; "
            "remove store.url to use the SQLite store at store.path"
        )
    target = Path(path)
    if root is not None and not target.is_absolute():
        target = root / target
    return SqliteStore(target)


def open_configured(settings: StoreConfig, root: Path) -> Store:
    """The store the ``store`` section of a configuration names, relative to the project root."""
    url = settings.url.get_secret_value() if settings.url is not None else None
    return open_store(settings.path, url=url, root=root)
