"""The PostgreSQL state store, used when ``store.url`` is set: queries over a PostgresConnection.

It keeps what the SQLite store keeps (the outbox, breakers, migration runs, baselines, checks,
timings and the parts' tables), in a schema of its own with its own versions
(:mod:`plimsoll.core.store.postgres_schema`). Several processes may share it: the outbox is
claimed with ``FOR UPDATE SKIP LOCKED``, a dedupe key is an atomic upsert on a unique index,
the breaker counts in one statement, and schema migrations (the store's and the parts') run
under a transaction-level advisory lock, so they happen once however many processes start.

The runtime parts that read and write their tables with SQLite SQL through ``store.db``
(samples, usage events, alerts, SLO events) do not run on it: see
:func:`plimsoll.core.store.sqlite.require_sqlite`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import psycopg
from psycopg import sql

from plimsoll.core.errors import CannotRunError
from plimsoll.core.store import postgres_schema as schema
from plimsoll.core.store import rows as _rows
from plimsoll.core.store.base import Store
from plimsoll.core.store.postgres_connection import (
    CONNECT_TIMEOUT_SECONDS,
    PgConn,
    PostgresConnection,
    lock_key,
)
from plimsoll.core.store.postgres_profiling import PostgresProfiling
from plimsoll.core.store.records import (
    BreakerState,
    MigrationRun,
    OutboxItem,
)
from plimsoll.core.store.sqlite import sqlite_needed, sqlite_needed_text

_META = schema.META_TABLE
# The outbox columns of a claim's UPDATE ... FROM due, qualified (``due`` has an id too).
_RETURNED = ", ".join(f"outbox.{c.strip()}" for c in _rows.OUTBOX_COLUMNS.split(","))
# syntax_error, feature_not_supported, undefined_object (an SQLite type or pragma): SQL that
# PostgreSQL does not speak.
_NOT_POSTGRES = frozenset({"42601", "0A000", "42704"})


def _not_postgres_hint(exc: psycopg.Error, part: str) -> str:
    """When a part's DDL is not PostgreSQL's (written for SQLite), say how to get SQLite back."""
    if exc.sqlstate not in _NOT_POSTGRES:
        return ""
    return f" ({sqlite_needed_text(part)})"


class PostgresStore(PostgresProfiling, Store):
    """The PostgreSQL state store at ``url``, migrated to its ``SCHEMA_VERSION`` when opened."""

    def __init__(self, url: str, *, connect_timeout: int = CONNECT_TIMEOUT_SECONDS) -> None:
        self.connection = PostgresConnection(url, connect_timeout=connect_timeout)
        try:
            self._version = self._migrate()
        except BaseException:
            self.connection.close()  # a store that cannot be used is not left connected
            raise

    @property
    def db(self) -> NoReturn:
        """Not here: ``store.db`` is the SQLite store's connection, for the SQLite-only parts.

        Raises the CannotRunError those parts would want to give: their tables need the SQLite
        store, and how to get it back.
        """
        raise sqlite_needed(self, "runtime")

    @property
    def schema(self) -> str:
        """The PostgreSQL schema holding the store's tables."""
        return self.connection.schema

    @property
    def schema_version(self) -> int:
        """Return the schema version of the opened store (the PostgreSQL store's own)."""
        return self._version

    def close(self) -> None:
        """Release the store's connection."""
        self.connection.close()

    # --- schema ---------------------------------------------------------------------------

    def _stored_version(self, conn: PgConn, key: str) -> int | None:
        """The version kept under ``key`` in the meta table (None: no meta table yet)."""
        exists = conn.execute(
            "SELECT to_regclass(%s::text) IS NOT NULL AS found", (f"{self.schema}.{_META}",)
        ).fetchone()
        if exists is None or not exists["found"]:
            return None
        row = conn.execute(f"SELECT value FROM {_META} WHERE key = %s", (key,)).fetchone()
        return int(row["value"]) if row else 0

    def _migrate(self) -> int:
        target = schema.SCHEMA_VERSION
        # Most opens find the schema current: read it without queueing on the lock.
        with self.connection.transaction() as conn:
            current = self._stored_version(conn, "schema_version")
        if current == target:
            return target
        with self.connection.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("schema", self.schema),))
            found = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
            ).fetchone()
            if found is None:
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
            conn.execute(schema.META_DDL)
            current = self._stored_version(conn, "schema_version") or 0
            if current > target:
                raise CannotRunError(
                    f"the {self.connection.label} has schema version {current}, newer than"
                    f" the {target} this plimsoll knows: upgrade plimsoll to use it"
                )
            for version in range(current + 1, target + 1):
                try:
                    for statement in schema.MIGRATIONS[version]:
                        conn.execute(statement)
                except psycopg.Error as exc:
                    # The surrounding transaction rolls back every version applied in this run.
                    raise CannotRunError(
                        f"migrating the {self.connection.label} to schema version {version}"
                        f" failed: {self.connection.reason(exc)}"
                    ) from exc
            self._set_version(conn, "schema_version", target)
        return target

    @staticmethod
    def _set_version(conn: PgConn, key: str, version: int) -> None:
        conn.execute(
            f"INSERT INTO {_META} (key, value) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(version)),
        )

    def ensure_part_schema(self, part: str, migrations: Sequence[Sequence[str]]) -> int:
        """Bring a part's own tables up to date (see :meth:`Store.ensure_part_schema`).

        The statements run as written, in the store's schema: a part shared by both backends
        writes them in SQL both accept.
        """
        key = f"schema.{part}"
        target = len(migrations)
        with self.connection.transaction() as conn:
            current = self._stored_version(conn, key) or 0
            if current == target:
                return target
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("part", self.schema, part),))
            current = self._stored_version(conn, key) or 0
            if current > target:
                raise CannotRunError(
                    f"the {self.connection.label} holds {part} tables at version {current},"
                    f" newer than the {target} this plimsoll knows: upgrade plimsoll to use it"
                )
            for version in range(current, target):
                try:
                    for statement in migrations[version]:
                        conn.execute(statement)
                except psycopg.Error as exc:
                    raise CannotRunError(
                        f"migrating the {part} tables of the {self.connection.label} to"
                        f" version {version + 1} failed: {self.connection.reason(exc)}"
                        f"{_not_postgres_hint(exc, part)}"
                    ) from exc
            if current != target:
                self._set_version(conn, key, target)
        return target

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
        insert = (
            "INSERT INTO outbox (channel, dedupe_key, payload, created_at, attempts,"
            " next_attempt_at, last_error) VALUES (%s, %s, %s::jsonb, %s, %s, %s, %s)"
        )
        if dedupe_key is not None:
            # The unique index on undelivered (channel, dedupe_key) makes this one atomic
            # statement, however many processes queue the same key at once.
            insert += (
                " ON CONFLICT (channel, dedupe_key)"
                " WHERE delivered_at IS NULL AND dedupe_key IS NOT NULL"
                " DO UPDATE SET payload = excluded.payload,"
                " last_error = COALESCE(excluded.last_error, outbox.last_error),"
                " next_attempt_at = LEAST(outbox.next_attempt_at, excluded.next_attempt_at)"
            )
        with self.connection.transaction() as conn:
            row = conn.execute(
                insert + " RETURNING id",
                (channel, dedupe_key, text, now, attempts, next_attempt_at, last_error),
            ).fetchone()
        assert row is not None
        return int(row["id"])

    def outbox_claim(
        self,
        now: float,
        *,
        lease_seconds: float,
        channels: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[OutboxItem]:
        """Take the due undelivered items, oldest first, leasing them for ``lease_seconds``.

        ``FOR UPDATE SKIP LOCKED``: rows another claimer is leasing are passed over rather than
        waited for, and a row it leased meanwhile is no longer due when re-checked.
        """
        if channels is not None and not channels:
            return []
        due = "delivered_at IS NULL AND next_attempt_at <= %s"
        params: list[Any] = [now]
        if channels is not None:
            due += " AND channel = ANY(%s)"
            params.append(list(channels))
        params += [limit, now + lease_seconds]
        with self.connection.transaction() as conn:
            found = conn.execute(
                f"WITH due AS (SELECT id, next_attempt_at AS was_due FROM outbox WHERE {due}"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
                f" UPDATE outbox SET next_attempt_at = %s FROM due WHERE outbox.id = due.id"
                f" RETURNING {_RETURNED}, due.was_due",
                params,
            ).fetchall()
        found.sort(key=lambda row: row["id"])
        # As the SQLite store does: the items as they were when claimed, not as leased.
        return [_rows.outbox_item(row, next_attempt_at=row["was_due"]) for row in found]

    def outbox_delivered(self, item_id: int, now: float) -> None:
        """Mark an outbox item as delivered at ``now``."""
        with self.connection.transaction() as conn:
            conn.execute("UPDATE outbox SET delivered_at = %s WHERE id = %s", (now, item_id))

    def outbox_failed(self, item_id: int, *, error: str, next_attempt_at: float) -> None:
        """Record a failed attempt on an outbox item and when to try again."""
        with self.connection.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = %s,"
                " next_attempt_at = %s WHERE id = %s",
                (error, next_attempt_at, item_id),
            )

    def outbox_postpone(self, item_id: int, next_attempt_at: float) -> None:
        """Move an item's next attempt without counting an attempt."""
        with self.connection.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET next_attempt_at = %s WHERE id = %s", (next_attempt_at, item_id)
            )

    def outbox_supersede(self, channel: str, dedupe_key: str, now: float) -> int:
        """Retire the undelivered items of ``channel`` with ``dedupe_key``: a newer one went out."""
        with self.connection.transaction() as conn:
            cursor = conn.execute(
                "UPDATE outbox SET delivered_at = %s,"
                " last_error = 'superseded by a newer message'"
                " WHERE channel = %s AND dedupe_key = %s AND delivered_at IS NULL",
                (now, channel, dedupe_key),
            )
            return cursor.rowcount

    def outbox_pending(self, channel: str | None = None) -> list[OutboxItem]:
        """Return the undelivered items, oldest first, optionally of one channel."""
        clause, params = _rows.where(("channel = %s", channel), always=("delivered_at IS NULL",))
        found = self.connection.query(
            f"SELECT {_rows.OUTBOX_COLUMNS} FROM outbox {clause} ORDER BY id", params
        )
        return [_rows.outbox_item(row) for row in found]

    def outbox_get(self, item_id: int) -> OutboxItem | None:
        """Return one outbox item by id, or None."""
        found = self.connection.query(
            f"SELECT {_rows.OUTBOX_COLUMNS} FROM outbox WHERE id = %s", (item_id,)
        )
        return _rows.outbox_item(found[0]) if found else None

    def outbox_purge(self, delivered_before: float) -> int:
        """Delete items delivered before ``delivered_before``; return how many went."""
        with self.connection.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < %s",
                (delivered_before,),
            )
            return cursor.rowcount

    # --- circuit breaker ------------------------------------------------------------------

    def breaker_get(self, channel: str) -> BreakerState:
        """Return the breaker state of ``channel`` (closed with no failures when unknown)."""
        found = self.connection.query(
            "SELECT failures, opened_at FROM breaker WHERE channel = %s", (channel,)
        )
        if not found:
            return BreakerState(channel)
        return BreakerState(channel, found[0]["failures"], found[0]["opened_at"])

    def breaker_failure(self, channel: str, *, now: float, threshold: int) -> BreakerState:
        """Count one more consecutive failure; open (or re-open) the breaker at ``threshold``."""
        threshold = max(threshold, 1)
        with self.connection.transaction() as conn:
            # One statement, so concurrent failures each count. Re-stamping opened_at on every
            # failure past the threshold is what makes a failed half-open trial open the
            # breaker again for a full reset period.
            row = conn.execute(
                "INSERT INTO breaker AS b (channel, failures, opened_at)"
                " VALUES (%s, 1, CASE WHEN 1 >= %s THEN %s::double precision END)"
                " ON CONFLICT (channel) DO UPDATE SET failures = b.failures + 1,"
                " opened_at = CASE WHEN b.failures + 1 >= %s THEN %s ELSE b.opened_at END"
                " RETURNING failures, opened_at",
                (channel, threshold, now, threshold, now),
            ).fetchone()
        assert row is not None
        return BreakerState(channel, row["failures"], row["opened_at"])

    def breaker_success(self, channel: str) -> None:
        """Close the breaker of ``channel`` and forget its failures."""
        with self.connection.transaction() as conn:
            conn.execute("DELETE FROM breaker WHERE channel = %s", (channel,))

    # --- migration runs -------------------------------------------------------------------

    def migration_run_add(self, run: MigrationRun) -> int:
        """Record one migration applied or reverted; return its id."""
        with self.connection.transaction() as conn:
            row = conn.execute(
                "INSERT INTO migration_runs (database, version, name, direction, started_at,"
                " finished_at, duration_ms, outcome, error, server_version, tables)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb) RETURNING id",
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
            ).fetchone()
        assert row is not None
        return int(row["id"])

    def migration_runs(self, database: str | None = None, limit: int = 1000) -> list[MigrationRun]:
        """The recorded runs, newest first (of one database when given)."""
        clause, params = _rows.where(("database = %s", database or None))
        found = self.connection.query(
            f"SELECT * FROM migration_runs {clause} ORDER BY id DESC LIMIT %s", (*params, limit)
        )
        return [_rows.migration_run(row) for row in found]
