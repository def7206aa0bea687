"""The SQLite state store (WAL mode): the queries, over a :class:`SqliteConnection`.

Safe across threads (one connection per store, serialised by a lock) and across processes (WAL,
a busy timeout, and every write in a ``BEGIN IMMEDIATE`` transaction).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from plimsoll.core.errors import CannotRunError
from plimsoll.core.store import rows as _rows
from plimsoll.core.store import sqlite_schema as schema
from plimsoll.core.store.base import DEFAULT_PATH, Store
from plimsoll.core.store.records import (
    BreakerState,
    MigrationRun,
    OutboxItem,
)
from plimsoll.core.store.sqlite_connection import SqliteConnection
from plimsoll.core.store.sqlite_profiling import SqliteProfiling


class SqliteStore(SqliteProfiling, Store):
    """The SQLite state store (WAL mode), migrated to its ``SCHEMA_VERSION`` when opened."""

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
            conn.execute(schema.META_DDL)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            current = int(row["value"]) if row else 0
            target = schema.SCHEMA_VERSION
            if current > target:
                raise CannotRunError(
                    f"the state store {self.db.path} has schema version {current}, newer than "
                    f"the {target} this plimsoll knows: upgrade plimsoll to use it"
                )
            for version in range(current + 1, target + 1):
                try:
                    for statement in schema.MIGRATIONS[version]:
                        conn.execute(statement)
                except sqlite3.Error as exc:
                    # The surrounding transaction rolls back every version applied in this run.
                    raise CannotRunError(
                        f"migrating the state store {self.db.path} to schema version {version} "
                        f"failed: {exc}"
                    ) from exc
            if current != target:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(target),),
                )
        return target

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
        text = _rows.payload_json(payload)
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
            f"SELECT {_rows.OUTBOX_COLUMNS} FROM outbox "
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
        return [_rows.outbox_item(row) for row in rows]

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
        sql = f"SELECT {_rows.OUTBOX_COLUMNS} FROM outbox WHERE delivered_at IS NULL"
        params: tuple[Any, ...] = ()
        if channel is not None:
            sql += " AND channel = ?"
            params = (channel,)
        return [_rows.outbox_item(row) for row in self.db.query(sql + " ORDER BY id", params)]

    def outbox_get(self, item_id: int) -> OutboxItem | None:
        """Return one outbox item by id, or None."""
        rows = self.db.query(f"SELECT {_rows.OUTBOX_COLUMNS} FROM outbox WHERE id = ?", (item_id,))
        return _rows.outbox_item(rows[0]) if rows else None

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
                    _rows.tables_json(run),
                ),
            )
            return int(cursor.lastrowid or 0)

    def migration_runs(self, database: str | None = None, limit: int = 1000) -> list[MigrationRun]:
        """The recorded runs, newest first (of one database when given)."""
        where, params = ("WHERE database = ?", (database,)) if database else ("", ())
        rows = self.db.query(
            f"SELECT * FROM migration_runs {where} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [_rows.migration_run(r) for r in rows]


def sqlite_needed_text(tables: str) -> str:
    """Why the ``tables`` of a part cannot live in a non-SQLite store, and how to fix it."""
    return (
        f"the {tables} tables need the SQLite state store, and store.url selects PostgreSQL:"
        f" remove url from [tool.plimsoll.store] to use the SQLite store at store.path"
        f" ({DEFAULT_PATH} by default)"
    )


def sqlite_needed(store: Store, tables: str) -> CannotRunError:
    """The error for a part whose ``tables`` need the SQLite store, given ``store`` instead."""
    if type(store).__name__ == "PostgresStore":
        return CannotRunError(sqlite_needed_text(tables))
    return CannotRunError(
        f"the {tables} tables need the SQLite state store, not {type(store).__name__}"
    )


def require_sqlite(store: Store, tables: str) -> SqliteStore:
    """``store`` when it is the SQLite store; else CannotRunError saying how to get one.

    For the parts whose ``tables`` are read and written with SQLite SQL through ``store.db``
    (runtime samples and usage events, alerts, SLO events, usage analytics): a ``store.url``
    (PostgreSQL) replaces the SQLite store they need.
    """
    if isinstance(store, SqliteStore):
        return store
    raise sqlite_needed(store, tables)
