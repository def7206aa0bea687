"""The SQLite state store: schema migrations, the outbox, breaker state, concurrency."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from plimsoll.core import store as store_module
from plimsoll.core.errors import CannotRunError, ConfigError
from plimsoll.core.store import (
    DEFAULT_PATH,
    SCHEMA_VERSION,
    BreakerState,
    SqliteStore,
    open_store,
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "state" / "state.db")
    yield store
    store.close()


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


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStore(path) as store:
        store.outbox_add("hook", {"title": "kept"}, now=1.0, next_attempt_at=1.0)
    with SqliteStore(path) as store:
        assert [i.payload["title"] for i in store.outbox_pending()] == ["kept"]


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
    migrations = dict(store_module.MIGRATIONS)
    migrations[later] = ("CREATE TABLE samples (id INTEGER PRIMARY KEY)", "THIS IS NOT SQL")
    monkeypatch.setattr(store_module, "MIGRATIONS", migrations)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", later)
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


def test_outbox_lifecycle(db: SqliteStore) -> None:
    first = db.outbox_add("hook", {"title": "a"}, now=10.0, next_attempt_at=10.0, last_error="x")
    second = db.outbox_add("mail", {"title": "b"}, now=11.0, next_attempt_at=50.0)
    assert [i.id for i in db.outbox_pending()] == [first, second]
    assert [i.id for i in db.outbox_pending("mail")] == [second]

    claimed = db.outbox_claim(20.0, lease_seconds=100.0)
    assert [i.id for i in claimed] == [first]
    assert claimed[0].payload == {"title": "a"} and claimed[0].last_error == "x"
    # Leased: a second claimer at the same time gets nothing.
    assert db.outbox_claim(20.0, lease_seconds=100.0) == []

    db.outbox_failed(first, error="boom", next_attempt_at=30.0)
    item = db.outbox_get(first)
    assert item is not None and item.attempts == 1 and item.last_error == "boom"
    assert [i.id for i in db.outbox_claim(60.0, lease_seconds=5.0, channels=["hook"])] == [first]
    assert db.outbox_claim(60.0, lease_seconds=5.0, channels=[]) == []

    db.outbox_delivered(first, 61.0)
    assert [i.id for i in db.outbox_pending()] == [second]
    assert db.outbox_purge(delivered_before=100.0) == 1
    assert db.outbox_get(first) is None

    db.outbox_postpone(second, 5.0)
    assert [i.id for i in db.outbox_claim(6.0, lease_seconds=1.0)] == [second]


def test_outbox_dedupe_key_replaces_the_pending_payload(db: SqliteStore) -> None:
    one = db.outbox_add("gh", {"v": 1}, now=1.0, next_attempt_at=9.0, dedupe_key="pr-1")
    two = db.outbox_add("gh", {"v": 2}, now=2.0, next_attempt_at=5.0, dedupe_key="pr-1")
    other = db.outbox_add("gh", {"v": 3}, now=3.0, next_attempt_at=5.0, dedupe_key="pr-2")
    assert one == two != other
    pending = db.outbox_pending("gh")
    assert [(i.id, i.payload["v"], i.next_attempt_at) for i in pending] == [
        (one, 2, 5.0),
        (other, 3, 5.0),
    ]
    assert db.outbox_supersede("gh", "pr-1", now=6.0) == 1
    assert [i.id for i in db.outbox_pending("gh")] == [other]
    # Once delivered, the same key queues afresh.
    assert db.outbox_add("gh", {"v": 4}, now=7.0, next_attempt_at=7.0, dedupe_key="pr-1") != one


def test_breaker_state(db: SqliteStore) -> None:
    assert db.breaker_get("hook") == BreakerState("hook", 0, None)
    assert db.breaker_failure("hook", now=1.0, threshold=2) == BreakerState("hook", 1, None)
    assert db.breaker_failure("hook", now=2.0, threshold=2) == BreakerState("hook", 2, 2.0)
    # A failure past the threshold (a failed half-open trial) re-stamps the opening.
    assert db.breaker_failure("hook", now=9.0, threshold=2) == BreakerState("hook", 3, 9.0)
    assert db.breaker_get("other").failures == 0
    db.breaker_success("hook")
    assert db.breaker_get("hook") == BreakerState("hook", 0, None)


def test_memory_store_works_from_many_threads() -> None:
    store = SqliteStore.memory()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                store.outbox_add(f"c{n}", {"i": i}, now=0.0, next_attempt_at=0.0)
                store.breaker_failure("shared", now=0.0, threshold=1000)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.outbox_pending()) == 400
    assert store.breaker_get("shared").failures == 400
    store.close()


_CLAIMER = """
import json, sys
from plimsoll.core.store import SqliteStore
store = SqliteStore(sys.argv[1])
ids = []
while True:
    batch = store.outbox_claim(100.0, lease_seconds=10_000.0, limit=7)
    if not batch:
        break
    ids += [item.id for item in batch]
print(json.dumps(ids))
"""


def test_processes_claiming_at_once_never_share_an_item(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStore(path) as store:
        for i in range(300):
            store.outbox_add("hook", {"i": i}, now=0.0, next_attempt_at=0.0)
    procs = [
        subprocess.Popen([sys.executable, "-c", _CLAIMER, str(path)], stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    claimed: list[int] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        claimed += json.loads(out)
    assert len(claimed) == 300
    assert len(set(claimed)) == 300


def test_a_file_that_is_not_a_database_cannot_run(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(CannotRunError, match="state store"):
        SqliteStore(path)


def test_open_store_resolves_paths_and_refuses_a_url(tmp_path: Path) -> None:
    store = open_store(DEFAULT_PATH, root=tmp_path)
    assert isinstance(store, SqliteStore)
    store.close()
    assert (tmp_path / ".plimsoll" / "state.db").is_file()
    with pytest.raises(ConfigError, match="store.url"):
        open_store(url="postgresql://user:pw@localhost/db")
