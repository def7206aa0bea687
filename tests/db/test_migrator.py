"""The migrator against a real PostgreSQL: up, down, status, failures, drift, concurrency, SIGKILL."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from plimsoll.db.migrator import DriftError, MigrationError, Migrator, Settings, advisory_key


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


BASIC = {
    "0001_users.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n",
    "0001_users.down.sql": "DROP TABLE users;\n",
    "0002_orders.up.sql": (
        "-- orders belong to users\n"
        "CREATE TABLE orders (\n"
        "    id bigint PRIMARY KEY,\n"
        "    user_id bigint REFERENCES users (id)\n"
        ");\n"
    ),
    "0002_orders.down.sql": "DROP TABLE orders;\n",
    "0003_seed.py": (
        "def up(conn):\n"
        "    conn.execute(\"INSERT INTO users VALUES (1, 'a@example.test')\")\n\n"
        "def down(conn):\n"
        "    conn.execute('DELETE FROM users WHERE id = 1')\n"
    ),
}


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def test_up_status_down(pg_database: Any, tmp_path: Path) -> None:
    folder = _write(tmp_path / "migrations", BASIC)
    migrator = Migrator(pg_database.dsn, folder)
    before = migrator.status()
    assert [m.version for m in before.pending] == ["0001", "0002", "0003"]
    report = migrator.up()
    assert [s.version for s in report.steps] == ["0001", "0002", "0003"]
    assert _tables(pg_database.dsn) == {"users", "orders", "plimsoll_migrations"}
    status = migrator.status()
    assert status.current == "0003" and not status.pending and not status.drift
    row = status.applied[0]
    assert (
        row.checksum
        == __import__("hashlib").sha256(BASIC["0001_users.up.sql"].encode()).hexdigest()
    )
    assert row.execution_ms >= 0 and row.applied_by
    assert migrator.up().steps == []  # nothing to do
    migrator.down(steps=2)
    assert _tables(pg_database.dsn) == {"users", "plimsoll_migrations"}
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)
    migrator.up(target="0002")
    assert migrator.status().current == "0002"


def test_a_failing_statement_rolls_back_its_migration_and_names_the_line(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "1_ok.up.sql": "CREATE TABLE a (id int);\n",
            "2_bad.up.sql": "CREATE TABLE b (id int);\n\nINSERT INTO\n  nope VALUES (1);\n",
            "3_later.up.sql": "CREATE TABLE c (id int);\n",
        },
    )
    with pytest.raises(MigrationError) as err:
        Migrator(pg_database.dsn, folder).up()
    message = str(err.value)
    assert f"{folder / '2_bad.up.sql'}:4:" in message  # the line of "nope"
    assert 'relation "nope" does not exist' in message
    assert err.value.exit_code == 1
    assert _tables(pg_database.dsn) == {"a", "plimsoll_migrations"}  # b rolled back, c not run


def test_changed_file_is_refused_unless_allowed(pg_database: Any, tmp_path: Path) -> None:
    folder = _write(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id int);\n"})
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up()
    (folder / "1_a.up.sql").write_text("CREATE TABLE a (id bigint);\n")
    _write(folder, {"2_b.up.sql": "CREATE TABLE b (id int);\n"})
    with pytest.raises(DriftError, match="1_a: changed since it was applied"):
        migrator.up()
    assert [d.version for d in migrator.status().drift] == ["1"]
    assert [s.version for s in migrator.up(allow_changed=True).steps] == ["2"]


def test_outer_transaction_and_concurrent_index(pg_database: Any, tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "1_t.up.sql": "BEGIN;\nCREATE TABLE t (id int, v text);\nCOMMIT;\n",
            "2_idx.up.sql": "CREATE INDEX CONCURRENTLY t_v ON t (v);\n",
            "3_nested.up.sql": "CREATE TABLE x (id int);\nCOMMIT;\nBEGIN;\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up(target="2")
    steps = {s.version: s for s in migrator.status().applied}
    assert set(steps) == {"1", "2"}
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_v'::regclass"
        ).fetchone() == (True,)
    from plimsoll.core.errors import InputError

    with pytest.raises(InputError, match=r"3_nested.up.sql:2: transaction control"):
        migrator.up()


def test_failed_concurrent_build_leaves_an_invalid_index_that_status_reports(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "1_t.up.sql": "CREATE TABLE t (v int);\nINSERT INTO t VALUES (1), (1);\n",
            "2_uniq.up.sql": "CREATE UNIQUE INDEX CONCURRENTLY t_v ON t (v);\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    with pytest.raises(MigrationError, match="ran outside a transaction"):
        migrator.up()
    status = migrator.status()
    assert [i.index for i in status.invalid_indexes] == ["t_v"]
    assert [m.version for m in status.pending] == ["2"]


def _run_up(dsn: str, folder: str, queue: Any) -> None:
    report = Migrator(dsn, Path(folder), Settings(lock_wait_seconds=60)).up()
    queue.put([s.version for s in report.steps])


def test_eight_migrators_at_once_apply_each_migration_once(
    pg_database: Any, tmp_path: Path
) -> None:
    files = {
        f"{i}_m{i}.up.sql": f"CREATE TABLE t{i} (id int);\nSELECT pg_sleep(0.05);\n"
        for i in range(1, 6)
    }
    folder = _write(tmp_path / "m", files)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_run_up, args=(pg_database.dsn, str(folder), queue)) for _ in range(8)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    results = sorted((queue.get(timeout=5) for _ in procs), key=len, reverse=True)
    assert results[0] == ["1", "2", "3", "4", "5"]
    assert all(r == [] for r in results[1:])
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM plimsoll_migrations").fetchone() == (5,)


def test_sigkill_mid_migration_leaves_the_previous_version(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "1_a.up.sql": "CREATE TABLE a (id int);\n",
            "2_slow.up.sql": "CREATE TABLE b (id int);\nSELECT pg_sleep(2);\n",
        },
    )
    Migrator(pg_database.dsn, folder).up(target="1")
    code = (
        "import sys; from pathlib import Path; from plimsoll.db.migrator import Migrator;"
        f"Migrator({pg_database.dsn!r}, Path({str(folder)!r})).up()"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    migrator_backends = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'plimsoll-migrator'"
    )
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            busy = conn.execute(
                migrator_backends + " AND state = 'active' AND query LIKE '%pg_sleep(2)%'"
            ).fetchone()
            if busy and busy[0]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the migrator never reached the slow migration")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # Nothing is terminated here: the server finishes what it was sent, finds the client
        # gone when it reads the next message, and rolls the open transaction back. (A COMMIT
        # sent ahead in the same message would have kept the migration.)
        while time.monotonic() < deadline:
            if conn.execute(migrator_backends).fetchone() == (0,):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the killed migrator's backend never went away")
    migrator = Migrator(pg_database.dsn, folder)
    assert migrator.status().current == "1"
    assert "b" not in _tables(pg_database.dsn)
    (folder / "2_slow.up.sql").write_text("CREATE TABLE b (id int);\n")
    migrator.up(allow_changed=True)
    assert migrator.status().current == "2"


def test_a_failing_migration_runs_once_and_names_its_line(pg_database: Any, tmp_path: Path) -> None:
    """The failing statement is found from the message's results, not by running it again."""
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE counter")
    folder = _write(
        tmp_path / "m",
        {
            "1_fail.up.sql": (
                "SELECT nextval('counter');\n"
                "CREATE TABLE t (id int);\n"
                "INSERT INTO t\n"
                "  VALUES (1 / 0);\n"
                "CREATE TABLE never (id int);\n"
            ),
            "2_column.up.sql": (
                "CREATE TABLE t2 (id int);\n\nINSERT INTO t2 (id,\n  nope) VALUES (1, 2);\n"
            ),
        },
    )
    with pytest.raises(MigrationError) as failed:
        Migrator(pg_database.dsn, folder).up(target="1")
    assert str(failed.value).startswith(f"{folder / '1_fail.up.sql'}:3: ERROR: division by zero")
    with psycopg.connect(pg_database.dsn) as conn:
        # A rollback never undoes nextval: 1 means the migration ran once, 2 that it ran twice.
        assert conn.execute("SELECT last_value FROM counter").fetchone() == (1,)
    assert {"t", "never"}.isdisjoint(_tables(pg_database.dsn))
    (folder / "1_fail.up.sql").write_text("CREATE TABLE t (id int);\n")
    with pytest.raises(MigrationError) as failed:
        Migrator(pg_database.dsn, folder).up()
    # The server's position of "nope" (line 4 of the file), not the statement's first line.
    assert str(failed.value).startswith(
        f'{folder / "2_column.up.sql"}:4: ERROR: column "nope" of relation "t2" does not exist'
    )
    assert Migrator(pg_database.dsn, folder).status().current == "1"


def test_the_error_keeps_the_server_detail(pg_database: Any, tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "1_dup.up.sql": (
                "CREATE TABLE u (e text);\nINSERT INTO u VALUES ('a'), ('A');\n"
                "CREATE UNIQUE INDEX ul ON u (lower(e));\n"
            )
        },
    )
    with pytest.raises(MigrationError) as failed:
        Migrator(pg_database.dsn, folder).up()
    message = str(failed.value)
    assert ':3: ERROR: could not create unique index "ul"' in message
    assert "(DETAIL: Key (lower(e))=(a) is duplicated.)" in message


def test_advisory_key_is_stable() -> None:
    assert advisory_key("plimsoll_migrations") == advisory_key("plimsoll_migrations")
    assert advisory_key("a") != advisory_key("b")


def test_runs_are_recorded_in_the_store(pg_database: Any, tmp_path: Path) -> None:
    from plimsoll.core.store import SqliteStore

    folder = _write(tmp_path / "m", {k: v for k, v in BASIC.items() if k.startswith("0001")})
    _write(folder, {"0002_bad.up.sql": "INSERT INTO nope VALUES (1);\n"})
    store = SqliteStore(tmp_path / "state.db")
    with pytest.raises(MigrationError):
        Migrator(pg_database.dsn, folder, store=store).up()
    runs = store.migration_runs()
    assert [(r.version, r.outcome) for r in runs] == [("0002", "failed"), ("0001", "applied")]
    applied = runs[1]
    assert applied.tables and applied.tables[0][0] == "users"
    assert applied.tables[0][1] is not None and applied.tables[0][1] > 0
    assert applied.server_version and applied.server_version >= 100000
    assert 'relation "nope" does not exist' in (runs[0].error or "")


def test_hooks_run_around_migrations_and_a_failing_one_rolls_back(
    pg_database: Any, tmp_path: Path
) -> None:
    from plimsoll.core.hooks import HookExecutor, HookFailed, HookRegistry
    from plimsoll.db.hooks import DbPhase

    seen: list[tuple[str, str]] = []
    registry = HookRegistry()

    @registry.hook(DbPhase.BEFORE_MIGRATION)
    def before(context: Any) -> None:
        seen.append(("before", context.migration))

    @registry.hook(DbPhase.AFTER_STATEMENT)
    def after_statement(context: Any) -> None:
        seen.append(("statement", f"{context.migration}:{context.line}"))

    @registry.hook(DbPhase.AFTER_MIGRATION, name="refuse_orders")
    def refuse(context: Any) -> None:
        if context.migration.endswith("orders"):
            raise RuntimeError("orders are not allowed today")

    @registry.hook(DbPhase.ON_ERROR)
    def on_error(context: Any) -> None:
        seen.append(("error", context.migration))

    folder = _write(tmp_path / "m", {k: v for k, v in BASIC.items() if k.endswith(".up.sql")})
    migrator = Migrator(pg_database.dsn, folder, hooks=HookExecutor(registry))
    with pytest.raises(HookFailed):
        migrator.up()
    assert ("before", "0001_users") in seen and ("statement", "0002_orders:2") in seen
    # The after_migration hook of 0002 failed fail-fast inside 0002's transaction: 0002 is
    # rolled back (its table too), the on_error hooks ran, and nothing after it ran.
    assert migrator.status().current == "0001"
    assert ("error", "0002_orders") in seen
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('orders')").fetchone() == (None,)


def test_batched_migration_keeps_percent_braces_and_dollar_quotes(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "1_text.up.sql": (
                "CREATE TABLE notes (body text);\n"
                "INSERT INTO notes VALUES ('100% {not a placeholder} %s');\n"
                "CREATE FUNCTION shout(t text) RETURNS text LANGUAGE plpgsql AS $$\n"
                "BEGIN\n  RETURN upper(t) || '!';\nEND;\n$$;\n"
            ),
        },
    )
    Migrator(pg_database.dsn, folder).up()
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT body FROM notes").fetchone() == ("100% {not a placeholder} %s",)
        assert conn.execute("SELECT shout('hi')").fetchone() == ("HI!",)
        row = conn.execute("SELECT execution_ms FROM plimsoll_migrations").fetchone()
        assert row is not None and row[0] >= 0


def test_recorded_sizes_match_the_server_for_quoted_and_dropped_tables(
    pg_database: Any, tmp_path: Path
) -> None:
    from plimsoll.core.store import SqliteStore

    folder = _write(
        tmp_path / "m",
        {
            "1_mixed.up.sql": (
                'CREATE TABLE "MixedCase" (id int);\n'
                'INSERT INTO "MixedCase" SELECT g FROM generate_series(1, 2000) g;\n'
                "CREATE TABLE gone (id int);\n"
                "DROP TABLE gone;\n"
            ),
            "2_bad.up.sql": "CREATE TABLE later (id int);\nSELECT 1/0;\n",
        },
    )
    store = SqliteStore(tmp_path / "state.db")
    with pytest.raises(MigrationError) as err:
        Migrator(pg_database.dsn, folder, store=store).up()
    assert f"{folder / '2_bad.up.sql'}:2:" in str(err.value)
    with psycopg.connect(pg_database.dsn) as conn:
        expected = conn.execute("SELECT pg_total_relation_size('\"MixedCase\"')").fetchone()
        assert conn.execute("SELECT to_regclass('later')").fetchone() == (None,)
    runs = {r.version: r for r in store.migration_runs()}
    assert dict(runs["1"].tables) == {"MixedCase": expected[0], "gone": None}
    assert expected[0] > 0
    assert runs["2"].outcome == "failed"
    # The failed message left no transaction open: the same migrator goes on once fixed.
    (folder / "2_bad.up.sql").write_text("CREATE TABLE later (id int);\n")
    assert [s.version for s in Migrator(pg_database.dsn, folder, store=store).up().steps] == ["2"]


def test_a_partitioned_tables_recorded_size_is_its_partitions(
    pg_database: Any, tmp_path: Path
) -> None:
    # The parent stores nothing (pg_total_relation_size says 0): risk learning would take a
    # large partitioned table for an empty one. Batched (1) and outside a transaction (2).
    from plimsoll.core.store import SqliteStore

    folder = _write(
        tmp_path / "m",
        {
            "1_events.up.sql": (
                "CREATE TABLE events (day date NOT NULL, n int) PARTITION BY RANGE (day);\n"
                "CREATE TABLE events_a PARTITION OF events"
                " FOR VALUES FROM ('2025-01-01') TO ('2025-07-01');\n"
                "CREATE TABLE events_b PARTITION OF events"
                " FOR VALUES FROM ('2025-07-01') TO ('2026-01-01');\n"
                "INSERT INTO events SELECT date '2025-01-01' + g % 365, g"
                " FROM generate_series(1, 5000) g;\n"
            ),
            "2_index.up.sql": "CREATE INDEX CONCURRENTLY events_a_n_idx ON events_a (n);\n"
            "ALTER TABLE events ADD COLUMN note text;\n",
        },
    )
    store = SqliteStore(tmp_path / "state.db")

    def sizes() -> tuple[int, int, int]:
        with psycopg.connect(pg_database.dsn) as conn:
            row = conn.execute(
                "SELECT pg_total_relation_size('events'), pg_total_relation_size('events_a'),"
                " pg_total_relation_size('events_b')"
            ).fetchone()
        assert row is not None
        return row

    Migrator(pg_database.dsn, folder, store=store).up(target="1")
    parent, a, b = sizes()
    assert parent == 0 and a > 0 and b > 0
    # Newest run first.
    assert dict(store.migration_runs()[0].tables) == {"events": a + b, "events_a": a, "events_b": b}
    Migrator(pg_database.dsn, folder, store=store).up()
    _, a, b = sizes()
    assert dict(store.migration_runs()[0].tables) == {"events_a": a, "events": a + b}


def test_a_deferred_constraint_failing_at_commit_is_a_migration_error(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "1_parent.up.sql": "CREATE TABLE parent (id int PRIMARY KEY);\n",
            "2_child.up.sql": (
                "CREATE TABLE child (parent_id int REFERENCES parent (id)"
                " DEFERRABLE INITIALLY DEFERRED);\n"
                "INSERT INTO child VALUES (42);\n"
            ),
        },
    )
    with pytest.raises(MigrationError) as failed:
        Migrator(pg_database.dsn, folder).up()
    message = str(failed.value)
    assert '2_child.up.sql: at COMMIT: ERROR: insert or update on table "child"' in message
    assert message.endswith("2_child rolled back")
    assert Migrator(pg_database.dsn, folder).status().current == "1"
    assert "child" not in _tables(pg_database.dsn)
