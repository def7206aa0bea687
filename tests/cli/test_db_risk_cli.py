"""``plimsoll db risk`` end to end: pending migrations, files and versions, formats, exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from plimsoll.db.risk.calibration import Calibration, CalibrationCache, measure
from plimsoll.db.risk.facts import read_facts
from tests.support.cli import plimsoll
from tests.support.postgres import PgDatabase, PgServer


@pytest.fixture(scope="module")
def calibration(pg_server: PgServer) -> tuple[str, Calibration]:
    """One small calibration of the test server, shared through each project's cache."""
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        key = read_facts(conn, []).server.cache_key
        return key, measure(conn, rows=10_000, repeats=1)


@pytest.fixture
def project(
    tmp_path: Path, pg_database: PgDatabase, calibration: tuple[str, Calibration]
) -> Iterator[Path]:
    """A project on the test database: accounts created by 0001 (applied), 0002-0003 pending."""
    root = tmp_path / "service"
    folder = root / "db" / "migrations"
    folder.mkdir(parents=True)
    (root / "plimsoll.toml").write_text(
        f'[db.environments.development]\nurl = "{pg_database.dsn}"\n'
        '[db.environments.down]\nurl = "postgresql://app:s3cret-pw@127.0.0.1:1/app"\n'
    )
    (folder / "0001_accounts.up.sql").write_text(
        "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);\n"
        "INSERT INTO accounts SELECT g, 'user' || g || '@example.com'"
        " FROM generate_series(1, 50000) AS g;\n"
    )
    (folder / "0002_token.up.sql").write_text(
        "-- a volatile default\nALTER TABLE accounts ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"
    )
    (folder / "0003_email_index.up.sql").write_text(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_email ON accounts (email);\n"
    )
    key, measured = calibration
    CalibrationCache(root / ".plimsoll" / "cache" / "risk-calibration.json").put(key, measured)
    plimsoll(root, "db", "migrate", "up", "--target", "0001")
    with pg_database.connect(autocommit=True) as conn:
        conn.execute("ANALYZE accounts")
    yield root


def test_pending_migrations_as_json(project: Path) -> None:
    data = json.loads(plimsoll(project, "db", "risk", "-f", "json").stdout)
    assert [m["label"] for m in data["migrations"]] == ["0002_token", "0003_email_index"]
    token, index = data["migrations"]
    (add,) = token["statements"]
    assert (add["line"], add["lock_level"], add["rewrites"]) == (2, "ACCESS EXCLUSIVE", True)
    assert add["blocks_reads"] and add["blocks_writes"]
    assert add["tables"][0]["name"] == "accounts" and add["tables"][0]["rows"] == 50000
    assert token["holds"][0]["table"] == "accounts"
    assert [f["rule"] for f in token["findings"]] == ["adding-field-with-default"]
    (build,) = index["statements"]
    assert build["lock_level"] == "SHARE UPDATE EXCLUSIVE" and not build["blocks_writes"]
    assert index["transactional"] is False and index["holds"] == []
    assert data["calibration"]["source"] == "cache"
    assert data["fail_level"] == "CRITICAL" and data["failed"] is False
    assert (
        data["server"]["database"]
        == json.loads(plimsoll(project, "db", "risk", "-f", "json").stdout)["server"]["database"]
    )


def test_text_explains_the_lock_the_score_and_the_downtime(project: Path) -> None:
    done = plimsoll(project, "db", "risk", "0002")
    text = done.stdout
    assert "0002_token (db/migrations/0002_token.up.sql)" in text
    assert (
        "blocks reads and writes on accounts (ACCESS EXCLUSIVE, from line 2 to the commit)" in text
    )
    assert "rewrite of accounts" in text
    for factor in ("data volume", "lock time", "dependencies", "anomalies", "concurrent load"):
        assert factor in text
    assert "recommendation: add the column without a default" in text
    assert "method" in text and "caveats" in text and "calibration (cache" in text
    assert "lint db/migrations/0002_token.up.sql:2: warning adding-field-with-default" in text
    assert "0003" not in text  # only what was asked for
    assert done.stderr == ""  # quiet off a terminal


def test_files_versions_and_the_failing_level(project: Path) -> None:
    folder = project / "db" / "migrations"
    by_file = json.loads(
        plimsoll(
            project, "db", "risk", str(folder / "0003_email_index.up.sql"), "-f", "json"
        ).stdout
    )
    assert [m["label"] for m in by_file["migrations"]] == ["0003_email_index"]
    loose = project / "hotfix.sql"
    loose.write_text("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE;\n")
    data = json.loads(plimsoll(project, "db", "risk", str(loose), "-f", "json").stdout)
    assert data["migrations"][0]["statements"][0]["lock_level"] == "ACCESS EXCLUSIVE"
    failed = plimsoll(
        project, "db", "risk", "0002_token", "--fail-level", "low", "-f", "json", check=1
    )
    assert json.loads(failed.stdout)["failed"] is True
    text = plimsoll(project, "db", "risk", "--fail-level", "LOW", check=1).stdout
    assert "migration(s) at LOW or above: 0002_token, 0003_email_index" in text


def test_usage_errors_exit_2_and_an_unreachable_database_3(project: Path) -> None:
    bad_level = plimsoll(project, "db", "risk", "--fail-level", "severe", check=2)
    assert bad_level.stderr.startswith("plimsoll: error: --fail-level: expected one of LOW")
    unknown = plimsoll(project, "db", "risk", "0099", check=2)
    assert "0099: not a file, nor a migration version" in unknown.stderr
    (project / "db" / "migrations" / "0004_broken.up.sql").write_text("SELECT 1;\nALTER TABLE;\n")
    broken = plimsoll(project, "db", "risk", "0004", check=2)
    assert "0004_broken.up.sql:2:" in broken.stderr and "Traceback" not in broken.stderr
    down = plimsoll(project, "db", "risk", "0002", "--env", "down", check=3)
    assert "s3cret-pw" not in down.stderr and "Traceback" not in down.stderr
    assert down.stderr.count("\n") == 1


def test_nothing_pending_and_help(project: Path) -> None:
    plimsoll(project, "db", "migrate", "up")
    assert "nothing to assess" in plimsoll(project, "db", "risk").stdout
    empty = json.loads(plimsoll(project, "db", "risk", "-f", "json").stdout)
    assert empty == {"level": "LOW", "migrations": [], "fail_level": "CRITICAL", "failed": False}
    raw = plimsoll(project, "db", "risk", "--help").stdout
    helped = " ".join(raw.split())
    assert "db.risk.fail_level" in helped and "Exit codes" in helped
    assert "data volume 25%" in helped
    assert "([tool.plimsoll.db.risk] in pyproject.toml)" in helped  # not swallowed as markup
    # Paragraphs flow to the terminal's width (200 columns here), not the source's lines.
    first = next(line for line in raw.splitlines() if "MIGRATIONS are migration files" in line)
    assert len(first.strip()) > 150


def test_each_assessment_is_timed_for_plimsolls_own_objectives(project: Path) -> None:
    from plimsoll.core.store import SqliteStore

    plimsoll(project, "db", "risk", "-f", "json")
    plimsoll(project, "db", "risk", "-f", "json")
    with SqliteStore(project / ".plimsoll" / "state.db") as store:
        timings = store.timings("risk_assessment")
    assert len(timings) == 2 and all(t.seconds > 0 for t in timings)
    slo = json.loads(plimsoll(project, "db", "slo", "-f", "json", check=None).stdout)
    assert "risk_assessment" in json.dumps(slo)


def test_each_migration_once_files_outside_the_folder_and_failures(project: Path) -> None:
    twice = json.loads(plimsoll(project, "db", "risk", "0002", "0002_token", "-f", "json").stdout)
    (token,) = twice["migrations"]
    assert [f["rule"] for f in token["findings"]] == ["adding-field-with-default"]
    script = project.parent / "backfill.py"
    script.write_text("def up(conn):\n    conn.execute('UPDATE accounts SET email = email')\n")
    python = json.loads(plimsoll(project, "db", "risk", str(script), "-f", "json").stdout)
    (migration,) = python["migrations"]
    assert migration["label"] == "backfill.py" and migration["level"] == "HIGH"
    (statement,) = migration["statements"]
    assert statement["known"] is False and statement["lock_level"] == "ACCESS EXCLUSIVE"
    broken = project / "504.sql"
    broken.write_text("ALTER TABLE accounts ALTER COLUMN nickname TYPE text;\n")
    text = plimsoll(project, "db", "risk", str(broken), check=1).stdout
    assert text.startswith("504.sql (504.sql) ")
    assert "WILL FAIL" in text
    assert 'will fail at line 1: column "nickname" of relation "accounts" does not exist' in text
    assert "1 will fail: 504.sql" in text


def test_a_predicted_outage_is_critical_by_default(project: Path) -> None:
    # The reviewer's case: an uncalibrated slow server, a volatile default on a table in use.
    config = project / "plimsoll.toml"
    config.write_text(
        config.read_text()
        + "[db.risk]\ncalibrate = false\n[db.risk.uncalibrated]\nrewrite_bytes_per_second = 100000\n"
    )
    done = plimsoll(project, "db", "risk", "0002", "-f", "json", check=1)
    (token,) = json.loads(done.stdout)["migrations"]
    assert token["level"] == "CRITICAL" and token["lock_seconds"]["mean"] > 10
    assert token["score"]["lock_time_floor"] is True
    assert token["score"]["weighted_sum"] < 0.75 <= token["score"]["value"]
    text = plimsoll(project, "db", "risk", "0002", check=1).stdout
    assert "the blocking time alone makes it CRITICAL" in text


def test_a_named_migration_already_applied_is_said_to_be(project: Path) -> None:
    done = plimsoll(project, "db", "risk", "0001", "0002", check=None)
    assert done.returncode in (0, 1)
    assert "note: 0001_accounts is already applied to this database" in done.stderr
    assert "0002_token is already applied" not in done.stderr


def test_no_migrations_folder_exits_2_without_starting_a_server(tmp_path: Path) -> None:
    # No URL configured: resolving one would start the embedded server under .plimsoll/pg.
    (tmp_path / "plimsoll.toml").write_text("[db]\n", encoding="utf-8")
    done = plimsoll(tmp_path, "db", "risk", "--format", "json", check=2)
    assert "migrations folder not found" in done.stderr
    assert not (tmp_path / ".plimsoll" / "pg").exists()
