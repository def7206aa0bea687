"""The embedded state store: SQLite (WAL) by default, PostgreSQL when ``store.url`` is set.

The store holds what plimsoll must remember between runs: the notification outbox, the
circuit-breaker state per channel, migration runs, query baselines with their samples and
check history, the timings of plimsoll's own operations, and the tables the parts keep in it
through :meth:`Store.ensure_part_schema` (runtime samples, alerts, usage and SLO events).

Modules, one job each:

- ``records``: the frozen dataclasses every backend stores and returns;
- ``base``: the :class:`Store` interface, :func:`open_store` and :func:`open_configured`;
- ``rows``: from a stored row to a record, shared by the backends;
- ``seam``: what the shared queries need of a backend's connection (``?`` placeholders);
- ``parts``: a part's tables on either backend: the connection and a small SQL dialect;
- ``queries``, ``profiling``: the queries, written once for both backends (schema versions,
  outbox, breakers, runs; baselines, checks and timings);
- ``sqlite_schema``, ``sqlite_connection``, ``sqlite``: the SQLite backend (its
  ``SCHEMA_VERSION`` and migrations, the connection wrapper, its seam of the queries);
- ``postgres_schema``, ``postgres_connection``, ``postgres``: the PostgreSQL backend, the
  same way, imported (with psycopg) only when a URL asks for it.

``SCHEMA_VERSION`` and ``MIGRATIONS`` here are the SQLite store's; the PostgreSQL store has its
own in ``postgres_schema``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plimsoll.core.store.base import DEFAULT_PATH, Store, open_configured, open_store
from plimsoll.core.store.records import (
    BaselineCheck,
    BreakerState,
    MigrationRun,
    OperationTiming,
    OutboxItem,
    QueryBaseline,
    QuerySample,
)
from plimsoll.core.store.sqlite import SqliteStore, require_sqlite
from plimsoll.core.store.sqlite_connection import SqliteConnection
from plimsoll.core.store.sqlite_schema import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    from plimsoll.core.store.postgres import PostgresStore

__all__ = [
    "DEFAULT_PATH",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "BaselineCheck",
    "BreakerState",
    "MigrationRun",
    "OperationTiming",
    "OutboxItem",
    "PostgresStore",
    "QueryBaseline",
    "QuerySample",
    "SqliteConnection",
    "SqliteStore",
    "Store",
    "open_configured",
    "open_store",
    "require_sqlite",
]


def __getattr__(name: str) -> Any:
    """``PostgresStore`` on first use, so importing the store never imports psycopg."""
    if name == "PostgresStore":
        from plimsoll.core.store.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
