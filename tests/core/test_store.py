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
    BaselineCheck,
    BreakerState,
    OperationTiming,
    QueryBaseline,
    QuerySample,
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


def test_a_version_2_store_is_migrated_to_3_keeping_its_rows(tmp_path: Path) -> None:
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
        assert store.schema_version == 3 == SCHEMA_VERSION
        assert [r.version for r in store.migration_runs()] == ["1"]
        store.timings_add([OperationTiming("x", 0.1, 5.0)])
    conn = _raw(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"query_baselines", "query_samples", "baseline_checks", "operation_timings"} <= tables
    conn.close()


def _baseline(key: str, at: float, metric: str = "execution_ms") -> QueryBaseline:
    return QueryBaseline("dev", key, f"SELECT {key}", metric, at, at, name=key)


def test_baselines_replace_append_and_keep_history(db: SqliteStore) -> None:
    assert db.baseline_get("dev", "a") is None
    first = db.baseline_record(
        _baseline("a", 10.0),
        [QuerySample(10.0, 1.5, execution_ms=1.5, shared_hit=3, plan={"nodes": ["Seq Scan"]})],
    )
    assert first.id is not None and [s.value for s in first.samples] == [1.5]
    assert first.samples[0].plan == {"nodes": ["Seq Scan"]} and first.samples[0].shared_hit == 3
    grown = db.baseline_record(_baseline("a", 20.0), [QuerySample(20.0, 2.5)], append=True)
    assert grown.id == first.id and [s.value for s in grown.samples] == [1.5, 2.5]
    assert (grown.created_at, grown.updated_at) == (10.0, 20.0)
    replaced = db.baseline_record(_baseline("a", 30.0), [QuerySample(30.0, 9.0)])
    assert replaced.id != first.id and [s.value for s in replaced.samples] == [9.0]
    # Another metric cannot be appended to: it starts a new baseline.
    cost = db.baseline_record(_baseline("a", 40.0, "total_cost"), [QuerySample(40, 7)], append=True)
    assert cost.id != replaced.id and cost.metric == "total_cost"
    db.baseline_record(_baseline("b", 50.0), [QuerySample(50.0, 1.0)])
    db.baseline_record(QueryBaseline("prod", "a", "q", "execution_ms", 1, 1), [QuerySample(1, 1)])

    current = db.baseline_get("dev", "a")
    assert current is not None and current.id == cost.id and current.superseded_at is None
    assert [(b.query_key, b.id) for b in db.baselines("dev")] == [
        ("a", cost.id),
        ("b", cost.id + 1),
    ]
    history = db.baselines("dev", query_key="a", include_superseded=True)
    assert [b.id for b in history] == [cost.id, replaced.id, first.id]
    assert [b.superseded_at for b in history] == [None, 40.0, 30.0]
    assert len(db.baselines()) == 3


def test_baseline_checks_are_kept_newest_first(db: SqliteStore) -> None:
    db.baseline_checks_add(
        [
            BaselineCheck("dev", "a", 10.0, "ok", "execution_ms", 1.0, mean=1.0, samples=5),
            BaselineCheck("dev", "b", 10.0, "error", "execution_ms", 9.0, change=8.0, stale=True),
        ]
    )
    db.baseline_checks_add(
        [BaselineCheck("dev", "a", 20.0, "ok", "execution_ms", 0.4, improved=True, change=-0.6)]
    )
    checks = db.baseline_checks("dev")
    assert [(c.query_key, c.checked_at) for c in checks] == [("a", 20.0), ("b", 10.0), ("a", 10.0)]
    assert checks[0].improved and checks[1].stale and checks[1].change == 8.0
    assert [c.checked_at for c in db.baseline_checks("dev", query_key="a", limit=1)] == [20.0]
    assert db.baseline_checks("other") == []


def test_operation_timings(db: SqliteStore) -> None:
    db.timings_add([])
    db.timings_add(
        [
            OperationTiming("hook_execution", 0.01, 5.0),
            OperationTiming("hook_execution", 0.2, 1.0, ok=False),
            OperationTiming("baseline_lookup", 0.002, 3.0),
        ]
    )
    assert [(t.seconds, t.ok) for t in db.timings("hook_execution")] == [(0.2, False), (0.01, True)]
    assert [t.operation for t in db.timings(since=3.0)] == ["baseline_lookup", "hook_execution"]
    assert db.timings_purge(before=4.0) == 2
    assert [t.recorded_at for t in db.timings()] == [5.0]


def test_part_schemas_are_versioned_apart(tmp_path: Path) -> None:
    """A part's tables migrate by themselves, once, and a newer layout is refused."""
    from plimsoll.core.errors import CannotRunError
    from plimsoll.core.store import SqliteStore

    path = tmp_path / "state.db"
    v1 = [["CREATE TABLE part_things (id INTEGER PRIMARY KEY, name TEXT)"]]
    v2 = [*v1, ["ALTER TABLE part_things ADD COLUMN size INTEGER"]]
    with SqliteStore(path) as store:
        assert store.ensure_part_schema("things", v1) == 1
        assert store.ensure_part_schema("things", v1) == 1  # applied once
    with SqliteStore(path) as store:
        assert store.ensure_part_schema("things", v2) == 2
        columns = [r["name"] for r in store.db.query("PRAGMA table_info(part_things)")]
        assert columns == ["id", "name", "size"]
        with pytest.raises(CannotRunError, match="things tables at version 2"):
            store.ensure_part_schema("things", v1)
        broken = [*v2, ["ALTER TABLE nope ADD COLUMN x"]]
        with pytest.raises(CannotRunError, match="to version 3 failed"):
            store.ensure_part_schema("things", broken)
        assert store.ensure_part_schema("things", v2) == 2  # the failed step left nothing


def test_a_forked_child_is_not_blocked_by_a_lock_held_in_the_parent(tmp_path: Path) -> None:
    """A thread holding the store's lock at fork() must not hang the child's first write."""
    import os

    from plimsoll.core.store import SqliteStore

    store = SqliteStore(tmp_path / "state.db")
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        # The wrapper's own lock, as a thread between two statements holds it (an SQLite write
        # lock held across fork() is SQLite's own hazard: never fork inside a transaction).
        with store.db._lock:
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: one write, then leave
        try:
            store.ensure_part_schema("child", [["CREATE TABLE child_rows (x INTEGER)"]])
            os._exit(0)
        except BaseException:
            os._exit(1)
    release.set()
    thread.join()
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert store.ensure_part_schema("child", [["CREATE TABLE child_rows (x INTEGER)"]]) == 1
    store.close()
