"""What the statement rules say about a live database's tables, against what PostgreSQL does.

Each test lints a migration against a real database (as ``--env`` does: its catalog is the
starting point), then runs the migration's statements on that database and asks PostgreSQL
what happened: a new relfilenode (the table was rewritten), the locks ``pg_locks`` shows, the
sequential scans ``pg_stat_user_tables`` counts. The findings must match.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from plimsoll.db.lint.compose import compose
from plimsoll.db.lint.engine import LintReport, LiveDatabase, SourceFile, lint_sources
from plimsoll.db.lint.live import read_database
from plimsoll.db.lint.registry import load_registry
from plimsoll.db.risk.locks import LockLevel
from tests.support.postgres import PgDatabase


def _lint(pg_database: PgDatabase, sql: str, rules: list[str]) -> LintReport:
    """``sql`` linted as a migration on top of the live database (``db lint FILE --env``)."""
    database = read_database(pg_database.dsn)
    active, audit = compose(load_registry(), [], select=rules, pg_version=database.major)
    return lint_sources(
        [SourceFile("m.sql", sql, True)],
        active,
        audit,
        pg_version=database.major,
        live=LiveDatabase(database.catalog, database.applied),
    )


def _filenode(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute("SELECT pg_relation_filenode(%s::regclass)", (table,)).fetchone()
    assert row is not None
    return int(row[0])


def _rewritten_lines(pg_database: PgDatabase, sql: str, table: str) -> list[int]:
    """The lines of ``sql`` (one statement a line) whose statement rewrote ``table``."""
    rewritten = []
    with pg_database.connect(autocommit=True) as conn:
        for line, statement in enumerate(sql.splitlines(), start=1):
            before = _filenode(conn, table)
            conn.execute(statement)  # type: ignore[arg-type]
            if _filenode(conn, table) != before:
                rewritten.append(line)
    return rewritten


def test_adding_a_column_of_a_domain_with_constraints_rewrites(pg_database: PgDatabase) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(
            "CREATE DOMAIN us_zip AS text CHECK (VALUE ~ '^[0-9]{5}$');"
            "CREATE DOMAIN plain_note AS text;"
            "CREATE DOMAIN required_code AS text NOT NULL DEFAULT 'x';"
            "CREATE TABLE items (id bigint PRIMARY KEY);"
            "INSERT INTO items SELECT generate_series(1, 500)"
        )
    sql = (
        "ALTER TABLE items ADD COLUMN zip us_zip;\n"
        "ALTER TABLE items ADD COLUMN note plain_note;\n"
        "ALTER TABLE items ADD COLUMN code required_code;\n"
        "ALTER TABLE items ADD COLUMN qty integer DEFAULT 0;\n"
    )
    report = _lint(pg_database, sql, ["adding-field-with-default"])
    found = [f.line for f in report.findings]
    # PostgreSQL rewrote the table for the constrained domains only.
    assert found == _rewritten_lines(pg_database, sql, "items") == [1, 3]
    assert "domain public.us_zip, which has constraints:" in report.findings[0].message
    assert report.findings[0].help.startswith("Add zip as text (the domain's base type)")


def test_a_type_change_is_judged_by_the_live_column_type(pg_database: PgDatabase) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(
            "CREATE DOMAIN email AS text;"
            "CREATE TABLE items (id bigint PRIMARY KEY, name varchar(50), qty integer,"
            " mail email, code text, label varchar(20));"
            "INSERT INTO items (id, name, qty, mail, code, label)"
            " SELECT i, 'n' || i, i, 'm' || i, 'c' || i, 'l' || i FROM generate_series(1, 500) i"
        )
    sql = (
        "ALTER TABLE items ALTER COLUMN name TYPE varchar(100);\n"
        "ALTER TABLE items ALTER COLUMN qty TYPE bigint;\n"
        "ALTER TABLE items ALTER COLUMN mail TYPE text;\n"
        "ALTER TABLE items ALTER COLUMN code TYPE varchar;\n"
        "ALTER TABLE items ALTER COLUMN label TYPE varchar(10);\n"
    )
    report = _lint(pg_database, sql, ["changing-column-type"])
    assert [f.line for f in report.findings] == _rewritten_lines(pg_database, sql, "items")
    assert [f.line for f in report.findings] == [2, 5]
    messages = [f.message for f in report.findings]
    assert messages[0].endswith("(integer to bigint is not binary-coercible)")
    assert messages[1].endswith(
        "(character varying(20) to character varying(10) is not binary-coercible)"
    )
    # The database was read: the message never says the type is unknown.
    missing = _lint(
        pg_database, "ALTER TABLE items ALTER COLUMN gone TYPE text;\n", ["changing-column-type"]
    )
    [finding] = missing.findings
    assert "not in the linted migrations" not in finding.message
    assert "(the database has no column gone on public.items: no rewrite when" in finding.message


def _strongest_locks(conn: psycopg.Connection[Any], tables: tuple[str, ...]) -> dict[str, str]:
    """The strongest lock this session holds on each of ``tables``, as pg_locks says."""
    rows = conn.execute(
        "SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " WHERE l.pid = pg_backend_pid() AND l.granted AND c.relname = ANY(%s)",
        (list(tables),),
    ).fetchall()
    out: dict[str, LockLevel] = {}
    for name, mode in rows:
        level = LockLevel.from_pg_locks(mode)
        if level is not None and (name not in out or level.rank > out[name].rank):
            out[name] = level
    return {name: level.value for name, level in out.items()}


@pytest.mark.parametrize(
    ("statement", "child"),
    [
        ("ALTER TABLE p ADD COLUMN w_id bigint REFERENCES w (id)", "ACCESS EXCLUSIVE"),
        (
            "ALTER TABLE p ADD CONSTRAINT p_w_fk FOREIGN KEY (old_w) REFERENCES w (id)",
            "SHARE ROW EXCLUSIVE",
        ),
        (
            "ALTER TABLE p ADD COLUMN x int, ADD CONSTRAINT p_x_fk FOREIGN KEY (x) REFERENCES w",
            "ACCESS EXCLUSIVE",
        ),
    ],
)
def test_the_foreign_key_finding_names_the_locks_pg_locks_shows(
    pg_database: PgDatabase, statement: str, child: str
) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE w (id bigint PRIMARY KEY);"
            "CREATE TABLE p (id bigint PRIMARY KEY, old_w bigint)"
        )
    report = _lint(pg_database, statement + ";\n", ["adding-foreign-key-constraint"])
    [finding] = report.findings
    with pg_database.connect() as conn:  # a transaction: the locks are held until its end
        conn.execute(statement)  # type: ignore[arg-type]
        held = _strongest_locks(conn, ("p", "w"))
        conn.rollback()
    assert held["p"] == child and held["w"] == "SHARE ROW EXCLUSIVE"
    if held["p"] == held["w"]:
        assert f"takes a {held['p']} lock on public.p and public.w" in finding.message
    else:
        assert (
            f"takes an {held['p']} lock on public.p and a {held['w']} lock on public.w"
            in finding.message
        )
        assert "reads and writes to public.p, and writes to public.w" in finding.message


def _seq_scans(conn: psycopg.Connection[Any], table: str) -> int:
    # The backend's own counters, flushed now rather than within the next second.
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT seq_scan FROM pg_stat_user_tables WHERE relid = %s::regclass", (table,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_adding_a_column_with_a_check_scans_the_table(pg_database: PgDatabase) -> None:
    if pg_database.server.major < 15:
        pytest.skip("pg_stat_force_next_flush() is PostgreSQL 15's")
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE items (id bigint PRIMARY KEY);"
            "INSERT INTO items SELECT generate_series(1, 500)"
        )
    sql = (
        "ALTER TABLE items ADD COLUMN qty integer CHECK (qty > 0);\n"
        "ALTER TABLE items ADD COLUMN note text;\n"
    )
    report = _lint(pg_database, sql, ["constraint-missing-not-valid"])
    scanned = []
    with pg_database.connect(autocommit=True) as conn:
        for line, statement in enumerate(sql.splitlines(), start=1):
            before = _seq_scans(conn, "items")
            conn.execute(statement)  # type: ignore[arg-type]
            if _seq_scans(conn, "items") > before:
                scanned.append(line)
    assert [f.line for f in report.findings] == scanned == [1]
    assert report.findings[0].help.startswith("Add qty without the CHECK")
