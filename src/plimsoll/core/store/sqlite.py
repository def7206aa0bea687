"""The SQLite state store (WAL mode): the shared queries over a :class:`SqliteConnection`.

Safe across threads (one connection per store, serialised by a lock) and across processes (WAL,
a busy timeout, and every write in a ``BEGIN IMMEDIATE`` transaction). That single writer is
all the concurrency the queries need here: no row locks, and the outbox dedupe looks first.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import ModuleType
from typing import ClassVar

from plimsoll.core.errors import CannotRunError
from plimsoll.core.store import sqlite_schema as schema
from plimsoll.core.store.base import DEFAULT_PATH, Store
from plimsoll.core.store.queries import SqlStore
from plimsoll.core.store.seam import SqlConn, StoreConnection
from plimsoll.core.store.sqlite_connection import SqliteConnection


class SqliteStore(SqlStore):
    """The SQLite state store (WAL mode), migrated to its ``SCHEMA_VERSION`` when opened."""

    _SCHEMA: ClassVar[ModuleType] = schema
    _META = "meta"
    _ERRORS: ClassVar[tuple[type[Exception], ...]] = (sqlite3.Error,)

    def __init__(self, path: str | Path = DEFAULT_PATH, *, busy_timeout_seconds: float = 30.0):
        self.db = SqliteConnection(path, busy_timeout_seconds=busy_timeout_seconds)
        self._version = self._migrate()

    @classmethod
    def memory(cls) -> SqliteStore:
        """Open a private in-memory store (lost when closed): for tests and one-shot runs."""
        return cls(":memory:")

    # --- the seam of the shared queries ---------------------------------------------------

    @property
    def _connection(self) -> StoreConnection:
        return self.db

    @property
    def _name(self) -> str:
        return f"state store {self.db.path}"

    def _lock(self, conn: SqlConn, *key: str) -> None:
        """Nothing to do: every write transaction already holds SQLite's one write lock."""

    def _meta_exists(self, conn: SqlConn) -> bool:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self._META,)
        ).fetchall()
        return bool(found)

    def _prepare(self, conn: SqlConn) -> None:
        conn.execute(schema.META_DDL)

    def _reason(self, exc: Exception, part: str | None = None) -> str:
        return str(exc)


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

    For code whose ``tables`` are read and written with SQLite-only SQL through ``store.db``:
    a ``store.url`` (PostgreSQL) replaces the SQLite store it needs. (The runtime parts run on
    both backends, through :func:`plimsoll.core.store.parts.part_sql`.)
    """
    if isinstance(store, SqliteStore):
        return store
    raise sqlite_needed(store, tables)
