"""The store's queries, written once for every backend: schema versions, outbox, breakers, runs.

:class:`SqlStore` holds the logic; a backend (:class:`~plimsoll.core.store.sqlite.SqliteStore`,
:class:`~plimsoll.core.store.postgres.PostgresStore`) supplies only the seam: its connection
(which speaks the ``?`` placeholders, see :mod:`plimsoll.core.store.seam`), its schema
module, how it names itself in messages, and its concurrency: PostgreSQL serialises writers
with advisory locks and ``FOR UPDATE SKIP LOCKED`` and dedupes the outbox with an upsert on a
unique index, while SQLite's single writer (``BEGIN IMMEDIATE``) needs none of that.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, ClassVar

from plimsoll.core.errors import CannotRunError
from plimsoll.core.store import rows as _rows
from plimsoll.core.store.base import Store
from plimsoll.core.store.profiling import SqlProfiling
from plimsoll.core.store.records import BreakerState, MigrationRun, OutboxItem
from plimsoll.core.store.seam import SqlConn, returned_id

# An outbox item still to deliver: neither delivered nor given up.
_LIVE = "delivered_at IS NULL AND dead_at IS NULL"


class SqlStore(SqlProfiling, Store):
    """A state store over SQL: every query of :class:`Store`, over a backend's small seam."""

    # The backend's schema module (its SCHEMA_VERSION and MIGRATIONS, read when migrating),
    # and its key/value meta table.
    _SCHEMA: ClassVar[ModuleType]
    _META: ClassVar[str]
    # The driver's errors, turned into CannotRunError when a migration fails.
    _ERRORS: ClassVar[tuple[type[Exception], ...]]
    # Appended to the outbox claim's SELECT: how rows another claimer holds are passed over.
    _LOCK_ROWS: ClassVar[str] = ""
    # The ON CONFLICT clause that makes a dedupe key one atomic upsert (on a unique index);
    # None: look for the undelivered item first, which only a single writer makes safe.
    _OUTBOX_KEY_CONFLICT: ClassVar[str | None] = None

    # Set by the backend's __init__: the schema version _migrate brought the store to.
    _version: int

    @property
    def schema_version(self) -> int:
        """Return the schema version of the opened store (each backend has its own)."""
        return self._version

    def close(self) -> None:
        """Release the store's connection."""
        self._connection.close()

    @property
    @abstractmethod
    def _name(self) -> str:
        """The store as messages name it (never with a password)."""

    @abstractmethod
    def _meta_exists(self, conn: SqlConn) -> bool:
        """Whether the meta table exists yet."""

    @abstractmethod
    def _prepare(self, conn: SqlConn) -> None:
        """Before migrating the store's schema: lock out other migrators, create the meta table."""

    @abstractmethod
    def _reason(self, exc: Exception, part: str | None = None) -> str:
        """A driver error of a migration (of ``part``'s tables, when given) as message text."""

    # --- schema ---------------------------------------------------------------------------

    def _stored_version(self, conn: SqlConn, key: str) -> int | None:
        """The version kept under ``key`` in the meta table (None: no meta table yet)."""
        if not self._meta_exists(conn):
            return None
        row = conn.execute(f"SELECT value FROM {self._META} WHERE key = ?", (key,)).fetchone()
        return int(row["value"]) if row else 0

    def _set_version(self, conn: SqlConn, key: str, version: int) -> None:
        conn.execute(
            f"INSERT INTO {self._META} (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(version)),
        )

    def _migrate(self) -> int:
        """Bring the store's own schema to its ``SCHEMA_VERSION``; return it."""
        target: int = self._SCHEMA.SCHEMA_VERSION
        # Most opens find the schema current: read it without queueing for the write lock.
        with self._connection.read() as conn:
            if self._stored_version(conn, "schema_version") == target:
                return target
        with self._connection.transaction() as conn:
            self._prepare(conn)
            current = self._stored_version(conn, "schema_version") or 0
            if current > target:
                raise CannotRunError(
                    f"the {self._name} has schema version {current}, newer than"
                    f" the {target} this plimsoll knows: upgrade plimsoll to use it"
                )
            for version in range(current + 1, target + 1):
                try:
                    for statement in self._SCHEMA.MIGRATIONS[version]:
                        conn.execute(statement)
                except self._ERRORS as exc:
                    # The surrounding transaction rolls back every version applied in this run.
                    raise CannotRunError(
                        f"migrating the {self._name} to schema version {version}"
                        f" failed: {self._reason(exc)}"
                    ) from exc
            if current != target:
                self._set_version(conn, "schema_version", target)
        return target

    def ensure_part_schema(self, part: str, migrations: Sequence[Sequence[str]]) -> int:
        """Bring a part's own tables up to date (see :meth:`Store.ensure_part_schema`).

        The statements run as written: a part shared by both backends writes them in SQL
        both accept.
        """
        key = f"schema.{part}"
        target = len(migrations)
        with self._connection.transaction() as conn:
            if (self._stored_version(conn, key) or 0) == target:
                return target
            self._lock(conn, "part", part)
            current = self._stored_version(conn, key) or 0
            if current > target:
                raise CannotRunError(
                    f"the {self._name} holds {part} tables at version {current},"
                    f" newer than the {target} this plimsoll knows: upgrade plimsoll to use it"
                )
            for version in range(current, target):
                try:
                    for statement in migrations[version]:
                        conn.execute(statement)
                except self._ERRORS as exc:
                    raise CannotRunError(
                        f"migrating the {part} tables of the {self._name} to"
                        f" version {version + 1} failed: {self._reason(exc, part)}"
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
            " next_attempt_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        with self._connection.transaction() as conn:
            if dedupe_key is not None and self._OUTBOX_KEY_CONFLICT is None:
                row = conn.execute(
                    "SELECT id, next_attempt_at FROM outbox WHERE channel = ?"
                    f" AND dedupe_key = ? AND {_LIVE} ORDER BY id LIMIT 1",
                    (channel, dedupe_key),
                ).fetchone()
                if row is not None:
                    conn.execute(
                        "UPDATE outbox SET payload = ?, last_error = COALESCE(?, last_error),"
                        " next_attempt_at = ? WHERE id = ?",
                        (text, last_error, min(row["next_attempt_at"], next_attempt_at), row["id"]),
                    )
                    return int(row["id"])
            if dedupe_key is not None and self._OUTBOX_KEY_CONFLICT is not None:
                insert += self._OUTBOX_KEY_CONFLICT
            cursor = conn.execute(
                insert + " RETURNING id",
                (channel, dedupe_key, text, now, attempts, next_attempt_at, last_error),
            )
            return returned_id(cursor)

    def outbox_claim(
        self,
        now: float,
        *,
        lease_seconds: float,
        channels: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[OutboxItem]:
        """Take the due live items, oldest first, leasing them for ``lease_seconds``.

        First in, first out per channel: an item is taken only while every older live item
        of its channel is due too (and taken with it), so an item waiting for its retry, or
        leased by another claimer, holds the later ones back. The rows are read and leased in
        one transaction; on PostgreSQL claimers take turns (an advisory lock), since two
        claiming at once would each see the other's items as due and free.
        """
        if channels is not None and not channels:
            return []
        sql, params = self._claim_query(now, channels, limit)
        with self._connection.transaction() as conn:
            self._lock(conn, "outbox")
            found = conn.execute(sql, params).fetchall()
            if found:
                conn.executemany(
                    "UPDATE outbox SET next_attempt_at = ? WHERE id = ?",
                    [(now + lease_seconds, row["id"]) for row in found],
                )
        # The items as they were when claimed, not as leased.
        return [_rows.outbox_item(row) for row in found]

    def _claim_query(
        self, now: float, channels: Sequence[str] | None, limit: int
    ) -> tuple[str, list[Any]]:
        """The claim's SELECT and its parameters (apart, so its plan can be looked at)."""
        # Per channel, the first live item that is not due: it and every later one wait. One
        # pass over the items not due (few, but for a channel that is down) rather than a
        # look at each candidate's elders, which grows with the square of a backlog.
        held = (
            "WITH held AS (SELECT channel, MIN(id) AS first FROM outbox"
            f" WHERE {_LIVE} AND next_attempt_at > ? GROUP BY channel)"
        )
        columns = ", ".join(f"o.{c.strip()}" for c in _rows.OUTBOX_COLUMNS.split(","))
        sql = (
            f"{held} SELECT {columns} FROM outbox AS o LEFT JOIN held AS h"
            " ON h.channel = o.channel WHERE o.delivered_at IS NULL AND o.dead_at IS NULL"
            " AND o.next_attempt_at <= ? AND (h.first IS NULL OR o.id < h.first)"
        )
        params: list[Any] = [now, now]
        if channels is not None:
            sql += f" AND o.channel IN ({', '.join('?' * len(channels))})"
            params.extend(channels)
        params.append(limit)
        return f"{sql} ORDER BY o.id LIMIT ?{self._LOCK_ROWS}", params

    def outbox_delivered(self, item_id: int, now: float) -> None:
        """Mark an outbox item as delivered at ``now``."""
        with self._connection.transaction() as conn:
            conn.execute("UPDATE outbox SET delivered_at = ? WHERE id = ?", (now, item_id))

    def outbox_failed(self, item_id: int, *, error: str, next_attempt_at: float) -> None:
        """Record a failed attempt on an outbox item and when to try again."""
        with self._connection.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " WHERE id = ?",
                (error, next_attempt_at, item_id),
            )

    def outbox_postpone(self, item_id: int, next_attempt_at: float) -> None:
        """Move an item's next attempt without counting an attempt."""
        with self._connection.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE id = ?", (next_attempt_at, item_id)
            )

    def outbox_supersede(self, channel: str, dedupe_key: str, now: float) -> int:
        """Retire the undelivered items of ``channel`` with ``dedupe_key``: a newer one went out."""
        with self._connection.transaction() as conn:
            cursor = conn.execute(
                "UPDATE outbox SET delivered_at = ?, last_error = 'superseded by a newer message'"
                f" WHERE channel = ? AND dedupe_key = ? AND {_LIVE}",
                (now, channel, dedupe_key),
            )
            return int(cursor.rowcount)

    def outbox_give_up(self, item_id: int, *, now: float, error: str) -> None:
        """Stop trying an item: it is kept (with why) but no longer holds its channel back."""
        with self._connection.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET dead_at = ?, last_error = ? WHERE id = ?",
                (now, error, item_id),
            )

    def outbox_revive(self, item_id: int, *, next_attempt_at: float, error: str) -> None:
        """Undo :meth:`outbox_give_up`: the item is live again (its last error ``error``),
        due at ``next_attempt_at``."""
        with self._connection.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET dead_at = NULL, next_attempt_at = ?, last_error = ?"
                " WHERE id = ?",
                (next_attempt_at, error, item_id),
            )

    def outbox_pending(self, channel: str | None = None) -> list[OutboxItem]:
        """Return the live items (neither delivered nor given up), oldest first."""
        clause, params = _rows.where(("channel = ?", channel), always=(_LIVE,))
        found = self._connection.query(
            f"SELECT {_rows.OUTBOX_COLUMNS} FROM outbox {clause} ORDER BY id", params
        )
        return [_rows.outbox_item(row) for row in found]

    def outbox_head(self, channel: str) -> OutboxItem | None:
        """Return the oldest live item of ``channel`` (the next to go out), or None."""
        found = self._connection.query(
            f"SELECT {_rows.OUTBOX_COLUMNS} FROM outbox WHERE channel = ? AND {_LIVE}"
            " ORDER BY id LIMIT 1",
            (channel,),
        )
        return _rows.outbox_item(found[0]) if found else None

    def outbox_given_up(self, channel: str | None = None) -> list[OutboxItem]:
        """Return the items given up (not yet purged), oldest first."""
        clause, params = _rows.where(
            ("channel = ?", channel), always=("delivered_at IS NULL", "dead_at IS NOT NULL")
        )
        found = self._connection.query(
            f"SELECT {_rows.OUTBOX_COLUMNS} FROM outbox {clause} ORDER BY id", params
        )
        return [_rows.outbox_item(row) for row in found]

    def outbox_get(self, item_id: int) -> OutboxItem | None:
        """Return one outbox item by id, or None."""
        found = self._connection.query(
            f"SELECT {_rows.OUTBOX_COLUMNS} FROM outbox WHERE id = ?", (item_id,)
        )
        return _rows.outbox_item(found[0]) if found else None

    def outbox_purge(self, delivered_before: float) -> int:
        """Delete items delivered (or given up) before ``delivered_before``; return how many."""
        with self._connection.transaction() as conn:
            delivered = conn.execute(
                "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?",
                (delivered_before,),
            ).rowcount
            dead = conn.execute(
                "DELETE FROM outbox WHERE dead_at IS NOT NULL AND dead_at < ?",
                (delivered_before,),
            ).rowcount
            return int(delivered) + int(dead)

    # --- circuit breaker ------------------------------------------------------------------

    def breaker_get(self, channel: str) -> BreakerState:
        """Return the breaker state of ``channel`` (closed with no failures when unknown)."""
        found = self._connection.query(
            "SELECT failures, opened_at FROM breaker WHERE channel = ?", (channel,)
        )
        if not found:
            return BreakerState(channel)
        return BreakerState(channel, found[0]["failures"], found[0]["opened_at"])

    def breaker_failure(self, channel: str, *, now: float, threshold: int) -> BreakerState:
        """Count one more consecutive failure; open (or re-open) the breaker at ``threshold``."""
        threshold = max(threshold, 1)
        with self._connection.transaction() as conn:
            # One statement, so concurrent failures each count. Re-stamping opened_at on every
            # failure past the threshold is what makes a failed half-open trial open the
            # breaker again for a full reset period.
            cursor = conn.execute(
                "INSERT INTO breaker AS b (channel, failures, opened_at)"
                " VALUES (?, 1, CASE WHEN 1 >= ? THEN CAST(? AS double precision) END)"
                " ON CONFLICT (channel) DO UPDATE SET failures = b.failures + 1,"
                " opened_at = CASE WHEN b.failures + 1 >= ? THEN ? ELSE b.opened_at END"
                " RETURNING failures, opened_at",
                (channel, threshold, now, threshold, now),
            )
            row = cursor.fetchall()[0]
        return BreakerState(channel, row["failures"], row["opened_at"])

    def breaker_success(self, channel: str) -> None:
        """Close the breaker of ``channel`` and forget its failures."""
        with self._connection.transaction() as conn:
            conn.execute("DELETE FROM breaker WHERE channel = ?", (channel,))

    # --- migration runs -------------------------------------------------------------------

    def migration_run_add(self, run: MigrationRun) -> int:
        """Record one migration applied or reverted; return its id."""
        with self._connection.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO migration_runs (database, version, name, direction, started_at,"
                " finished_at, duration_ms, outcome, error, server_version, tables)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
            return returned_id(cursor)

    def migration_runs(self, database: str | None = None, limit: int = 1000) -> list[MigrationRun]:
        """The recorded runs, newest first (of one database when given)."""
        clause, params = _rows.where(("database = ?", database or None))
        found = self._connection.query(
            f"SELECT * FROM migration_runs {clause} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [_rows.migration_run(row) for row in found]
