"""The PostgreSQL state store, used when ``store.url`` is set: the shared queries over psycopg.

It keeps what the SQLite store keeps (the outbox, breakers, migration runs, baselines, checks,
timings and the parts' tables), in a schema of its own with its own versions
(:mod:`plimsoll.core.store.postgres_schema`). Several processes may share it, so its seam of
:class:`~plimsoll.core.store.queries.SqlStore` brings the concurrency: the outbox is claimed
with ``FOR UPDATE SKIP LOCKED``, a dedupe key is an atomic upsert on a unique index, and
schema migrations (the store's and the parts'), like the recording of a query's baseline, run
under a transaction-level advisory lock, so they happen once however many processes start.

The runtime parts (samples, usage events, alerts, SLO events) keep their tables here too,
with PostgreSQL DDL of their own, through :func:`plimsoll.core.store.parts.part_sql`.
"""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar, NoReturn

import psycopg
from psycopg import sql

from plimsoll.core.errors import CannotRunError
from plimsoll.core.store import postgres_schema as schema
from plimsoll.core.store.postgres_connection import (
    CONNECT_TIMEOUT_SECONDS,
    PostgresConnection,
    QmarkConnection,
    lock_key,
)
from plimsoll.core.store.queries import SqlStore
from plimsoll.core.store.seam import SqlConn, StoreConnection
from plimsoll.core.store.sqlite import sqlite_needed_text

# syntax_error, feature_not_supported, undefined_object (an SQLite type or pragma): SQL that
# PostgreSQL does not speak.
_NOT_POSTGRES = frozenset({"42601", "0A000", "42704"})


class PostgresStore(SqlStore):
    """The PostgreSQL state store at ``url``, migrated to its ``SCHEMA_VERSION`` when opened."""

    _SCHEMA: ClassVar[ModuleType] = schema
    _META = schema.META_TABLE
    _ERRORS: ClassVar[tuple[type[Exception], ...]] = (psycopg.Error,)
    # Claimers take turns (an advisory lock, for the first in, first out order per channel);
    # rows another statement holds are passed over rather than waited for, and a row leased
    # meanwhile is no longer due when re-checked.
    _LOCK_ROWS = " FOR UPDATE OF o SKIP LOCKED"
    # The unique index on live (channel, dedupe_key) makes queueing a key one atomic
    # statement, however many processes queue the same key at once.
    _OUTBOX_KEY_CONFLICT = (
        " ON CONFLICT (channel, dedupe_key)"
        " WHERE delivered_at IS NULL AND dead_at IS NULL AND dedupe_key IS NOT NULL"
        " DO UPDATE SET payload = excluded.payload,"
        " last_error = COALESCE(excluded.last_error, outbox.last_error),"
        " next_attempt_at = LEAST(outbox.next_attempt_at, excluded.next_attempt_at)"
    )
    # Byte order, as SQLite sorts: the same listing whatever the database's collation.
    _BYTE_ORDER = ' COLLATE "C"'

    def __init__(self, url: str, *, connect_timeout: int = CONNECT_TIMEOUT_SECONDS) -> None:
        self.connection = PostgresConnection(url, connect_timeout=connect_timeout)
        try:
            self._version = self._migrate()
        except BaseException:
            self.connection.close()  # a store that cannot be used is not left connected
            raise

    @property
    def db(self) -> NoReturn:
        """Not here: ``store.db`` is the SQLite store's connection (parts use ``part_sql``).

        Code written for SQLite alone (a third party's part) gets a CannotRunError saying what
        to use instead, or how to get the SQLite store back.
        """
        raise CannotRunError(
            "store.db is the SQLite state store's connection and store.url selects PostgreSQL:"
            " reach a part's tables through plimsoll.core.store.parts.part_sql(store), or remove"
            " url from [tool.plimsoll.store] to use the SQLite store"
        )

    @property
    def schema(self) -> str:
        """The PostgreSQL schema holding the store's tables."""
        return self.connection.schema

    # --- the seam of the shared queries ---------------------------------------------------

    @property
    def _connection(self) -> StoreConnection:
        return self.connection

    @property
    def _name(self) -> str:
        return self.connection.label

    def _lock(self, conn: SqlConn, *key: str) -> None:
        """A transaction-level advisory lock on ``key`` in the store's schema."""
        conn.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(key[0], self.schema, *key[1:]),))

    def _meta_exists(self, conn: SqlConn) -> bool:
        found = conn.execute(
            "SELECT to_regclass(CAST(? AS text)) IS NOT NULL AS found",
            (f"{self.schema}.{self._META}",),
        ).fetchone()
        return found is not None and bool(found["found"])

    def _prepare(self, conn: SqlConn) -> None:
        self._lock(conn, "schema")
        found = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = ?", (self.schema,)
        ).fetchone()
        if found is None:
            assert isinstance(conn, QmarkConnection)  # the connection of this store
            conn.raw.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        conn.execute(schema.META_DDL)

    def _reason(self, exc: Exception, part: str | None = None) -> str:
        reason = self.connection.reason(exc) if isinstance(exc, psycopg.Error) else str(exc)
        if part is not None and isinstance(exc, psycopg.Error) and exc.sqlstate in _NOT_POSTGRES:
            # A part's DDL written for SQLite: say how to get SQLite back.
            reason += f" ({sqlite_needed_text(part)})"
        return reason
