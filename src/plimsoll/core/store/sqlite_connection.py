"""A thin wrapper over one ``sqlite3`` connection, apart from the queries (coverage.py's layout)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from plimsoll.core.errors import CannotRunError
from plimsoll.core.paths import ensure_private_dir


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
