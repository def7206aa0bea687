"""Risk against a real table of a million rows: the issue's acceptance tests.

One database with ``big`` (1,000,000 rows from generate_series, about 130 MB with its primary
key) is built once for this module, and the server is calibrated once on it. Predictions are
then checked against what PostgreSQL does when the statements really run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from plimsoll.db.risk import Level, LockLevel, assess
from plimsoll.db.risk.calibration import Calibration, measure
from plimsoll.db.risk.config import RiskConfig
from tests.support.postgres import PgServer

ROWS = 1_000_000


@dataclass(frozen=True)
class BigDb:
    """The module's database: its URL and the server's calibration."""

    dsn: str
    calibration: Calibration

    def connect(self) -> psycopg.Connection[object]:
        return psycopg.connect(self.dsn, autocommit=True)


@pytest.fixture(scope="module")
def big(pg_server: PgServer) -> Iterator[BigDb]:
    """A database holding ``big`` (built once for the module) and a calibration of the server."""
    name = f"risk_big_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    dsn = pg_server.dsn_for(name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL,"
                " n integer NOT NULL, created timestamptz NOT NULL)"
            )
            conn.execute(
                "INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text), g %% 1000,"
                " now() - g * interval '1 second' FROM generate_series(1, %s) AS g",
                (ROWS,),
            )
            conn.execute("VACUUM ANALYZE big")
            conn.execute("CHECKPOINT")
            calibration = measure(conn, rows=RiskConfig().calibration_rows, repeats=3)
        yield BigDb(dsn, calibration)
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def one(big: BigDb, text: str):  # type: ignore[no-untyped-def]
    report = assess([("0001_change", text)], big.dsn, calibration=big.calibration)
    (migration,) = report.migrations
    return report, migration


def test_the_table_is_really_a_million_rows(big: BigDb) -> None:
    with big.connect() as conn:
        assert conn.execute("SELECT count(*) FROM big").fetchone() == (ROWS,)


def test_a_volatile_default_is_high_and_its_interval_holds_the_real_rewrite(big: BigDb) -> None:
    statement = "ALTER TABLE big ADD COLUMN token uuid DEFAULT gen_random_uuid()"
    report, migration = one(big, statement + ";\n")
    (risk,) = migration.statements
    assert risk.lock_level is LockLevel.ACCESS_EXCLUSIVE
    assert risk.blocks_reads and risk.blocks_writes and risk.rewrites
    assert risk.level in (Level.HIGH, Level.CRITICAL), risk.score.as_dict()
    assert migration.level in (Level.HIGH, Level.CRITICAL)
    assert any("backfill" in advice for advice in risk.recommendations)
    assert [f.rule for f in risk.findings] == ["adding-field-with-default"]
    (table,) = risk.tables
    with big.connect() as conn:
        size, rows = conn.execute(
            "SELECT pg_total_relation_size('big'), reltuples FROM pg_class WHERE relname = 'big'"
        ).fetchone()  # type: ignore[misc]
    assert (table.name, table.total_bytes, table.rows) == ("big", size, rows)
    # The lock is held for the whole rewrite.
    assert risk.lock_seconds == risk.duration
    assert migration.lock_seconds.mean == pytest.approx(risk.duration.mean)
    # Really run it on a copy of the table, with the same primary key.
    with big.connect() as conn:
        conn.execute("CREATE TABLE big_copy AS SELECT * FROM big")
        conn.execute("ALTER TABLE big_copy ADD PRIMARY KEY (id)")
        conn.execute("VACUUM ANALYZE big_copy")
        # Written out first, as before the calibration: a checkpoint must not land mid-timing.
        conn.execute("CHECKPOINT")
        before = conn.execute("SELECT pg_relation_filenode('big_copy')").fetchone()
        started = time.perf_counter()
        conn.execute(statement.replace("TABLE big ", "TABLE big_copy "))
        measured = time.perf_counter() - started
        after = conn.execute("SELECT pg_relation_filenode('big_copy')").fetchone()
        conn.execute("DROP TABLE big_copy")
    assert before != after  # PostgreSQL did rewrite it into a new file
    duration = risk.duration
    assert duration.mean is not None
    print(f"predicted {duration.text()} [{duration.basis}], measured {measured:.2f} s")
    assert duration.low <= measured <= duration.high


@pytest.mark.parametrize("default", ["false", "now()"])
def test_a_constant_or_stable_default_is_low_and_does_not_rewrite(big: BigDb, default: str) -> None:
    kind = "boolean" if default == "false" else "timestamptz"
    statement = f"ALTER TABLE big ADD COLUMN flag {kind} DEFAULT {default}"
    _, migration = one(big, statement + ";\n")
    (risk,) = migration.statements
    assert risk.lock_level is LockLevel.ACCESS_EXCLUSIVE
    assert not risk.rewrites and not risk.scans
    assert risk.level is Level.LOW and migration.level is Level.LOW
    assert risk.lock_seconds.mean is not None and risk.lock_seconds.mean < 0.05
    # PostgreSQL agrees: the table keeps its file (the default is stored in the catalog).
    with big.connect() as conn, conn.transaction(force_rollback=True):
        before = conn.execute("SELECT pg_relation_filenode('big')").fetchone()
        conn.execute(statement)
        assert conn.execute("SELECT pg_relation_filenode('big')").fetchone() == before


def test_create_index_and_concurrently_differ_as_the_docs_say(big: BigDb) -> None:
    plain_sql = "CREATE INDEX big_n ON big (n)"
    report = assess(
        [
            ("0001_plain", plain_sql + ";\n"),
            ("0002_online", "CREATE INDEX CONCURRENTLY IF NOT EXISTS big_n2 ON big (n);\n"),
        ],
        big.dsn,
        calibration=big.calibration,
    )
    plain, online = report.migrations
    (p,), (c,) = plain.statements, online.statements
    assert p.lock_level is LockLevel.SHARE and c.lock_level is LockLevel.SHARE_UPDATE_EXCLUSIVE
    assert p.blocks_writes and not p.blocks_reads
    assert not c.blocks_writes and not c.blocks_reads and c.concurrently
    assert p.transactional and not c.transactional and not online.transactional
    assert p.lock_seconds.mean and p.lock_seconds.mean > 0 and c.lock_seconds.mean == 0
    assert c.duration.mean and p.duration.mean and c.duration.mean > p.duration.mean
    assert c.score.value < p.score.value and c.level is Level.LOW
    assert any("CONCURRENTLY" in advice for advice in p.recommendations)
    with big.connect() as conn:
        with conn.transaction(force_rollback=True):
            conn.execute(plain_sql)
            modes = {
                LockLevel.from_pg_locks(m)
                for (m,) in conn.execute(
                    "SELECT mode FROM pg_locks WHERE relation = 'big'::regclass"
                    " AND pid = pg_backend_pid() AND granted"
                ).fetchall()
            }
        assert max(m.rank for m in modes if m) == p.lock_level.rank
        # And CONCURRENTLY cannot run in a transaction block, as the report says.
        with pytest.raises(psycopg.errors.ActiveSqlTransaction), conn.transaction():
            conn.execute("CREATE INDEX CONCURRENTLY big_n3 ON big (n)")


def test_a_quick_lock_taken_early_is_held_through_the_slow_statements(big: BigDb) -> None:
    _, migration = one(
        big,
        "ALTER TABLE big ADD COLUMN flag boolean DEFAULT false;\n"
        "CREATE INDEX big_created ON big (created);\n",
    )
    quick, slow = migration.statements
    assert quick.level is Level.LOW and quick.lock_level is LockLevel.ACCESS_EXCLUSIVE
    (reads,) = [hold for hold in migration.holds if hold.level.blocks_reads]
    assert reads.from_line == 1
    assert reads.seconds.mean == pytest.approx(
        (quick.duration.mean or 0) + (slow.duration.mean or 0)
    )
    assert any(
        advice.startswith("move line 1 (ACCESS EXCLUSIVE on big)")
        for advice in migration.recommendations
    )
    assert migration.score.value > slow.score.value
