"""Dry-run against a real PostgreSQL: timings, locks and rows captured, nothing left behind."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.emoji import Emoji

from plimsoll.cli.db_dry_run import render_dry_run
from plimsoll.db.dry_run import DryRunReport, Execution, LockState, SequenceMove, dry_run
from plimsoll.db.migrator import Migrator

SNAPSHOT = """
SELECT c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'public' ORDER BY 1, 3
"""


def _snapshot(dsn: str) -> tuple[list[Any], list[Any], list[Any]]:
    with psycopg.connect(dsn) as conn:
        catalog = conn.execute(SNAPSHOT).fetchall()
        constraints = conn.execute(
            "SELECT conname, contype FROM pg_constraint c JOIN pg_namespace n"
            " ON n.oid = c.connamespace WHERE n.nspname = 'public' ORDER BY 1"
        ).fetchall()
        rows = conn.execute("SELECT * FROM items ORDER BY id").fetchall()
    return catalog, constraints, rows


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_dry_run_captures_and_leaves_nothing_behind(pg_database: Any, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "1_items.up.sql": "CREATE TABLE items (id int PRIMARY KEY, name text);\n"
            "INSERT INTO items VALUES (1, 'a'), (2, 'b');\n",
            "2_more.up.sql": "ALTER TABLE items ADD COLUMN price int NOT NULL DEFAULT 0;\n"
            "UPDATE items SET price = 5;\n"
            "CREATE INDEX items_name ON items (name);\n",
            "3_concurrent.up.sql": "CREATE INDEX CONCURRENTLY items_price ON items (price);\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up(target="1")
    before = _snapshot(pg_database.dsn)
    report = dry_run(migrator)
    assert report.rolled_back
    assert _snapshot(pg_database.dsn) == before  # schema, constraints and data unchanged
    assert migrator.status().current == "1"
    more, concurrent = report.migrations
    alter, update, index = more.statements
    assert update.rows == 2 and update.kind == "UpdateStmt"
    assert ("AccessExclusiveLock", "public.items") in {(lk.mode, lk.relation) for lk in alter.locks}
    assert ("ShareLock", "public.items") in {(lk.mode, lk.relation) for lk in index.locks}
    assert all(s.duration_ms >= 0 for s in more.statements)
    # Dry-run as CREATE INDEX; reported with the lock the real CONCURRENTLY build takes.
    (built,) = concurrent.statements
    assert concurrent.dry_runnable and built.execution is Execution.EQUIVALENT
    assert [(lk.mode, lk.relation, lk.state) for lk in built.locks] == [
        ("ShareUpdateExclusiveLock", "public.items", LockState.DOCUMENTED)
    ]
    assert not report.failed


def test_a_failing_statement_is_reported_and_rolled_back(pg_database: Any, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "1_items.up.sql": "CREATE TABLE items (id int PRIMARY KEY);\n",
            "2_bad.up.sql": "INSERT INTO items VALUES (1);\nINSERT INTO items VALUES (1);\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    report = dry_run(migrator)
    assert report.migrations[-1].error is not None
    assert "2_bad.up.sql:2:" in report.migrations[-1].error
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('items')").fetchone() == (None,)


def _text(report: DryRunReport) -> str:
    """The text report as a terminal would show it (emoji codes on, as by default)."""
    console = Console(file=io.StringIO(), record=True, width=300, emoji=True)
    render_dry_run(report, "text", console)
    return console.export_text()


def _last_value(dsn: str, sequence: str) -> int | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT last_value FROM pg_sequences WHERE sequencename = %s", (sequence,)
        ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


# A Python migration that, through a connection of its own, advances a sequence: another
# session using it while the dry run runs.
OTHER_SESSION = """
import psycopg


def up(conn):
    with psycopg.connect(conn.info.dsn, autocommit=True) as other:
        other.execute("SELECT nextval('busy')")
"""


def test_sequences_the_dry_run_advanced_are_reported_not_set_back(
    pg_database: Any, tmp_path: Path, capsys: Any
) -> None:
    folder = _folder(
        tmp_path,
        {
            "1_t.up.sql": "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY, v text);\n"
            "CREATE TABLE fresh (id int GENERATED ALWAYS AS IDENTITY);\n"
            "CREATE SEQUENCE busy;\n"
            "INSERT INTO t (v) VALUES ('kept');\n",
            "2_rows.up.sql": "INSERT INTO t (v) VALUES ('a'), ('b');\n"
            "INSERT INTO fresh DEFAULT VALUES;\n"
            "CREATE TABLE gone (id int GENERATED ALWAYS AS IDENTITY);\n"
            "INSERT INTO gone DEFAULT VALUES;\n",
            "3_other.py": OTHER_SESSION,
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up(target="1")
    report = dry_run(migrator)
    assert not report.failed and report.rolled_back
    # Not set back: what pg_sequences shows now is what the report says.
    assert _last_value(pg_database.dsn, "t_id_seq") == 3
    assert _last_value(pg_database.dsn, "fresh_id_seq") == 1
    assert _last_value(pg_database.dsn, "busy") == 1  # by the other session
    assert report.sequences == [
        SequenceMove("public", "fresh_id_seq", None, 1, backwards=False, next=2),
        SequenceMove("public", "t_id_seq", 1, 3, backwards=False, next=4),
    ]
    assert _text(report).splitlines()[-1] == (
        "rolled back; sequences moved: public.fresh_id_seq unused -> 1,"
        " public.t_id_seq 1 -> 3; PostgreSQL never rolls them back"
    )
    render_dry_run(report, "json")
    data = json.loads(capsys.readouterr().out)
    assert data["sequences_moved"] == [
        {
            "schema": "public",
            "name": "fresh_id_seq",
            "before": None,
            "after": 1,
            "backwards": False,
            "next": 2,
        },
        {
            "schema": "public",
            "name": "t_id_seq",
            "before": 1,
            "after": 3,
            "backwards": False,
            "next": 4,
        },
    ]
    assert data["rolled_back"] is True and data["failed"] is False
    (rows, _other) = data["migrations"]
    # The INSERT's locks: on the table, and on its identity sequence (nextval).
    assert rows["statements"][0]["locks"] == [
        {
            "locktype": "relation",
            "relation": rel,
            "mode": "RowExclusiveLock",
            "object": "",
            "state": "new",
            "held_since": None,
        }
        for rel in ("public.t", "public.t_id_seq")
    ]


def test_a_dry_run_with_no_sequence_used_says_nothing_was_kept(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _folder(
        tmp_path,
        {"1_items.up.sql": "CREATE TABLE items (id int GENERATED ALWAYS AS IDENTITY);\n"},
    )
    report = dry_run(Migrator(pg_database.dsn, folder))
    assert report.sequences == []
    assert _text(report).splitlines()[-1] == "rolled back: nothing was kept"


MARKUP_NAMES = """
def up(conn):
    conn.execute('CREATE TABLE "[red]y:fire:" (id int)')
"""


def test_names_print_as_they_are_neither_markup_nor_emoji(pg_database: Any, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "1_x.up.sql": 'CREATE TABLE "[bold]x:up:" (id int);\n',
            "2_py.py": MARKUP_NAMES,
            "3_bad.up.sql": "INSERT INTO \"[bold]x:up:\" VALUES ('[i]no:up:');\n",
        },
    )
    report = dry_run(Migrator(pg_database.dsn, folder))
    text = _text(report)
    assert (
        "line 1 CreateStmt:" in text and "locks: AccessExclusiveLock on public.[bold]x:up:" in text
    )
    assert "line 1 python:up:" in text
    assert "AccessExclusiveLock on public.[red]y:fire:" in text
    # The server's message quotes the user's value: printed as it is too.
    assert 'invalid input syntax for type integer: "[i]no:up:"' in text
    assert str(Emoji("up")) not in text and str(Emoji("fire")) not in text
