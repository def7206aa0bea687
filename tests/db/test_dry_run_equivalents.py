"""Dry-run of statements that cannot run in a transaction block, against a real PostgreSQL.

``CREATE INDEX CONCURRENTLY`` and its kin are dry-run as their transactional equivalents
(the effect seen inside the transaction, gone after it, and the same as the real run's);
the locks reported are those PostgreSQL shows the real statement holding; ``VACUUM`` and the
like are skipped; what PostgreSQL refuses only in the concurrent form fails the dry run with
PostgreSQL's own message; what has no equivalent still stops it.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from plimsoll.db.dry_run import Execution, LockState, dry_run, verdict
from plimsoll.db.migrator import Migrator
from tests.support.postgres import PgDatabase

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-service" / "db" / "migrations"

# Relations, their columns and their indexes (with validity) in the public schema.
CATALOG = """
SELECT c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod),
  i.indisvalid, pg_get_indexdef(i.indexrelid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE n.nspname = 'public' ORDER BY 1, 3
"""
INDEX = """
SELECT pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisready FROM pg_index i
WHERE i.indexrelid = to_regclass('stock_movements_moved_at')
"""


def _catalog(db: PgDatabase) -> list[Any]:
    with db.connect() as conn:
        return conn.execute(CATALOG).fetchall()


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


# A later migration that writes down what it sees of the example's new index: inside the dry
# run's transaction, and again in the real run.
SEE_INDEX = '''
import json
from pathlib import Path


def up(conn):
    row = conn.execute("""{query}""").fetchone()
    Path({path!r}).write_text(json.dumps(row))
'''


def test_the_example_concurrent_index_is_dry_run_and_later_migrations_are_tried(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    folder = tmp_path / "m"
    shutil.copytree(EXAMPLE, folder)
    seen = tmp_path / "seen.json"
    _folder(
        tmp_path,
        {
            "0004_see.py": SEE_INDEX.format(query=INDEX, path=str(seen)),
            "0005_sku_upper.up.sql": "ALTER TABLE stock_items ADD CONSTRAINT sku_upper"
            " CHECK (sku = upper(sku));\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up(target="0002")
    before = _catalog(pg_database)

    report = dry_run(migrator)

    assert not report.failed and verdict(report) is None and report.rolled_back
    assert [m.label for m in report.migrations] == [
        "0003_movements_by_time",
        "0004_see",
        "0005_sku_upper",
    ]
    (index,) = report.migrations[0].statements
    assert index.execution is Execution.EQUIVALENT and index.kind == "IndexStmt"
    assert index.equivalent is not None and "CONCURRENTLY" not in index.equivalent.upper()
    assert index.note is not None and "SHARE UPDATE EXCLUSIVE" in index.note
    # The real statement's lock, not the SHARE lock CREATE INDEX took.
    assert [(lk.mode, lk.relation, lk.state) for lk in index.locks] == [
        ("ShareUpdateExclusiveLock", "public.stock_movements", LockState.DOCUMENTED)
    ]
    assert all(lk.mode != "ShareLock" for lk in index.locks)
    # Seen inside the dry run's transaction, by the migration after it...
    inside = json.loads(seen.read_text())
    assert inside is not None and inside[1:] == [True, True]
    # ... gone after it: the catalog is what it was, and the migrations still pending.
    assert _catalog(pg_database) == before
    with pg_database.connect() as conn:
        assert conn.execute(INDEX).fetchone() is None
    assert [m.version for m in migrator.status().pending] == ["0003", "0004", "0005"]

    # The real run (CONCURRENTLY, outside a transaction) makes the index the dry run saw.
    migrator.up()
    with pg_database.connect() as conn:
        assert list(conn.execute(INDEX).fetchone() or ()) == inside


SETUP = (
    "CREATE TABLE t (id int PRIMARY KEY, x int, note text);\n"
    "INSERT INTO t SELECT g, g FROM generate_series(1, 500) g;\n"
    "CREATE INDEX t_x ON t (x);\n"
)
GONE = (
    "DO $$ BEGIN IF to_regclass('t_x') IS NOT NULL THEN"
    " RAISE EXCEPTION 't_x is still there'; END IF; END $$;\n"
)


def test_drop_and_reindex_concurrently_run_as_their_equivalents(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    folder = _folder(
        tmp_path,
        {
            "1_t.up.sql": SETUP,
            "2_reindex.up.sql": "REINDEX INDEX CONCURRENTLY t_x;\n"
            "REINDEX (VERBOSE, CONCURRENTLY) TABLE t;\n",
            "3_drop.up.sql": "-- no longer used\nDROP INDEX CONCURRENTLY t_x;\n",
            "4_gone.up.sql": GONE,
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up(target="1")
    before = _catalog(pg_database)
    report = dry_run(migrator)
    assert not report.failed, verdict(report)
    reindex, drop, gone = report.migrations
    assert gone.statements[0].execution is Execution.AS_WRITTEN  # it saw t_x gone
    assert [s.execution for s in (*reindex.statements, *drop.statements)] == [
        Execution.EQUIVALENT
    ] * 3
    assert drop.statements[0].line == 2
    assert drop.statements[0].equivalent == "DROP INDEX              t_x"

    def documented(statement: Any) -> set[tuple[str, str]]:
        assert all(lk.state is LockState.DOCUMENTED for lk in statement.locks)
        return {(lk.mode, lk.relation) for lk in statement.locks}

    sue = "ShareUpdateExclusiveLock"
    index, table = reindex.statements
    assert documented(index) == {(sue, "public.t"), (sue, "public.t_x")}
    assert documented(table) == {(sue, "public.t"), (sue, "public.t_x"), (sue, "public.t_pkey")}
    assert documented(drop.statements[0]) == {(sue, "public.t"), (sue, "public.t_x")}
    # What DROP INDEX took (ACCESS EXCLUSIVE on the table) is kept apart, never given as
    # the real statement's lock.
    assert ("AccessExclusiveLock", "public.t") in {
        (lk.mode, lk.relation) for lk in drop.statements[0].equivalent_locks
    }
    assert _catalog(pg_database) == before


# Holding a lock the concurrent statement waits for, so that what it holds can be read.
WAITS_FOR = {
    "CREATE INDEX CONCURRENTLY t_note ON t (note)": "INSERT INTO t VALUES (9000, 1)",
    "DROP INDEX CONCURRENTLY t_x": "SELECT count(*) FROM t",
    "REINDEX INDEX CONCURRENTLY t_x": "INSERT INTO t VALUES (9000, 1)",
    "REINDEX (CONCURRENTLY) TABLE t": "INSERT INTO t VALUES (9000, 1)",
}
HOLDS = """
SELECT n.nspname || '.' || c.relname, l.mode FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = %s AND l.granted AND n.nspname NOT IN ('pg_catalog', 'pg_toast')
"""


def _held_by_the_real_statement(db: PgDatabase, sql: str) -> set[tuple[str, str]]:
    """The relation locks PostgreSQL shows ``sql`` holding while it waits for a writer."""
    holder = db.connect()
    runner = db.connect(autocommit=True)
    try:
        holder.execute(WAITS_FOR[sql])
        thread = threading.Thread(target=runner.execute, args=(sql,))
        thread.start()
        with db.connect(autocommit=True) as watcher:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                row = watcher.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                    (runner.info.backend_pid,),
                ).fetchone()
                if row and row[0] == "Lock":
                    break
                time.sleep(0.01)
            held = watcher.execute(HOLDS, (runner.info.backend_pid,)).fetchall()
        holder.rollback()
        thread.join(30)
    finally:
        holder.close()
        runner.close()
    return {(mode, relation) for relation, mode in held}


@pytest.mark.parametrize("sql", list(WAITS_FOR))
def test_the_locks_reported_are_those_the_real_statement_holds(
    pg_database: PgDatabase, tmp_path: Path, sql: str
) -> None:
    folder = _folder(tmp_path, {"1_t.up.sql": SETUP, "2_c.up.sql": sql + ";\n"})
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up(target="1")
    existing = {row[0] for row in _catalog(pg_database)}
    report = dry_run(migrator)
    (statement,) = report.migrations[-1].statements
    reported = {(lk.mode, f"{lk.relation}") for lk in statement.locks}
    real = _held_by_the_real_statement(pg_database, sql)
    # The relations the real statement creates (t_note, t_x_ccnew) exist for it alone.
    assert reported == {(m, r) for m, r in real if r.removeprefix("public.") in existing}
    assert reported


@pytest.mark.parametrize(
    "sql",
    [
        "VACUUM (ANALYZE) t",
        "VACUUM FULL t",
        "CLUSTER",
        "REINDEX SCHEMA public",
        "REINDEX (CONCURRENTLY) TABLE p",  # partitioned: REINDEX cannot run in a transaction
    ],
)
def test_statements_that_change_no_schema_are_skipped(
    pg_database: PgDatabase, tmp_path: Path, sql: str
) -> None:
    folder = _folder(
        tmp_path,
        {
            "1_t.up.sql": SETUP + "CREATE TABLE p (id int) PARTITION BY RANGE (id);\n"
            "CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);\n",
            "2_skip.up.sql": f"{sql};\n",
            "3_after.up.sql": "INSERT INTO t VALUES (1000, 1);\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up(target="1")
    report = dry_run(migrator)
    assert not report.failed, verdict(report)
    skipped, after = report.migrations
    (statement,) = skipped.statements
    assert statement.execution is Execution.SKIPPED and statement.locks == ()
    assert statement.note is not None and "skipped" in statement.note
    assert after.statements[0].rows == 1
    # The real statement runs outside a transaction block (as the migrator runs it).
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(sql)


def _real_error(db: PgDatabase, sql: str) -> str:
    """PostgreSQL's message for ``sql`` run for real, outside a transaction block."""
    with db.connect(autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(sql)
    return caught.value.diag.message_primary or ""


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE INDEX CONCURRENTLY p_id ON p (id)",
        "DROP INDEX CONCURRENTLY t_x, t_note",
        "DROP INDEX CONCURRENTLY t_x CASCADE",
        "DROP INDEX CONCURRENTLY p_x",
        "REINDEX INDEX CONCURRENTLY ex_r_excl",
        "REINDEX TABLE CONCURRENTLY pg_class",
        "VACUUM nothere",
        "REINDEX SCHEMA nothere",
        "CREATE INDEX CONCURRENTLY t_x ON t (x)",  # exists: the equivalent fails the same way
    ],
)
def test_what_only_the_real_statement_refuses_fails_the_dry_run_as_it_would(
    pg_database: PgDatabase, tmp_path: Path, sql: str
) -> None:
    folder = _folder(
        tmp_path,
        {
            "1_t.up.sql": SETUP + "CREATE INDEX t_note ON t (note);\n"
            "CREATE TABLE p (id int, x int) PARTITION BY RANGE (id);\n"
            "CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);\n"
            "CREATE INDEX p_x ON p (x);\n"
            "CREATE TABLE ex (r int4range, EXCLUDE USING gist (r WITH &&));\n",
            "2_bad.up.sql": f"{sql};\n",
            "3_after.up.sql": "SELECT 1;\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up(target="1")
    before = _catalog(pg_database)
    report = dry_run(migrator)
    assert report.failed and report.not_run == ["3_after"]
    (bad,) = report.migrations
    assert bad.error is not None
    assert bad.error.startswith(f"{folder / '2_bad.up.sql'}:1: {_real_error(pg_database, sql)}")
    assert verdict(report) == f"2_bad failed ({bad.error}); 3_after was not tried"
    assert _catalog(pg_database) == before


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("ALTER SYSTEM SET work_mem = '8MB'", "ALTER SYSTEM"),
        ("CREATE DATABASE plimsoll_never_made", "CREATE DATABASE"),
        ("ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", "DETACH PARTITION"),
    ],
)
def test_a_statement_without_an_equivalent_still_stops_the_dry_run(
    pg_database: PgDatabase, tmp_path: Path, sql: str, reason: str
) -> None:
    folder = _folder(
        tmp_path,
        {
            "1_p.up.sql": "CREATE TABLE p (id int) PARTITION BY RANGE (id);\n"
            "CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);\n",
            "2_index.up.sql": "CREATE INDEX CONCURRENTLY p1_id ON p1 (id);\n",
            "3_none.up.sql": f"SELECT 1;\n{sql};\n",
            "4_y.up.sql": "SELECT 1;\n",
            "5_z.up.sql": "SELECT 1;\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up(target="1")
    report = dry_run(migrator)
    assert report.failed and report.stopped_at == "3_none"
    index, none = report.migrations
    assert index.statements[0].execution is Execution.EQUIVALENT
    assert not none.dry_runnable and none.statements == ()
    assert none.reason is not None and none.reason.startswith("line 2: ") and reason in none.reason
    assert verdict(report) == f"3_none cannot be dry-run ({none.reason}); 4_y, 5_z were not tried"
    with pg_database.connect() as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname = 'plimsoll_never_made'"
        ).fetchone() == (0,)
