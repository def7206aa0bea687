"""What a statement reaches and when it fails, checked against what PostgreSQL really does.

One database per module (customers <- orders <- order_lines by foreign keys, views on orders,
an ``app`` schema with its own ``orders``); each statement is run in a transaction rolled back,
and ``pg_locks``, relfilenode, scan counters and errors are compared with the report.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from plimsoll.core.store import SqliteStore
from plimsoll.db.migrator import Migrator
from plimsoll.db.risk import Level, LockLevel, RiskReport, assess
from plimsoll.db.risk.calibration import Calibration
from plimsoll.db.risk.config import Throughput
from plimsoll.db.risk.report import StatementRisk
from tests.support.postgres import PgServer

DEFAULTS = Calibration.defaults(Throughput(), "not measured in these tests")
SCHEMA = """
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL, name text);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers,
                     status text, note varchar(50), uid uuid);
CREATE TABLE order_lines (id bigint PRIMARY KEY, order_id bigint REFERENCES orders, qty int);
CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
CREATE VIEW big_orders AS SELECT * FROM orders;
CREATE VIEW bigger_orders AS SELECT id FROM big_orders;
CREATE SCHEMA app;
CREATE TABLE app.orders (id bigint PRIMARY KEY, n int);
INSERT INTO customers SELECT g, 'u' || g || '@x.com', 'n' || g FROM generate_series(1, 2000) g;
INSERT INTO orders SELECT g, 1 + g % 2000, 'new', 'n' || g, NULL FROM generate_series(1, 20000) g;
INSERT INTO order_lines SELECT g, g, 1 FROM generate_series(1, 5000) g;
INSERT INTO events SELECT g FROM generate_series(1, 1000) g;
INSERT INTO app.orders SELECT g, g FROM generate_series(1, 5000) g;
"""


@pytest.fixture(scope="module")
def dsn(pg_server: PgServer) -> Iterator[str]:
    """A database with the schema above, for the whole module (tests never change it)."""
    name = f"risk_reach_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = pg_server.dsn_for(name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SCHEMA)
            conn.execute("VACUUM ANALYZE")
        yield url
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def report_of(dsn: str, *scripts: str, **kw: object) -> RiskReport:
    pairs = [(f"000{i}_m", text) for i, text in enumerate(scripts, start=1)]
    return assess(pairs, dsn, calibration=DEFAULTS, lint_findings=[], **kw)  # type: ignore[arg-type]


def only(dsn: str, text: str, **kw: object) -> StatementRisk:
    (statement,) = report_of(dsn, text + ";\n", **kw).migrations[0].statements
    return statement


CASCADES = [
    "TRUNCATE customers CASCADE",
    "DROP TABLE customers CASCADE",
    "ALTER TABLE customers DROP COLUMN id CASCADE",
    "DROP TABLE orders CASCADE",
    "ALTER TABLE orders DROP COLUMN note CASCADE",
    "ALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey",
    "ALTER TABLE customers ALTER COLUMN id TYPE integer",
    "DROP TABLE order_lines",
]


@pytest.mark.parametrize("text", CASCADES)
def test_every_relation_postgresql_locks_access_exclusive_is_reported(dsn: str, text: str) -> None:
    statement = only(dsn, text)
    assert statement.fails is None, statement.fails
    reported = {t.name for t in statement.tables if t.lock is LockLevel.ACCESS_EXCLUSIVE}
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Oids first: a dropped relation's name is gone from pg_class inside the transaction.
        names = dict(
            conn.execute(
                "SELECT oid, relname FROM pg_class WHERE relkind IN ('r', 'v', 'm', 'p')"
                " AND relnamespace = 'public'::regnamespace"
            ).fetchall()
        )
        with conn.transaction(force_rollback=True):
            conn.execute(text)
            taken = {
                names[oid]
                for (oid,) in conn.execute(
                    "SELECT relation FROM pg_locks WHERE pid = pg_backend_pid()"
                    " AND locktype = 'relation' AND mode = 'AccessExclusiveLock'"
                ).fetchall()
                if oid in names
            }
    assert reported == taken


def test_truncate_cascade_says_which_tables_it_empties(dsn: str) -> None:
    statement = only(dsn, "TRUNCATE customers CASCADE")
    emptied = {t.name: t.rows for t in statement.tables if t.emptied}
    assert emptied == {"customers": 2000, "orders": 20000, "order_lines": 5000}
    reasons = {t.name: t.reason for t in statement.tables}
    assert "CASCADE empties it" in (reasons["orders"] or "")
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction(force_rollback=True):
        conn.execute("TRUNCATE customers CASCADE")
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines)"
        ).fetchone()
    assert counts == (0, 0)


FAILING = {
    "ALTER TABLE orders ALTER COLUMN customer_id TYPE integer": (
        "cannot alter type of a column used by a view or rule"
    ),
    "ALTER TABLE nosuch ADD COLUMN x int DEFAULT random()": 'relation "nosuch" does not exist',
    "ALTER TABLE customers ALTER COLUMN nope TYPE text": (
        'column "nope" of relation "customers" does not exist'
    ),
    "ALTER TABLE customers ADD COLUMN email text": (
        'column "email" of relation "customers" already exists'
    ),
    "TRUNCATE customers": "cannot truncate a table referenced in a foreign key constraint",
    "DROP TABLE orders": "cannot drop table orders because other objects depend on it",
    "ALTER TABLE orders DROP COLUMN note": (
        "cannot drop column note of table orders because other objects depend on it"
    ),
    "ALTER TABLE customers DROP CONSTRAINT customers_pkey": (
        "cannot drop constraint customers_pkey on table customers because other objects"
    ),
    "CREATE TABLE customers (id int)": 'relation "customers" already exists',
}


def test_statements_that_will_fail_say_so_as_postgresql_does(dsn: str) -> None:
    report = report_of(
        dsn, *(f"{text};\n" for text in FAILING), "ALTER TABLE customers ADD nick text;\n"
    )
    *failing, fine = report.migrations
    with psycopg.connect(dsn, autocommit=True) as conn:
        for (text, message), migration in zip(FAILING.items(), failing, strict=True):
            (statement,) = migration.statements
            assert (statement.fails or "").startswith(message), (text, statement.fails)
            assert statement.notes[0] == f"this statement will fail: {statement.fails}"
            assert migration.failures == (f"line 1: {statement.fails}",)
            assert not statement.rewrites  # nothing happens: it stops at once
            with pytest.raises(psycopg.Error) as raised, conn.transaction(force_rollback=True):
                conn.execute(text)
            assert str(raised.value).startswith(message), (text, str(raised.value))
        with conn.transaction(force_rollback=True):
            conn.execute("ALTER TABLE customers ADD nick text")
    assert fine.failures == () and fine.statements[0].fails is None
    assert report.failed(Level.CRITICAL)  # `plimsoll db risk` exits 1


def _filenode_changes(conn: psycopg.Connection[object], script: str) -> bool:
    with conn.transaction(force_rollback=True):
        before = conn.execute("SELECT pg_relation_filenode('events')").fetchone()
        conn.execute(script)
        return conn.execute("SELECT pg_relation_filenode('events')").fetchone() != before


def test_timestamp_changes_rewrite_as_the_session_timezone_decides(dsn: str) -> None:
    scripts = [
        "ALTER TABLE events ALTER COLUMN at TYPE timestamp;\n",
        "SET TIME ZONE 'UTC';\nALTER TABLE events ALTER COLUMN at TYPE timestamp;\n",
        "SET TIME ZONE 'Europe/Berlin';\nALTER TABLE events ALTER COLUMN at TYPE timestamp;\n",
    ]
    reports = [report_of(dsn, script) for script in scripts]
    # Each as the migrator runs it: on its own session (SET then lasts for the run).
    with psycopg.connect(dsn, autocommit=True) as conn:
        zone = conn.execute("SHOW TimeZone").fetchone()
        first = _filenode_changes(conn, scripts[0])
    with psycopg.connect(dsn, autocommit=True) as conn:
        utc = _filenode_changes(conn, scripts[1])
    with psycopg.connect(dsn, autocommit=True) as conn:
        berlin = _filenode_changes(conn, scripts[2])
    rewrites = [r.migrations[0].statements[-1].rewrites for r in reports]
    assert rewrites == [first, utc, berlin], zone
    assert (utc, berlin) == (False, True)
    assert reports[0].server.timezone_zero is (not first)
    # In one run the first change is done by the time the others run: nothing left to do.
    run = report_of(dsn, *scripts)
    assert [m.statements[-1].rewrites for m in run.migrations] == [first, False, False]


def test_earlier_statements_of_the_migration_count(dsn: str) -> None:
    (with_check,) = report_of(
        dsn,
        "ALTER TABLE customers ADD CONSTRAINT name_nn CHECK (name IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE customers VALIDATE CONSTRAINT name_nn;\n"
        "ALTER TABLE customers ALTER COLUMN name SET NOT NULL;\n",
    ).migrations
    alone = only(dsn, "ALTER TABLE customers ALTER COLUMN name SET NOT NULL")
    assert not with_check.statements[2].scans and alone.scans
    # The server agrees: SET NOT NULL reads the table only without the validated CHECK.
    with psycopg.connect(dsn, autocommit=True) as conn:
        scans = "SELECT pg_stat_get_xact_numscans('customers'::regclass)"
        with conn.transaction(force_rollback=True):
            conn.execute(
                "ALTER TABLE customers ADD CONSTRAINT name_nn CHECK (name IS NOT NULL) NOT VALID"
            )
            conn.execute("ALTER TABLE customers VALIDATE CONSTRAINT name_nn")
            before = conn.execute(scans).fetchone()
            conn.execute("ALTER TABLE customers ALTER COLUMN name SET NOT NULL")
            assert conn.execute(scans).fetchone() == before
        with conn.transaction(force_rollback=True):
            before = conn.execute(scans).fetchone()
            conn.execute("ALTER TABLE customers ALTER COLUMN name SET NOT NULL")
            assert conn.execute(scans).fetchone() != before


def test_a_search_path_set_in_the_migration_names_the_table(dsn: str) -> None:
    report = report_of(
        dsn,
        "SET search_path = app, public;\n"
        "ALTER TABLE orders ADD COLUMN u2 uuid DEFAULT gen_random_uuid();\n"
        "UPDATE orders SET n = 1;\n"
        "ALTER TABLE customers ADD COLUMN nick text;\n",
    )
    _, add, update, customers = report.migrations[0].statements
    with psycopg.connect(dsn, autocommit=True) as conn:
        size = conn.execute("SELECT pg_total_relation_size('app.orders')").fetchone()
    (table,) = add.tables
    assert (table.name, table.relation, table.total_bytes, table.rows) == (
        "app.orders", "app.orders", size[0] if size else None, 5000,
    )  # fmt: skip
    assert update.row_locks == 5000  # the planner asked under the migration's search_path
    assert customers.tables[0].relation == "customers"  # found further down the path


def test_a_lock_request_queued_behind_a_session_waits_up_to_lock_timeout(dsn: str) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(dsn) as other:
            other.execute("SELECT count(*) FROM customers")  # ACCESS SHARE until rollback
            holding.set()
            release.wait(30)
            other.rollback()

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        assert holding.wait(10)
        text = "ALTER TABLE customers ADD COLUMN nick text"
        settings = {"lock_timeout": "300ms", "statement_timeout": "1min"}
        statement = only(dsn, text, migrator_settings=settings)
        unbounded = only(dsn, text, migrator_settings={"lock_timeout": "0"})
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '300ms'")
            started = time.perf_counter()
            with pytest.raises(psycopg.errors.LockNotAvailable):
                conn.execute(text)
            waited = time.perf_counter() - started
    finally:
        release.set()
        worker.join(10)
    assert statement.wait.mean == pytest.approx(0.3)
    assert statement.lock_seconds.mean is not None and statement.lock_seconds.mean >= 0.3
    assert statement.level is Level.MEDIUM  # 0.3 s of blocked reads and writes
    assert any("wait up to lock_timeout (300 ms)" in note for note in statement.notes)
    assert waited == pytest.approx(0.3, abs=0.25)  # what PostgreSQL did
    assert unbounded.level is Level.CRITICAL  # nothing bounds the queue


def test_an_update_of_every_row_holds_their_row_locks(dsn: str) -> None:
    report = report_of(dsn, "UPDATE orders SET status = 'x';\n")
    (migration,) = report.migrations
    (statement,) = migration.statements
    (hold,) = migration.holds
    assert statement.row_locks == 20000 and not statement.blocks_writes
    assert (hold.table, hold.rows, hold.share) == ("orders", 20000, 1.0)
    assert statement.score.factor("lock_time").raw == pytest.approx(
        (statement.lock_seconds.mean or 0) * 0.75
    )
    # PostgreSQL: another session's UPDATE of a row waits; an INSERT goes through.
    with psycopg.connect(dsn) as first, psycopg.connect(dsn, autocommit=True) as second:
        first.execute("UPDATE orders SET status = 'x'")
        second.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            second.execute("UPDATE orders SET status = 'y' WHERE id = 7")
        with second.transaction(force_rollback=True):
            second.execute("INSERT INTO orders VALUES (100001, 1, 'new', NULL, NULL)")
        first.rollback()


def test_a_do_block_is_the_worst_case_everywhere(dsn: str) -> None:
    report = report_of(dsn, "DO $$ BEGIN UPDATE orders SET note = note; END $$;\n")
    (migration,) = report.migrations
    (statement,) = migration.statements
    assert statement.lock_level is LockLevel.ACCESS_EXCLUSIVE
    assert statement.blocks_reads and statement.blocks_writes
    assert statement.lock_seconds.mean is None and migration.lock_seconds.mean is None
    factors = {f.name: f for f in migration.score.factors}
    assert "worst case" in factors["data_volume"].detail
    assert "worst case" in factors["lock_time"].detail
    assert migration.level is Level.HIGH


def test_loose_migrations_learn_from_the_projects_history(dsn: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in (1, 2, 3):
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS learn{i} AS SELECT g AS id FROM generate_series(1, 20000) g"
            )
    for i in (1, 2, 3):
        (folder / f"000{i}_l{i}.up.sql").write_text(
            f"ALTER TABLE learn{i} ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"
        )
    store = SqliteStore.memory()
    try:
        Migrator(dsn, folder, store=store).up()
        loose = [
            ("hotfix.sql", "ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();\n")
        ]
        report = assess(
            loose, dsn, calibration=DEFAULTS, lint_findings=[], store=store, history_folder=folder
        )
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE learn1, learn2, learn3, plimsoll_migrations")
    (statement,) = report.migrations[0].statements
    assert statement.duration.method == "learned" and statement.duration.samples == 3
