"""``store.url`` end to end: ``db migrate up`` records runs in PostgreSQL, ``db risk`` learns."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from plimsoll.core.store import open_store
from plimsoll.db.risk.calibration import Calibration, CalibrationCache, measure
from plimsoll.db.risk.facts import read_facts
from tests.support import cli
from tests.support.cli import plimsoll
from tests.support.postgres import PgDatabase, PgServer

REWRITE = "ALTER TABLE {table} ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"


@pytest.fixture(scope="module")
def calibration(pg_server: PgServer) -> tuple[str, Calibration]:
    """One small calibration of the test server, put in each project's cache."""
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        key = read_facts(conn, []).server.cache_key
        return key, measure(conn, rows=10_000, repeats=1)


def _project(root: Path, dsn: str, calibration: tuple[str, Calibration]) -> Path:
    folder = root / "db" / "migrations"
    folder.mkdir(parents=True)
    (root / "plimsoll.toml").write_text(
        f'[db.environments.development]\nurl = "{dsn}"\n[store]\nurl = "${{PLIMSOLL_STORE_URL}}"\n'
    )
    tables = "".join(
        f"CREATE TABLE r{i} (id bigint PRIMARY KEY, note text);\n"
        f"INSERT INTO r{i} SELECT g, md5(g::text) FROM generate_series(1, {rows}) AS g;\n"
        for i, rows in enumerate((20_000, 30_000, 40_000, 30_000), start=1)
    )
    (folder / "0001_tables.up.sql").write_text(tables)
    for i in (1, 2, 3, 4):
        (folder / f"000{i + 1}_r{i}.up.sql").write_text(REWRITE.format(table=f"r{i}"))
    key, measured = calibration
    CalibrationCache(root / ".plimsoll" / "cache" / "risk-calibration.json").put(key, measured)
    return root


def test_migration_runs_go_to_postgres_and_risk_learns_from_them(
    tmp_path: Path,
    pg_database: PgDatabase,
    calibration: tuple[str, Calibration],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(cli.ENV, "PLIMSOLL_STORE_URL", pg_database.dsn)
    root = _project(tmp_path / "service", pg_database.dsn, calibration)
    plimsoll(root, "db", "migrate", "up", "--target", "0004")
    with pg_database.connect(autocommit=True) as conn:
        conn.execute("ANALYZE")
        runs = conn.execute(
            "SELECT version, direction, outcome, tables FROM plimsoll.migration_runs ORDER BY id"
        ).fetchall()
    assert [(r[0], r[1], r[2]) for r in runs] == [
        (v, "up", "applied") for v in ("0001", "0002", "0003", "0004")
    ]
    ((table, size),) = runs[1][3]
    assert table == "r1" and size > 1_000_000
    with open_store(url=pg_database.dsn) as store:
        stored = store.migration_runs()
    assert [r.version for r in stored] == ["0004", "0003", "0002", "0001"]
    assert stored[2].tables == (("r1", size),) and stored[2].duration_ms >= 0
    # Nothing went to a SQLite store.
    assert not (root / ".plimsoll" / "state.db").exists()

    report = json.loads(plimsoll(root, "db", "risk", "-f", "json").stdout)
    (migration,) = report["migrations"]
    (statement,) = migration["statements"]
    assert statement["duration"]["method"] == "learned"
    assert statement["duration"]["samples"] == 3
    assert any(line.startswith("learned: 3 recorded runs") for line in report["method"])


def test_an_unreachable_store_url_is_one_line_without_the_password(
    tmp_path: Path,
    pg_database: PgDatabase,
    calibration: tuple[str, Calibration],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "st0re-Secret"
    monkeypatch.setitem(cli.ENV, "PLIMSOLL_STORE_URL", f"postgresql://app:{secret}@127.0.0.1:1/st")
    root = _project(tmp_path / "service", pg_database.dsn, calibration)
    done = plimsoll(root, "db", "migrate", "up", check=3)
    assert "cannot reach the PostgreSQL state store (store.url) at 127.0.0.1:1/st" in done.stderr
    assert secret not in done.stderr + done.stdout
    assert done.stderr.strip().count("\n") == 0
    with pg_database.connect() as conn:
        assert conn.execute("SELECT to_regclass('public.r1')").fetchone() == (None,)
    # Risk works without its history, and says why.
    risky = plimsoll(root, "db", "risk", "-f", "json")
    assert "127.0.0.1:1/st" in risky.stderr and secret not in risky.stderr
    assert json.loads(risky.stdout)["migrations"]
