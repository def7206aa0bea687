"""What only the SQLite store does: its file, WAL, its own schema versions, the in-memory store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from plimsoll.core import store as store_module
from plimsoll.core.errors import CannotRunError
from plimsoll.core.store import (
    DEFAULT_PATH,
    SCHEMA_VERSION,
    OperationTiming,
    SqliteStore,
    open_store,
    sqlite_schema,
)
from tests.core.store.conftest import hammer


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def test_creates_database_in_wal_mode_at_current_version(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.db"
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
    conn = _raw(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert int(version) == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "outbox", "breaker"} <= tables
    conn.close()


def test_newer_schema_on_disk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStore(path).close()
    conn = _raw(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(CannotRunError, match=r"schema version \d+, newer than"):
        SqliteStore(path)


def test_migrations_run_in_order_and_a_failing_one_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    SqliteStore(path).close()
    later = SCHEMA_VERSION + 1
    migrations = dict(sqlite_schema.MIGRATIONS)
    migrations[later] = ("CREATE TABLE samples (id INTEGER PRIMARY KEY)", "THIS IS NOT SQL")
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", migrations)
    monkeypatch.setattr(sqlite_schema, "SCHEMA_VERSION", later)
    with pytest.raises(CannotRunError, match=f"to schema version {later} failed"):
        SqliteStore(path)
    conn = _raw(path)
    assert conn.execute("SELECT value FROM meta").fetchone()[0] == str(later - 1)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'samples'").fetchone() is None
    conn.close()

    migrations[later] = ("CREATE TABLE samples (id INTEGER PRIMARY KEY)",)
    with SqliteStore(path) as store:
        assert store.schema_version == later
    conn = _raw(path)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'samples'").fetchone()
    conn.close()


def test_the_package_re_exports_the_sqlite_schema() -> None:
    assert store_module.SCHEMA_VERSION == sqlite_schema.SCHEMA_VERSION == 4
    assert store_module.MIGRATIONS is sqlite_schema.MIGRATIONS
    assert sorted(store_module.MIGRATIONS) == [1, 2, 3, 4]


def test_memory_store_works_from_many_threads() -> None:
    store = SqliteStore.memory()
    errors = hammer(store, threads=8, per_thread=50)
    assert errors == []
    assert len(store.outbox_pending()) == 400
    assert store.breaker_get("shared").failures == 400
    store.close()


def test_a_file_that_is_not_a_database_cannot_run(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(CannotRunError, match="state store"):
        SqliteStore(path)


def test_open_store_resolves_paths_and_an_empty_url_means_sqlite(tmp_path: Path) -> None:
    store = open_store(DEFAULT_PATH, root=tmp_path)
    assert isinstance(store, SqliteStore)
    store.close()
    assert (tmp_path / ".plimsoll" / "state.db").is_file()
    # url = "${PLIMSOLL_STORE_URL:-}" with the variable unset: the SQLite store.
    store = open_store("other.db", url="  ", root=tmp_path)
    assert isinstance(store, SqliteStore)
    store.close()
    assert (tmp_path / "other.db").is_file()
    absolute = tmp_path / "abs" / "state.db"
    open_store(absolute, root=tmp_path / "elsewhere").close()
    assert absolute.is_file()


def test_a_version_2_store_is_migrated_to_the_current_one_keeping_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    conn = _raw(path)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for version in (1, 2):
        for statement in store_module.MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    conn.execute(
        "INSERT INTO migration_runs (database, version, name, direction, started_at,"
        " finished_at, duration_ms, outcome) VALUES ('db', '1', 'a', 'up', 1, 2, 1000, 'applied')"
    )
    conn.commit()
    conn.close()
    with SqliteStore(path) as store:
        assert store.schema_version == 4 == SCHEMA_VERSION
        assert [r.version for r in store.migration_runs()] == ["1"]
        store.timings_add([OperationTiming("x", 0.1, 5.0)])
    conn = _raw(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"query_baselines", "query_samples", "baseline_checks", "operation_timings"} <= tables
    conn.close()


def test_a_version_3_outbox_keeps_its_items_live_in_order(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = _raw(path)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for version in (1, 2, 3):
        for statement in store_module.MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    for title, due in (("old", 30.0), ("new", 20.0)):
        conn.execute(
            "INSERT INTO outbox (channel, payload, created_at, next_attempt_at)"
            " VALUES ('hook', ?, 1, ?)",
            (f'{{"title": "{title}"}}', due),
        )
    conn.commit()
    conn.close()
    with SqliteStore(path) as store:
        assert store.schema_version == 4
        assert [i.payload["title"] for i in store.outbox_pending()] == ["old", "new"]
        assert all(i.dead_at is None for i in store.outbox_pending())
        assert store.outbox_claim(25.0, lease_seconds=1.0) == []  # "new" waits behind "old"
        sql, params = store._claim_query(25.0, None, 100)
        plan = [row["detail"] for row in store.db.query(f"EXPLAIN QUERY PLAN {sql}", params)]
        # Every look at the outbox goes through an index, none scans the table.
        assert not any(d.startswith(("SCAN outbox", "SCAN o")) for d in plan), plan
