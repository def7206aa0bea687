"""Risk against a real PostgreSQL: lock levels as the server takes them, live facts, load,
lock holds, learning from recorded runs, calibration and errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from plimsoll.core.errors import CannotRunError
from plimsoll.core.store import SqliteStore
from plimsoll.db.migrations import discover
from plimsoll.db.migrator import Migrator
from plimsoll.db.risk import Level, LockLevel, assess
from plimsoll.db.risk.calibration import Calibration, CalibrationCache, calibrate
from plimsoll.db.risk.config import RiskConfig, Throughput
from plimsoll.db.risk.facts import read_facts
from plimsoll.db.risk.lock_profile import profile
from plimsoll.db.risk.operations import Knowledge
from plimsoll.db.sql import SqlSyntaxError
from plimsoll.db.sqljson import parse_json
from tests.support.postgres import PgDatabase

DEFAULTS = Calibration.defaults(Throughput(), "not measured in these tests")

SCHEMA = """
CREATE TABLE parents (id bigint PRIMARY KEY, name text);
CREATE TABLE kids (id bigint PRIMARY KEY, parent_id bigint, note text, n integer);
CREATE INDEX kids_note ON kids (note);
CREATE TABLE measures (id integer, at integer) PARTITION BY RANGE (at);
CREATE TABLE measures_1 (id integer, at integer);
CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER kids_audit AFTER INSERT ON kids FOR EACH ROW EXECUTE FUNCTION trg();
ALTER TABLE kids ADD CONSTRAINT kids_n_check CHECK (n > 0) NOT VALID;
INSERT INTO parents SELECT g, 'p' || g FROM generate_series(1, 2000) AS g;
INSERT INTO kids SELECT g, 1 + g % 2000, 'k' || g, 1 + g % 7 FROM generate_series(1, 20000) AS g;
CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS c FROM kids;
CREATE VIEW parent_names AS SELECT name FROM parents;
ANALYZE;
"""


@pytest.fixture
def db(pg_database: PgDatabase) -> Iterator[PgDatabase]:
    """A fresh database with a small schema of related tables."""
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(SCHEMA)
    yield pg_database


# Statements whose lock profile is checked against pg_locks inside a rolled-back transaction.
STATEMENTS = [
    "ALTER TABLE kids ADD COLUMN token uuid DEFAULT gen_random_uuid()",
    "ALTER TABLE kids ADD COLUMN flag boolean DEFAULT false",
    "ALTER TABLE kids ADD CONSTRAINT kids_parent FOREIGN KEY (parent_id) REFERENCES parents (id)",
    "ALTER TABLE kids VALIDATE CONSTRAINT kids_n_check",
    "ALTER TABLE kids ALTER COLUMN n SET STATISTICS 500",
    "ALTER TABLE kids SET (fillfactor = 80)",
    "ALTER TABLE kids DISABLE TRIGGER kids_audit",
    "ALTER TABLE kids ALTER COLUMN note SET NOT NULL",
    "ALTER TABLE kids ALTER COLUMN note TYPE varchar(20)",
    "ALTER TABLE kids ADD CONSTRAINT kids_n_pos CHECK (n > 0)",
    "ALTER TABLE measures ATTACH PARTITION measures_1 FOR VALUES FROM (0) TO (10)",
    "CREATE INDEX kids_n ON kids (n)",
    "CREATE TRIGGER kids_audit2 AFTER UPDATE ON kids FOR EACH ROW EXECUTE FUNCTION trg()",
    "CREATE TABLE more_kids (id integer, parent_id bigint REFERENCES parents (id))",
    "CREATE POLICY everyone ON kids USING (true)",
    "DROP INDEX kids_note",
    "REINDEX TABLE kids",
    "TRUNCATE kids",
    "LOCK TABLE kids IN EXCLUSIVE MODE",
    "COMMENT ON TABLE kids IS 'children'",
    "REFRESH MATERIALIZED VIEW totals",
    "UPDATE kids SET n = 2 WHERE id < 10",
]


def test_lock_levels_are_the_ones_postgresql_takes(db: PgDatabase) -> None:
    mismatches = []
    with db.connect(autocommit=True) as conn:
        knowledge = Knowledge(pg_version=conn.info.server_version // 10000)
        for text in STATEMENTS:
            (statement,) = parse_json(text).statements
            found = profile(statement.kind, statement.node, knowledge)
            assert found.known, text
            targets = []
            for lock in found.locks:
                relation = lock.table
                if lock.via_index:  # the lock that matters is on the index's table
                    row = conn.execute(
                        "SELECT indrelid::regclass::text FROM pg_index"
                        " WHERE indexrelid = %s::regclass",
                        (relation,),
                    ).fetchone()
                    relation = row[0] if row else relation
                targets.append((lock, conn.execute("SELECT to_regclass(%s)::oid", (relation,))))
            with conn.transaction(force_rollback=True):
                conn.execute(text)
                for lock, cursor in targets:
                    relation_oid = cursor.fetchone()
                    modes = [
                        LockLevel.from_pg_locks(m)
                        for (m,) in conn.execute(
                            "SELECT mode FROM pg_locks WHERE locktype = 'relation'"
                            " AND pid = pg_backend_pid() AND granted"
                            " AND relation = %s",
                            (relation_oid[0] if relation_oid else None,),
                        ).fetchall()
                    ]
                    taken = max((m for m in modes if m), key=lambda m: m.rank, default=None)
                    if taken is not lock.level:
                        mismatches.append((text, lock.table, lock.level, taken))
    assert mismatches == []


def test_reindex_locks_the_indexes_it_rebuilds_access_exclusive(db: PgDatabase) -> None:
    # The profile's notes say reads using the index wait: pg_locks must show why.
    with db.connect(autocommit=True) as conn:
        knowledge = Knowledge(pg_version=conn.info.server_version // 10000)
        for text in ("REINDEX TABLE kids", "REINDEX INDEX kids_note"):
            (statement,) = parse_json(text).statements
            notes = " ".join(profile(statement.kind, statement.node, knowledge).notes)
            assert "ACCESS EXCLUSIVE" in notes, text
            with conn.transaction(force_rollback=True):
                conn.execute(text)
                modes = dict(
                    conn.execute(
                        "SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c"
                        " ON c.oid = l.relation WHERE l.pid = pg_backend_pid() AND l.granted"
                        " AND c.relkind = 'i' AND c.relname LIKE 'kids%'"
                    ).fetchall()
                )
            assert modes.get("kids_note") == "AccessExclusiveLock", (text, modes)


def test_facts_are_what_the_catalog_says(db: PgDatabase) -> None:
    with db.connect(autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE kids ADD CONSTRAINT kids_parent FOREIGN KEY (parent_id) "
            "REFERENCES parents (id)"
        )
        facts = read_facts(conn, ["parents", "public.kids", "nope"], ["gen_random_uuid", "now"])
        expected = conn.execute(
            "SELECT pg_relation_size('kids'), pg_total_relation_size('kids'),"
            " pg_indexes_size('kids'), reltuples,"
            " (SELECT system_identifier::text FROM pg_control_system()),"
            " current_setting('server_version_num')::int,"
            " current_setting('max_connections')::int"
            " FROM pg_class WHERE oid = 'kids'::regclass"
        ).fetchone()
    assert expected is not None
    kids, parents, nope = facts.tables["public.kids"], facts.tables["parents"], facts.tables["nope"]
    assert (kids.heap_bytes, kids.total_bytes, kids.index_bytes, kids.rows) == expected[:4]
    assert kids.rows == 20000 and kids.indexes == 2
    assert (kids.triggers, kids.foreign_keys_out, kids.views) == (1, 1, 1)  # totals reads kids
    assert (parents.views, parents.foreign_keys_in, parents.dependents) == (1, 1, 2)
    assert kids.columns["n"].type == "integer" and kids.columns["n"].fixed_width
    assert not kids.columns["note"].fixed_width
    assert kids.constraints["kids_n_check"].validated is False
    assert kids.constraints["kids_parent"].referenced == "parents"
    assert not nope.exists
    assert facts.server.identity == expected[4]
    assert facts.server.cache_key == f"{expected[4]}/{expected[5]}"
    assert facts.load.max_connections == expected[6]
    assert facts.volatility == {"gen_random_uuid": "v", "now": "s"}
    assert facts.server.sees_all_sessions  # the tests connect as the superuser


def test_a_session_holding_a_lock_is_a_blocker_and_a_long_transaction(db: PgDatabase) -> None:
    holding = threading.Event()
    release = threading.Event()
    pid: list[int] = []

    def hold() -> None:
        with db.connect() as other:
            pid.append(other.info.backend_pid)
            other.execute("SELECT count(*) FROM parents")  # ACCESS SHARE until the commit
            holding.set()
            release.wait(30)
            other.rollback()

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        assert holding.wait(10)
        time.sleep(0.3)
        config = RiskConfig(long_transaction_seconds=0.2)
        report = assess(
            [("0001_add", "ALTER TABLE parents ADD COLUMN nick text;\n")],
            db.dsn,
            config=config,
            calibration=DEFAULTS,
        )
    finally:
        release.set()
        worker.join(10)
    (risk,) = report.migrations[0].statements
    assert [b.pid for b in risk.blockers] == pid
    assert risk.blockers[0].mode is LockLevel.ACCESS_SHARE and risk.blockers[0].granted
    assert risk.score.factor("concurrent_load").value == 1.0
    assert any("wait for" in advice for advice in risk.recommendations)
    assert [t.pid for t in report.load.long_transactions] == pid
    # Without the other session, the same change is calm.
    calm = assess(
        [("0001_add", "ALTER TABLE parents ADD COLUMN nick text;\n")],
        db.dsn,
        config=config,
        calibration=DEFAULTS,
    )
    assert calm.migrations[0].statements[0].score.factor("concurrent_load").value < 0.5
    assert calm.migrations[0].level is Level.LOW


def test_locks_are_held_until_the_commit(db: PgDatabase) -> None:
    text = (
        "CREATE INDEX kids_parent_id ON kids (parent_id);\n"
        "ALTER TABLE kids ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"
    )
    report = assess([("0001_two", text)], db.dsn, calibration=DEFAULTS)
    (migration,) = report.migrations
    first, second = migration.statements
    writes, reads = migration.holds
    assert (writes.table, writes.level, writes.from_line) == ("kids", LockLevel.SHARE, 1)
    assert (reads.table, reads.level, reads.from_line) == ("kids", LockLevel.ACCESS_EXCLUSIVE, 2)
    assert first.duration.mean is not None and second.duration.mean is not None
    assert writes.seconds.mean == pytest.approx(first.duration.mean + second.duration.mean)
    assert reads.seconds.mean == pytest.approx(second.duration.mean)
    assert migration.transactional
    assert migration.duration.mean == pytest.approx(writes.seconds.mean)


def test_tables_created_in_the_run_block_nobody(db: PgDatabase) -> None:
    report = assess(
        [
            (
                "0001_new",
                "CREATE TABLE fresh (id integer);\nCREATE INDEX fresh_id ON fresh (id);\n",
            ),
            ("0002_more", "ALTER TABLE fresh ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"),
        ],
        db.dsn,
        calibration=DEFAULTS,
    )
    first, second = report.migrations
    assert not first.holds and not second.holds
    assert all(s.lock_level is None for m in report.migrations for s in m.statements)
    assert first.level is Level.LOW and second.level is Level.LOW
    assert second.statements[0].tables[0].new and not second.statements[0].recommendations


def test_durations_are_learned_from_recorded_runs(db: PgDatabase, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    with db.connect(autocommit=True) as conn:
        for i, rows in enumerate((20_000, 30_000, 40_000, 30_000), start=1):
            conn.execute(f"CREATE TABLE r{i} (id bigint PRIMARY KEY, note text)")
            conn.execute(
                f"INSERT INTO r{i} SELECT g, md5(g::text) FROM generate_series(1, {rows}) AS g"
            )
        conn.execute("VACUUM ANALYZE")
    for i in (1, 2, 3):
        (folder / f"000{i}_r{i}.up.sql").write_text(
            f"ALTER TABLE r{i} ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"
        )
    store = SqliteStore.memory()
    Migrator(db.dsn, folder, store=store).up()
    runs = store.migration_runs()
    assert len(runs) == 3
    (folder / "0004_r4.up.sql").write_text(
        "ALTER TABLE r4 ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"
    )
    pending = [m for m in discover(folder) if m.version == "0004"]
    report = assess(pending, db.dsn, store=store, calibration=DEFAULTS)
    (risk,) = report.migrations[0].statements
    assert risk.duration.method == "learned" and risk.duration.samples == 3
    size = risk.tables[0].total_bytes
    predictions = [run.duration_ms / 1000 / dict(run.tables)[f"r{run.version[-1]}"] * size
                   for run in runs]  # fmt: skip
    assert risk.duration.mean == pytest.approx(sum(predictions) / 3)
    assert risk.duration.low <= risk.duration.mean <= risk.duration.high
    assert "3 recorded rewrite runs" in risk.duration.basis
    assert any("learned" in caveat for caveat in report.caveats)


def test_what_cannot_be_read_ahead_is_the_worst_case(db: PgDatabase, tmp_path: Path) -> None:
    (tmp_path / "0001_data.py").write_text("def up(conn):\n    conn.execute('SELECT 1')\n")
    (python,) = discover(tmp_path)
    report = assess([python], db.dsn, calibration=DEFAULTS, lint_findings=[])
    (risk,) = report.migrations[0].statements
    assert not risk.known and risk.duration.mean is None
    assert risk.level.at_least(Level.HIGH) and "Python migration" in risk.notes[0]
    block = assess(
        [("0002_do", "DO $$ BEGIN UPDATE kids SET n = 1; END $$;\n")],
        db.dsn,
        calibration=DEFAULTS,
    )
    (statement,) = block.migrations[0].statements
    assert not statement.known and statement.level.at_least(Level.HIGH)
    assert "worst case" in statement.notes[0]
    assert any("worst case" in c for c in block.caveats)


def test_the_calibration_uses_a_scratch_schema_once_per_server(
    db: PgDatabase, tmp_path: Path
) -> None:
    cache = CalibrationCache(tmp_path / "risk-calibration.json")
    measured: list[int] = []
    with db.connect(autocommit=True) as conn:
        key = read_facts(conn, []).server.cache_key
        first = calibrate(
            conn, key, cache=cache, throughput=Throughput(), rows=10_000, repeats=1,
            on_measure=lambda: measured.append(1),
        )  # fmt: skip
        again = calibrate(
            conn, key, cache=cache, throughput=Throughput(), rows=10_000, repeats=1,
            on_measure=lambda: measured.append(1),
        )  # fmt: skip
        leftovers = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'plimsoll_risk_%'"
        ).fetchone()
        conn.execute("CREATE ROLE risk_reader LOGIN")
        try:
            with psycopg.connect(
                db.dsn.replace("postgres@", "risk_reader@"), autocommit=True
            ) as low:
                refused = calibrate(low, "other/1", cache=None, throughput=Throughput())
                partial_view = read_facts(low, []).server.sees_all_sessions
        finally:
            conn.execute("DROP ROLE risk_reader")
    assert first.source == "measured" and first.rows == 10_000 and measured == [1]
    assert (
        again.source == "cache" and again.rewrite_bytes_per_second == first.rewrite_bytes_per_second
    )
    assert leftovers == (0,)
    stored = json.loads(cache.path.read_text())
    assert list(stored["servers"]) == [key]
    assert refused.source == "defaults" and "permission denied" in (refused.reason or "")
    assert partial_view is False


def test_bad_input_and_an_unreachable_server(db: PgDatabase) -> None:
    with pytest.raises(SqlSyntaxError, match=r"^0001_bad:2:"):
        assess([("0001_bad", "SELECT 1;\nALTER TABLE;\n")], db.dsn, calibration=DEFAULTS)
    with pytest.raises(CannotRunError) as caught:
        assess(
            [("0001", "SELECT 1;")],
            "postgresql://app:s3cret-pw@127.0.0.1:1/app",
            calibration=DEFAULTS,
        )
    assert "s3cret-pw" not in str(caught.value) and "***" in str(caught.value)


def test_the_report_is_plain_data(db: PgDatabase) -> None:
    report = assess(
        [("0001_idx", "CREATE INDEX kids_n ON kids (n);\n")], db.dsn, calibration=DEFAULTS
    )
    data: dict[str, Any] = json.loads(json.dumps(report.as_dict()))
    (migration,) = data["migrations"]
    statement = migration["statements"][0]
    assert statement["lock_level"] == "SHARE" and statement["blocks_writes"] is True
    assert set(statement["lock_seconds"]) == {"low", "mean", "high", "method", "basis", "samples"}
    assert [f["name"] for f in migration["score"]["factors"]] == [
        "data_volume", "lock_time", "dependencies", "anomalies", "concurrent_load",
    ]  # fmt: skip
    dependencies = migration["score"]["factors"][2]
    assert dependencies["raw"] == 2 and dependencies["detail"] == "2 on kids"
    assert statement["score"]["factors"][2]["detail"] == "kids: 1 view, 1 trigger"
    assert data["weights"]["lock_time"] == 0.35
    assert data["calibration"]["source"] == "defaults"
    assert data["levels"]["CRITICAL"] == ">= 0.75"


def test_a_partitioned_tables_indexes_get_advice_the_server_accepts(db: PgDatabase) -> None:
    with db.connect(autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE measures_2 PARTITION OF measures FOR VALUES FROM (10) TO (20);"
            " CREATE INDEX measures_at ON measures (at);"
        )
    report = assess(
        [
            ("0001_index", "CREATE INDEX measures_id ON measures (id);\n"),
            ("0002_only", "CREATE INDEX measures_id2 ON ONLY measures (id);\n"),
            ("0003_drop", "DROP INDEX measures_at;\n"),
            ("0004_refused", "CREATE INDEX CONCURRENTLY measures_id3 ON measures (id);\n"),
        ],
        db.dsn,
        calibration=DEFAULTS,
    )
    (index,), (only,), (drop,), (refused,) = (m.statements for m in report.migrations)
    assert index.lock_level is LockLevel.SHARE
    assert any("ON ONLY the partitioned table" in r for r in index.recommendations)
    assert not any("create the index CONCURRENTLY" in r for r in index.recommendations)
    assert only.lock_level is LockLevel.SHARE and only.recommendations == ()
    assert only.duration.mean is not None and index.duration.mean is not None
    assert only.duration.mean < index.duration.mean  # no build: the catalog only
    assert drop.lock_level is LockLevel.ACCESS_EXCLUSIVE
    assert not any("CONCURRENTLY" in r for r in drop.recommendations)
    assert any("cannot be dropped CONCURRENTLY" in n for n in drop.notes)
    assert any("refuses CREATE INDEX CONCURRENTLY" in n for n in refused.notes)
    # As the server has it.
    with db.connect(autocommit=True) as conn, pytest.raises(psycopg.errors.FeatureNotSupported):
        conn.execute("CREATE INDEX CONCURRENTLY measures_id4 ON measures (id)")
