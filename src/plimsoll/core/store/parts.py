"""What a part's own tables need of the store, on either backend: a connection and a dialect.

The parts (runtime samples and usage events, alerts, SLO events, usage analytics) keep their
tables in the store through :meth:`~plimsoll.core.store.Store.ensure_part_schema` and query
them as the store's own queries do: with ``?`` placeholders, through the backend's
connection (:class:`~plimsoll.core.store.seam.StoreConnection`), which speaks that one
spelling on SQLite and on PostgreSQL. :func:`part_sql` hands both out; :class:`Dialect`
spells the few expressions the two databases write differently. Parameterised SQL must hold
no literal ``%`` (psycopg's placeholder character): :meth:`Dialect.mod` is the remainder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from plimsoll.core.errors import CannotRunError
from plimsoll.core.store.base import Store
from plimsoll.core.store.seam import SqlConn, StoreConnection

T = TypeVar("T")

# A JSON key SQLite's path syntax spells as it is stored (see Dialect.json_text).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+")

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


@dataclass(frozen=True)
class Dialect:
    """How one backend spells what SQLite and PostgreSQL write differently."""

    name: str

    @property
    def postgres(self) -> bool:
        """Whether this is PostgreSQL's dialect."""
        return self.name == POSTGRESQL

    def pick(self, sqlite: T, postgresql: T) -> T:
        """The one of two backend-specific things (a part's migrations, say) for this backend."""
        return postgresql if self.postgres else sqlite

    def json_text(self, column: str, name: str) -> tuple[str, str]:
        """The string value of a JSON object column at the key ``name``: SQL and its parameter.

        The SQL holds one ``?``, for the parameter returned with it, so no key can escape it.
        SQLite's JSON paths compare a key with its encoded text and end a quoted key at the
        first ``"``: a key of plain ASCII word characters goes through a path (fast, the
        usual label name), any other through ``json_each``, which compares the decoded key.
        """
        if self.postgres:
            return f"(CAST({column} AS jsonb) ->> CAST(? AS text))", name
        if _PLAIN_KEY.fullmatch(name):
            return f"json_extract({column}, ?)", f'$."{name}"'
        return f"(SELECT value FROM json_each({column}) WHERE key = ?)", name

    def floor_div(self, expr: str, divisor: str) -> str:
        """``expr / divisor`` rounded down to an integer (for the non-negative times stored).

        SQLite's CAST truncates; PostgreSQL's rounds, so it floors first.
        """
        if self.postgres:
            return f"CAST(floor({expr} / {divisor}) AS bigint)"
        return f"CAST({expr} / {divisor} AS INTEGER)"

    def mod(self, expr: str, divisor: str) -> str:
        """The integer remainder of ``expr`` by ``divisor`` (no ``%``: see the module notes)."""
        if self.postgres:
            return f"mod({expr}, {divisor})"
        return f"({expr} % {divisor})"

    @property
    def byte_order(self) -> str:
        """Appended to an ORDER BY term on text: byte order, as SQLite sorts, on both."""
        return ' COLLATE "C"' if self.postgres else ""


@dataclass(frozen=True)
class PartSql:
    """A store's connection for a part's tables, with the store's dialect."""

    connection: StoreConnection
    dialect: Dialect
    # What names the store in lock keys (its PostgreSQL schema); empty on SQLite.
    scope: str = ""

    def lock(self, conn: SqlConn, name: str) -> None:
        """Serialise the transaction of ``conn`` with every other one locking ``name``.

        SQLite's write transactions (``BEGIN IMMEDIATE``) are serialised already; PostgreSQL's
        read committed ones are not, so a transaction-level advisory lock makes a
        read-then-write block (an alert cycle, an acknowledgement) as exclusive there.
        """
        if self.dialect.postgres:
            from plimsoll.core.store.postgres_connection import lock_key

            conn.execute("SELECT pg_advisory_xact_lock(?)", (lock_key("part", self.scope, name),))


def part_sql(store: Store, tables: str) -> PartSql:
    """The connection and dialect of ``store`` for a part whose ``tables`` it keeps.

    Raises CannotRunError for a store that is not an SQL one (SQLite or PostgreSQL).
    """
    from plimsoll.core.store.sqlite import SqliteStore

    if isinstance(store, SqliteStore):
        return PartSql(store.db, Dialect(SQLITE))
    if type(store).__name__ == "PostgresStore":
        # Only now: a PostgresStore means psycopg is loaded already.
        from plimsoll.core.store.postgres import PostgresStore

        if isinstance(store, PostgresStore):
            return PartSql(store.connection, Dialect(POSTGRESQL), store.schema)
    raise CannotRunError(
        f"the {tables} tables need the SQLite or PostgreSQL state store, not {type(store).__name__}"
    )
