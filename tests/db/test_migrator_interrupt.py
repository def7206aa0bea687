"""An interrupted migration (Ctrl-C, or SIGTERM taken as one) against a real PostgreSQL.

A real SIGINT is sent to this process while the migration's statement runs on the server:
psycopg cancels the statement, the migrator rolls the migration back, records it in the
store as ``interrupted`` and tells the on_error hooks, and its hook trace says so.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from plimsoll.core.store import SqliteStore
from plimsoll.db.hooks import DbPhase
from plimsoll.db.migrator import Migrator, RunReport
from tests.db.test_migrator_hooks import Seen, _every_phase, _write


@pytest.fixture
def python_sigint() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in the main thread (Python's own handler) for the test."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_in_sleep(dsn: str) -> threading.Thread:
    """A thread sending SIGINT to this process once a ``pg_sleep(30)`` runs on the server."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        with psycopg.connect(dsn, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                    " AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()"
                ).fetchone()
                if row and row[0]:
                    os.kill(os.getpid(), signal.SIGINT)
                    return
                time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _versions(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT version FROM plimsoll_migrations ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def _exists(dsn: str, name: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() != (None,)


@pytest.mark.usefixtures("python_sigint")
def test_an_interrupted_migration_is_rolled_back_recorded_and_traced(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "0001_a.up.sql": "CREATE TABLE a (id int);\n",
            "0002_slow.up.sql": "CREATE TABLE b (id int);\nSELECT pg_sleep(30);\n",
        },
    )
    store = SqliteStore(tmp_path / "state.db")
    seen = Seen()
    report = RunReport("up")
    watcher = _interrupt_in_sleep(pg_database.dsn)
    with pytest.raises(KeyboardInterrupt):
        Migrator(pg_database.dsn, folder, store=store, hooks=_every_phase(seen)).up(report=report)
    watcher.join(timeout=5)

    assert _versions(pg_database.dsn) == ["0001"] and not _exists(pg_database.dsn, "b")
    assert [s.version for s in report.steps] == ["0001"]
    runs = store.migration_runs()
    assert [(r.version, r.outcome) for r in runs] == [("0002", "interrupted"), ("0001", "applied")]
    expected = "interrupted: the running statement was cancelled; 0002_slow rolled back"
    assert runs[0].error == expected
    # The on_error hooks heard of it, cleanup ran, and the trace says how the run ended.
    assert seen.context(DbPhase.ON_ERROR).error == expected
    assert seen.context(DbPhase.ON_ERROR).migration == "0002_slow"
    assert seen.phases[-2:] == [DbPhase.ON_ERROR, DbPhase.CLEANUP]
    assert report.hook_trace is not None
    trace = json.loads(report.hook_trace)
    assert trace["outcome"] == "interrupted"
    assert [p["outcome"] for p in trace["phases"]] == ["succeeded"] * len(trace["phases"])


@pytest.mark.usefixtures("python_sigint")
def test_an_interrupted_migration_outside_a_transaction_says_what_stays(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "0001_c.up.sql": (
                "CREATE TABLE c (id int);\n"
                "CREATE INDEX CONCURRENTLY c_id ON c (id);\n"
                "SELECT pg_sleep(30);\n"
            )
        },
    )
    store = SqliteStore(tmp_path / "state.db")
    watcher = _interrupt_in_sleep(pg_database.dsn)
    with pytest.raises(KeyboardInterrupt) as raised:
        Migrator(pg_database.dsn, folder, store=store).up()
    watcher.join(timeout=5)

    # What ran before the cancelled statement stays; the migration is not recorded applied.
    assert _exists(pg_database.dsn, "c") and _exists(pg_database.dsn, "c_id")
    assert _versions(pg_database.dsn) == []
    (run,) = store.migration_runs()
    assert run.outcome == "interrupted"
    assert run.error is not None and run.error.startswith(
        "interrupted: the running statement was cancelled; 0001_c ran outside a transaction ("
    )
    assert run.error.endswith("statements before the cancelled one stay applied")
    # The same said on the interrupt itself, for the command's "interrupted" line.
    assert any("stay applied" in note for note in getattr(raised.value, "__notes__", []))
