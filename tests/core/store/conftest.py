"""Fixtures of the state store tests: every contract test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from plimsoll.core.store import SqliteStore, Store, open_store
from tests.support.postgres import PgDatabase


@dataclass(frozen=True)
class Backend:
    """Where one test's store lives: a SQLite file or a PostgreSQL database."""

    kind: str
    target: str  # the SQLite path, or the PostgreSQL URL
    pg: PgDatabase | None = None

    def open(self) -> Store:
        """Open (and migrate) a store on this backend."""
        if self.kind == "sqlite":
            return open_store(self.target)
        return open_store(url=self.target)

    def columns(self, store: Store, table: str) -> list[str]:
        """The column names of ``table`` in ``store``, in order, as the database reports them."""
        if isinstance(store, SqliteStore):
            return [r["name"] for r in store.db.query(f"PRAGMA table_info({table})")]
        assert self.pg is not None
        with self.pg.connect() as conn:
            rows = conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'plimsoll' AND table_name = %s ORDER BY ordinal_position",
                (table,),
            ).fetchall()
        return [r[0] for r in rows]


def hammer(store: Store, threads: int, per_thread: int) -> list[BaseException]:
    """From ``threads`` threads at once, ``per_thread`` outbox adds and breaker failures each.

    Returns what the threads raised (nothing, for a store safe from many threads).
    """
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(per_thread):
                store.outbox_add(f"c{n}", {"i": i}, now=0.0, next_attempt_at=0.0)
                store.breaker_failure("shared", now=0.0, threshold=1000)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    started = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return errors


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each backend in turn: a SQLite file in the test's folder, a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return Backend("sqlite", str(tmp_path / "state" / "state.db"))
    pg: PgDatabase = request.getfixturevalue("pg_database")
    return Backend("postgres", pg.dsn, pg)


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """A freshly opened store on each backend, closed afterwards."""
    opened = backend.open()
    yield opened
    opened.close()


@pytest.fixture
def opener(backend: Backend) -> Iterator[Callable[[], Store]]:
    """Open more stores on the same backend (closed afterwards)."""
    opened: list[Store] = []

    def open_one() -> Store:
        store = backend.open()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()
