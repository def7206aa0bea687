"""``plimsoll db migrate up --dry-run`` end to end against the test PostgreSQL: exit codes,
the closing line saying why it exits 1, the migrations it did not try, the example project's
concurrent index dry-run as its equivalent, and a terminal free of log dumps."""

from __future__ import annotations

import json
import shutil
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
        "rolled back: nothing was kept",
        "exit 1: 0002_setval cannot be dry-run (line 1: setval is not transactional: a dry run"
        " cannot undo it); 0003_cic, 0004_z were not tried",
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
    assert data["exit_code"] == 1
    assert data["exit_reason"] == done.stdout.splitlines()[-1].removeprefix("exit 1: ")
    (migration,) = data["migrations"]
    assert migration["dry_runnable"] is False and "setval" in migration["reason"]


def test_a_non_dry_runnable_migration_names_the_rest_and_the_log_keeps_the_fields(
    project: Path,
) -> None:
    _write(
        project,
        {
            "0002_a.up.sql": "ALTER TABLE big ADD COLUMN a boolean;\n",
            "0003_sys.up.sql": "ALTER SYSTEM SET work_mem = '8MB';\n",
            "0004_z.up.sql": "SELECT 1;\n",
        },
    )
    done = plimsoll(project, "db", "migrate", "up", "--dry-run", check=1)
    assert done.stdout.splitlines()[-3:] == [
        "  not dry-runnable: line 1: ALTER SYSTEM",
        "rolled back: nothing was kept",
        "exit 1: 0003_sys cannot be dry-run (line 1: ALTER SYSTEM); 0004_z was not tried",
    ]
    assert done.stderr == ""
    # The structured event, with its fields, is in the JSON log.
    logged = plimsoll(
        project, "--debug", "--log-format", "json", "db", "migrate", "up", "--dry-run", check=1
    )
    events = [json.loads(line) for line in logged.stderr.splitlines() if line.startswith("{")]
    (failed,) = [e for e in events if e.get("event") == "dry_run_failed"]
    assert failed["not_run"] == ["0004_z"]
    assert failed["pending"] == ["0002_a", "0003_sys", "0004_z"]
    assert failed["message"] == (
        "dry run failed: 0003_sys cannot be dry-run (line 1: ALTER SYSTEM); 0004_z was not tried"
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


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-service" / "db"


def test_the_example_project_dry_runs_with_exit_0(tmp_path: Path, pg_database: Any) -> None:
    """Its 0003 builds an index CONCURRENTLY, as the lint rules advise: a CI gate on the dry
    run passes, and later migrations are tried."""
    root = tmp_path / "service"
    shutil.copytree(EXAMPLE, root / "db")
    (root / "db" / "migrations" / "0004_later.up.sql").write_text(
        "ALTER TABLE stock_movements ADD COLUMN note text;\n"
    )
    (root / "plimsoll.toml").write_text(
        f'[db.environments.development]\nurl = "{pg_database.dsn}"\n'
    )
    done = plimsoll(root, "db", "migrate", "up", "--dry-run")
    lines = done.stdout.splitlines()
    assert lines[-1] == "rolled back: nothing was kept"
    assert not any(line.startswith("exit 1") for line in lines)
    start = lines.index("0003_movements_by_time")
    assert lines[start + 1].startswith(
        "  line 2 IndexStmt, dry-run as its transactional equivalent: "
    )
    assert lines[start + 1].endswith(
        "; locks: ShareUpdateExclusiveLock on public.stock_movements"
        " (the real statement's, not observed)"
    )
    assert lines[start + 2].startswith(
        "    note: CREATE INDEX CONCURRENTLY cannot run in a transaction block: dry-run as"
        " CREATE INDEX"
    )
    assert lines[start + 3] == "0004_later"
    data = json.loads(plimsoll(root, "db", "migrate", "up", "--dry-run", "-f", "json").stdout)
    assert (data["failed"], data["exit_code"], data["exit_reason"]) == (False, 0, None)
    (index,) = data["migrations"][2]["statements"]
    assert index["execution"] == "equivalent"
    assert index["equivalent"].split() == "CREATE INDEX stock_movements_moved_at ON".split() + [
        "stock_movements",
        "(moved_at)",
    ]
    assert [lock["state"] for lock in index["locks"]] == ["documented"]
    # Nothing was kept; the real run then applies all four.
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('stock_movements')").fetchone() == (None,)
    plimsoll(root, "db", "migrate", "up")
    with psycopg.connect(pg_database.dsn) as conn:
        row = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'stock_movements_moved_at'::regclass"
        ).fetchone()
    assert row == (True,)
