"""Sequences and the dry run, against a real PostgreSQL.

``setval`` is not transactional: a migration calling it is not dry-run at all. A sequence that
still moves (through a function or a ``DO`` block the parser cannot see into) is reported with
its old and new values: forward is a warning, backwards fails the dry run. The dry run never
sets a sequence back: what ``pg_sequences`` shows afterwards is what the report says.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import psycopg
import pytest
from rich.console import Console

from plimsoll.cli.db_dry_run import render_dry_run
from plimsoll.db.dry_run import DryRunReport, SequenceMove, dry_run
from plimsoll.db.migrator import Migrator

BIG = (
    "CREATE TABLE big (id bigserial PRIMARY KEY, x int);\n"
    "INSERT INTO big (x) SELECT g FROM generate_series(1, 1000) g;\n"
)
REASON = "setval is not transactional: a dry run cannot undo it"


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _sequence(dsn: str, name: str) -> tuple[int | None, int, bool]:
    """What PostgreSQL reports of the sequence: pg_sequences' last_value, and its own row."""
    with psycopg.connect(dsn) as conn:
        shown = conn.execute(
            "SELECT last_value FROM pg_sequences WHERE sequencename = %s", (name,)
        ).fetchone()
        raw = conn.execute(
            psycopg.sql.SQL("SELECT last_value, is_called FROM {}").format(
                psycopg.sql.Identifier(name)
            )
        ).fetchone()
    assert shown is not None and raw is not None
    return shown[0], raw[0], raw[1]


def _text(report: DryRunReport) -> str:
    console = Console(file=io.StringIO(), record=True, width=400)
    render_dry_run(report, "text", console)
    return console.export_text()


def _applied(pg_database: Any, tmp_path: Path, files: dict[str, str]) -> Migrator:
    """A migrator whose first migration (the big table, 1000 rows) is applied."""
    migrator = Migrator(pg_database.dsn, _folder(tmp_path, {"0001_big.up.sql": BIG, **files}))
    migrator.up(target="0001")
    return migrator


def test_a_migration_calling_setval_is_not_run_and_the_sequence_stays(
    pg_database: Any, tmp_path: Path
) -> None:
    migrator = _applied(
        pg_database,
        tmp_path,
        {
            "0002_setval.up.sql": "SELECT setval('big_id_seq', 1);\n",
            "0003_more.up.sql": "INSERT INTO big (x) VALUES (1);\n",
            "0004_last.up.sql": "SELECT 1;\n",
        },
    )
    report = dry_run(migrator)
    (setval,) = report.migrations
    assert not setval.dry_runnable and setval.reason == f"line 1: {REASON}"
    assert setval.statements == ()
    assert report.failed and report.stopped_at == "0002_setval"
    assert report.not_run == ["0003_more", "0004_last"]
    # PostgreSQL still hands out 1001 next: the live sequence did not move.
    assert _sequence(pg_database.dsn, "big_id_seq") == (1000, 1000, True)
    assert report.sequences == []
    with psycopg.connect(pg_database.dsn) as conn:
        row = conn.execute("INSERT INTO big (x) VALUES (0) RETURNING id").fetchone()
    assert row == (1001,)
    text = _text(report)
    assert f"  not dry-runnable: line 1: {REASON}" in text
    assert text.splitlines()[-1] == (
        f"exit 1: 0002_setval cannot be dry-run (line 1: {REASON});"
        " 0003_more, 0004_last were not tried"
    )


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT pg_catalog.setval('big_id_seq', 1, false);",
        "SELECT * FROM setval('big_id_seq', 5);",
        "ALTER TABLE big ADD COLUMN y bigint DEFAULT setval('big_id_seq', 1);",
        "UPDATE big SET x = setval('big_id_seq', 1)::int WHERE id = 1;",
    ],
)
def test_nothing_of_a_migration_calling_setval_runs(
    pg_database: Any, tmp_path: Path, statement: str
) -> None:
    # The INSERT before the setval would take 1001 if anything of the migration ran.
    migrator = _applied(
        pg_database, tmp_path, {"0002_x.up.sql": f"INSERT INTO big (x) VALUES (1);\n{statement}\n"}
    )
    report = dry_run(migrator)
    (migration,) = report.migrations
    assert (migration.dry_runnable, migration.reason) == (False, f"line 2: {REASON}")
    assert _sequence(pg_database.dsn, "big_id_seq") == (1000, 1000, True)
    assert report.sequences == [] and report.failed


HIDDEN = (
    "CREATE FUNCTION reset_big() RETURNS bigint LANGUAGE sql"
    " AS $$ SELECT setval('big_id_seq', 1) $$;\n"
    "SELECT reset_big();\n"
)


def test_a_sequence_moved_backwards_through_a_function_fails_the_dry_run(
    pg_database: Any, tmp_path: Path
) -> None:
    report = dry_run(_applied(pg_database, tmp_path, {"0002_hidden.up.sql": HIDDEN}))
    # Not set back by the dry run: PostgreSQL shows what the report says.
    assert _sequence(pg_database.dsn, "big_id_seq") == (1, 1, True)
    assert report.sequences == [SequenceMove("public", "big_id_seq", 1000, 1, True, next=2)]
    assert report.failed and report.backwards == report.sequences
    assert all(m.dry_runnable and not m.error for m in report.migrations)
    lines = _text(report).splitlines()
    assert lines[-3].startswith(
        "error: sequence public.big_id_seq moved backwards: 1000 -> 1 (next value 2);"
        " inserts may collide with existing keys."
    )
    assert lines[-2] == (
        "rolled back; sequences moved: public.big_id_seq 1000 -> 1; PostgreSQL never rolls them back"
    )
    assert lines[-1] == "exit 1: sequence public.big_id_seq moved backwards (1000 -> 1)"


def test_a_reset_to_not_called_in_a_do_block_is_backwards(pg_database: Any, tmp_path: Path) -> None:
    block = "DO $$ BEGIN PERFORM setval('big_id_seq', 7, false); END $$;\n"
    report = dry_run(_applied(pg_database, tmp_path, {"0002_do.up.sql": block}))
    assert _sequence(pg_database.dsn, "big_id_seq") == (None, 7, False)
    assert report.sequences == [SequenceMove("public", "big_id_seq", 1000, None, True, next=7)]
    assert report.failed


def test_descending_sequences_move_backwards_upwards(pg_database: Any, tmp_path: Path) -> None:
    with pg_database.connect() as conn:
        conn.execute("CREATE SEQUENCE down INCREMENT -1")
        conn.execute("SELECT nextval('down') FROM generate_series(1, 10)")
    folder = _folder(
        tmp_path,
        {
            "1_on.up.sql": "SELECT nextval('down');\n",
            "2_up.up.sql": "DO $$ BEGIN PERFORM setval('down', -3); END $$;\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    forward = dry_run(migrator, target="1")
    assert forward.sequences == [SequenceMove("public", "down", -10, -11, False, next=-12)]
    assert not forward.failed  # forward is a warning only
    assert "error:" not in _text(forward)
    backward = dry_run(migrator)
    assert backward.sequences == [SequenceMove("public", "down", -11, -3, True, next=-4)]
    assert backward.failed
    assert _sequence(pg_database.dsn, "down") == (-3, -3, True)


SETVAL_FROM_PYTHON = """
def up(conn):
    conn.execute("SELECT setval('big_id_seq', 10)")
"""


def test_a_python_migration_moving_a_sequence_back_is_caught(
    pg_database: Any, tmp_path: Path
) -> None:
    report = dry_run(_applied(pg_database, tmp_path, {"0002_py.py": SETVAL_FROM_PYTHON}))
    assert report.sequences == [SequenceMove("public", "big_id_seq", 1000, 10, True, next=11)]
    assert report.failed
