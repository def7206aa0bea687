"""``plimsoll db diff`` as a user runs it: destructive changes shown and written as such,
identifiers printed as they are, URLs never wrapped (the real command, a real server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.db.test_differ import _RUNNER, _plimsoll
from tests.support.postgres import PgDatabase


def _wide(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command with room for a whole row on a line (rich folds cells at 80 columns)."""
    return subprocess.run(
        [sys.executable, "-c", _RUNNER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CI": "true", "NO_COLOR": "1", "COLUMNS": "250"},
    )


def _service(tmp_path: Path, dsn: str, schema: str) -> Path:
    root = tmp_path / "service"
    (root / "db" / "schema").mkdir(parents=True)
    (root / "db" / "schema" / "tables.sql").write_text(schema)
    (root / "plimsoll.toml").write_text(f'[db.environments.development]\nurl = "{dsn}"\n')
    return root


def _run(dsn: str, script: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(script)  # type: ignore[arg-type]


def test_a_dropped_column_is_destructive_in_json_text_and_the_migration(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    root = _service(tmp_path, pg_database.dsn, "CREATE TABLE users (id int);\n")
    _run(
        pg_database.dsn,
        "CREATE TABLE users (id int, nickname text); INSERT INTO users VALUES (1, 'bob');",
    )
    args = ("db", "diff", "--from", "development", "--to", "built")

    shown = _plimsoll(root, *args, "-f", "json")
    assert shown.returncode == 1, shown.stderr
    [change] = json.loads(shown.stdout)["changes"]
    assert (change["kind"], change["name"], change["destructive"]) == (
        "removed",
        "public.users.nickname",
        True,
    )
    assert change["destructive_reasons"] == ["drops column public.users.nickname and its data"]

    text = _plimsoll(root, *args)
    assert text.returncode == 1, text.stderr
    row = next(line for line in text.stdout.splitlines() if "public.users.nickname" in line)
    assert "destructive" in row
    assert "1 destructive change" in text.stdout.splitlines()

    done = _plimsoll(root, *args, "--generate", "drop_nickname")
    assert done.returncode == 1, done.stderr
    up = (root / "db" / "migrations" / "0001_drop_nickname.up.sql").read_text().splitlines()
    at = up.index("ALTER TABLE public.users DROP COLUMN nickname;")
    assert up[at - 1] == "-- destructive: drops column public.users.nickname and its data"
    # Going back adds an empty nullable column: nothing to lose, no warning.
    down = (root / "db" / "migrations" / "0001_drop_nickname.down.sql").read_text()
    assert "ADD COLUMN nickname text;" in down and "destructive" not in down


def test_a_widened_column_is_safe(pg_database: PgDatabase, tmp_path: Path) -> None:
    root = _service(tmp_path, pg_database.dsn, "CREATE TABLE users (id int, name varchar(80));\n")
    _run(pg_database.dsn, "CREATE TABLE users (id int, name varchar(40));")
    text = _plimsoll(root, "db", "diff", "--from", "development", "--to", "built")
    assert text.returncode == 1, text.stderr
    assert "public.users.name" in text.stdout
    assert "destructive" not in text.stdout
    shown = _plimsoll(root, "db", "diff", "--from", "development", "--to", "built", "-f", "json")
    [change] = json.loads(shown.stdout)["changes"]
    assert (change["destructive"], change["destructive_reasons"]) == (False, [])


def test_identifiers_are_printed_as_they_are(pg_database: PgDatabase, tmp_path: Path) -> None:
    # Square brackets are rich markup, :up: an emoji code: both must come out literally.
    root = _service(tmp_path, pg_database.dsn, "")
    _run(pg_database.dsn, 'CREATE TABLE "[red]weird:up:" ("[b]x:smile:" int);')
    text = _wide(root, "db", "diff", "--from", "development", "--to", "built")
    assert text.returncode == 1, text.stderr
    assert "public.[red]weird:up:" in text.stdout
    assert "🆙" not in text.stdout and "😄" not in text.stdout

    # A column and a detail that carry markup and emoji codes too (detail: the comment).
    _run(pg_database.dsn, 'DROP TABLE "[red]weird:up:";')
    (root / "db" / "schema" / "tables.sql").write_text(
        'CREATE TABLE "t:up:" ("[b]x:smile:" int);\nCOMMENT ON TABLE "t:up:" IS \'[i]new:fire:\';\n'
    )
    _run(pg_database.dsn, 'CREATE TABLE "t:up:" ("[b]x:smile:" int, "[red]gone:fire:" int);')
    text = _wide(root, "db", "diff", "--from", "development", "--to", "built")
    assert text.returncode == 1, text.stderr
    assert "public.t:up:.[red]gone:fire:" in text.stdout
    assert "none -> [i]new:fire:" in text.stdout
    assert not {"🆙", "🔥", "😄"} & set(text.stdout)


def test_urls_are_never_wrapped(pg_database: PgDatabase, tmp_path: Path) -> None:
    root = _service(tmp_path, pg_database.dsn, "CREATE TABLE users (id int);\n")
    _run(pg_database.dsn, "CREATE TABLE users (id int);")
    # Longer than the 80 columns rich assumes when stdout is not a terminal.
    url = f"{pg_database.dsn}?application_name={'x' * 90}"
    same = _plimsoll(root, "db", "diff", "--from", url, "--to", "built")
    assert same.returncode == 0, same.stdout + same.stderr
    assert f"no differences: {url} and built have the same schema" in same.stdout.splitlines()

    _run(pg_database.dsn, "ALTER TABLE users ADD COLUMN extra int;")
    differs = _plimsoll(root, "db", "diff", "--from", url, "--to", "built")
    assert differs.returncode == 1, differs.stdout + differs.stderr
    assert f"{url} -> built" in differs.stdout.splitlines()


def test_a_default_set_by_an_enum_change_is_reported(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    root = _service(
        tmp_path,
        pg_database.dsn,
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');\n"
        "CREATE TABLE people (id int, mood mood DEFAULT 'ok');\n",
    )
    _run(
        pg_database.dsn,
        "CREATE TYPE mood AS ENUM ('sad', 'ok');"
        " CREATE TABLE people (id int, mood mood DEFAULT 'sad');",
    )
    args = ("db", "diff", "--from", "development", "--to", "built")
    shown = _plimsoll(root, *args, "-f", "json")
    assert shown.returncode == 1, shown.stderr
    changes = {(c["object_type"], c["name"]): c for c in json.loads(shown.stdout)["changes"]}
    assert set(changes) == {("enum", "public.mood"), ("column", "public.people.mood")}
    column = changes["column", "public.people.mood"]
    assert column["detail"] == "default 'sad'::public.mood -> 'ok'::public.mood"
    assert (column["covered_by"], column["up_sql"]) == ("public.mood", "")
    # The statement is the enum change's: the report says so, and it is written once.
    assert "SET DEFAULT 'ok'::public.mood" in changes["enum", "public.mood"]["up_sql"]

    text = _wide(root, *args)
    row = next(line for line in text.stdout.splitlines() if "public.people.mood" in line)
    assert "default 'sad'::public.mood -> 'ok'::public.mood" in row
    assert "done by public.mood's DDL" in row
    assert "2 differences" in text.stdout.splitlines()

    done = _plimsoll(root, *args, "--generate", "happy")
    assert done.returncode == 1, done.stderr
    up = (root / "db" / "migrations" / "0001_happy.up.sql").read_text()
    statement = "ALTER TABLE public.people ALTER COLUMN mood SET DEFAULT 'ok'::public.mood;"
    assert up.count(statement) == 1


def _scratch_databases(dsn: str) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'plimsoll_diff_%'"
        ).fetchall()
    return [row[0] for row in rows]


def test_a_schema_that_cannot_be_built_is_not_a_difference(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    # A drift check must tell "the schemas differ" (1) from "one side could not be built".
    root = _service(
        tmp_path,
        pg_database.dsn,
        "CREATE TABLE orders (\n    id int,\n    qty integr NOT NULL\n);\n",
    )
    before = _scratch_databases(pg_database.dsn)
    args = ("db", "diff", "--from", "development", "--to", "built")
    text = _plimsoll(root, *args)
    assert text.returncode == 3, text.stdout + text.stderr
    [line] = text.stderr.splitlines()
    assert line.startswith("plimsoll: error: db/schema/tables.sql:3:"), line
    assert 'type "integr" does not exist' in line
    assert "Traceback" not in text.stderr

    shown = _plimsoll(root, *args, "-f", "json")
    assert shown.returncode == 3, shown.stdout + shown.stderr
    error = json.loads(shown.stdout)["error"]
    assert (error["kind"], error["exit_code"]) == ("build-failed", 3)
    assert error["message"].startswith("db/schema/tables.sql:3:")

    # --generate writes nothing, and the scratch database is gone.
    refused = _plimsoll(root, *args, "--generate", "x")
    assert refused.returncode == 3
    assert not (root / "db" / "migrations").exists()
    assert _scratch_databases(pg_database.dsn) == before


def test_a_schema_file_that_does_not_parse_is_bad_input(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    root = _service(tmp_path, pg_database.dsn, "CREATE TABLE orders (id int,, qty int);\n")
    done = _plimsoll(root, "db", "diff", "--from", "development", "--to", "built", "-f", "json")
    assert done.returncode == 2, done.stdout + done.stderr
    assert json.loads(done.stdout)["error"]["exit_code"] == 2
    assert "db/schema/tables.sql:1" in done.stderr


def test_the_help_says_what_each_exit_code_means(tmp_path: Path) -> None:
    shown = _wide(tmp_path, "db", "diff", "--help")
    assert shown.returncode == 0, shown.stderr
    lines = [line.strip() for line in shown.stdout.splitlines()]
    assert "- 1: they differ (each difference is listed)." in lines
    assert any(line.startswith("- 3: could not run:") for line in lines)
    assert "the built side cannot be built" in shown.stdout
