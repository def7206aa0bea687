"""What the shared queries need of a backend's connection: the seam between SQL and driver.

The store's SQL is written once, with ``?`` placeholders (and no literal ``?`` or ``%``): the
SQLite connection speaks it natively, the PostgreSQL one translates it to psycopg's ``%s``
(see :class:`~plimsoll.core.store.postgres_connection.QmarkConnection`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class SqlConn(Protocol):
    """One open transaction: statements with ``?`` placeholders, rows read by column name."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any:
        """Run one statement; return its cursor (``fetchone``, ``fetchall``, ``rowcount``)."""

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        """Run one statement once per parameter tuple."""


class StoreConnection(Protocol):
    """A backend's connection wrapper: write transactions, read snapshots, one-off reads."""

    def transaction(self) -> AbstractContextManager[SqlConn]:
        """Run the block in one write transaction (nested blocks join the outer one)."""

    def read(self) -> AbstractContextManager[SqlConn]:
        """Run the block's reads against one snapshot."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a read query and return all its rows."""

    def close(self) -> None:
        """Close the connection."""


def returned_id(cursor: Any) -> int:
    """The ``id`` an ``INSERT ... RETURNING id`` gave back.

    Every row is fetched, so the statement is finished (SQLite cannot commit while one runs).
    """
    found = cursor.fetchall()
    return int(found[0]["id"])
