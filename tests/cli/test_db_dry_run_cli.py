"""``plimsoll db migrate up --dry-run`` end to end against the test PostgreSQL: exit codes,
the migrations it did not run, and a terminal free of log dumps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.cli import plimsoll

BIG = (
    "CREATE TABLE big (id bigserial PRIMARY KEY, x int);\n"
    "INSERT INTO big (x) SELECT g FROM generate_series(1, 1000) g;\n"
)


@pytest.fixture
def project(tmp_path: Path, pg_database: Any) -> Path:
    """A project whose development environment is a fresh test database, 0001_big applied."""
    root = tmp_path / "service"
    (root / "db" / "migrations").mkdir(parents=True)
    (root / "plimsoll.toml").write_text(
        f'[db.environments.development]\nurl = "{pg_database.dsn}"\n'
    )
    (root / "db" / "migrations" / "0001_big.up.sql").write_text(BIG)
    plimsoll(root, "db", "migrate", "up")
    return root


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / "db" / "migrations" / name).write_text(text)


def _last_value(pg_database: Any) -> object:
    with psycopg.connect(pg_database.dsn) as conn:
        row = conn.execute("SELECT last_value FROM big_id_seq").fetchone()
    return row[0] if row else None


def test_setval_is_not_dry_run_and_what_follows_is_named(project: Path, pg_database: Any) -> None:
    _write(
        project,
        {
            "0002_setval.up.sql": "SELECT setval('big_id_seq', 1);\n",
            "0003_cic.up.sql": "CREATE INDEX CONCURRENTLY big_x ON big (x);\n",
            "0004_z.up.sql": "SELECT 1;\n",
        },
    )
    done = plimsoll(project, "db", "migrate", "up", "--dry-run", check=1)
    assert done.stdout.splitlines() == [
        "0002_setval",
        "  not dry-runnable: line 1: setval is not transactional: a dry run cannot undo it",
        "not run (the dry run stopped at 0002_setval): 0003_cic, 0004_z",
        "rolled back: nothing was kept",
    ]
    # The report says it; the terminal gets no dump of the log event's fields.
    assert done.stderr == ""
    assert _last_value(pg_database) == 1000
    data = json.loads(
        plimsoll(project, "db", "migrate", "up", "--dry-run", "-f", "json", check=1).stdout
    )
    assert (data["failed"], data["stopped_at"], data["not_run"]) == (
        True,
        "0002_setval",
        ["0003_cic", "0004_z"],
    )
    (migration,) = data["migrations"]
    assert migration["dry_runnable"] is False and "setval" in migration["reason"]


def test_a_non_dry_runnable_migration_names_the_rest_and_the_log_keeps_the_fields(
    project: Path,
) -> None:
    _write(
        project,
        {
            "0002_a.up.sql": "ALTER TABLE big ADD COLUMN a boolean;\n",
            "0003_cic.up.sql": "CREATE INDEX CONCURRENTLY big_x ON big (x);\n",
            "0004_z.up.sql": "SELECT 1;\n",
        },
    )
    done = plimsoll(project, "db", "migrate", "up", "--dry-run", check=1)
    assert "not run (the dry run stopped at 0003_cic): 0004_z" in done.stdout
    assert done.stderr == ""
    # The structured event, with its fields, is in the JSON log.
    logged = plimsoll(
        project, "--debug", "--log-format", "json", "db", "migrate", "up", "--dry-run", check=1
    )
    events = [json.loads(line) for line in logged.stderr.splitlines() if line.startswith("{")]
    (failed,) = [e for e in events if e.get("event") == "dry_run_failed"]
    assert failed["not_run"] == ["0004_z"]
    assert failed["pending"] == ["0002_a", "0003_cic", "0004_z"]
    assert failed["message"] == (
        "dry run failed: 0003_cic is not dry-runnable: line 1: CREATE INDEX CONCURRENTLY;"
        " not run: 0004_z"
    )


def test_exit_codes_for_sequences_moved_forward_and_backwards(
    project: Path, pg_database: Any
) -> None:
    _write(project, {"0002_rows.up.sql": "INSERT INTO big (x) VALUES (1), (2);\n"})
    forward = plimsoll(project, "db", "migrate", "up", "--dry-run")  # a warning: exit 0
    assert forward.stdout.splitlines()[-1] == (
        "rolled back; sequences moved: public.big_id_seq 1000 -> 1002;"
        " PostgreSQL never rolls them back"
    )
    assert _last_value(pg_database) == 1002
    _write(
        project,
        {
            "0003_back.up.sql": "CREATE FUNCTION back() RETURNS bigint LANGUAGE sql"
            " AS $$ SELECT setval('big_id_seq', 3) $$;\nSELECT back();\n"
        },
    )
    back = plimsoll(project, "db", "migrate", "up", "--dry-run", "-f", "json", check=1)
    data = json.loads(back.stdout)
    assert data["failed"] is True and data["not_run"] == []
    assert data["sequences_moved"] == [
        {
            "schema": "public",
            "name": "big_id_seq",
            "before": 1002,
            "after": 3,
            "backwards": True,
            "next": 4,
        }
    ]
    assert _last_value(pg_database) == 3  # reported, never set back by plimsoll
