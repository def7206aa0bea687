"""What only the PostgreSQL store does: its schema, concurrent migration, URLs and their errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from plimsoll.core.config import StoreConfig
from plimsoll.core.errors import CannotRunError, ConfigError
from plimsoll.core.store import PostgresStore, open_configured, open_store, postgres_schema
from plimsoll.core.store.postgres_connection import scrub
from tests.support.postgres import PgDatabase

SECRET = "s3cret-Pw_9"


def _tables(pg: PgDatabase, schema: str) -> set[str]:
    with pg.connect() as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchall()
    return {r[0] for r in rows}


def _meta(pg: PgDatabase, schema: str = "plimsoll") -> dict[str, str]:
    with pg.connect() as conn:
        rows = conn.execute(f"SELECT key, value FROM {schema}.plimsoll_store_meta").fetchall()
    return dict(rows)


def test_the_store_lives_in_its_own_schema_at_its_own_version(pg_database: PgDatabase) -> None:
    with PostgresStore(pg_database.dsn) as store:
        assert store.schema == "plimsoll"
        assert store.schema_version == postgres_schema.SCHEMA_VERSION
        store.outbox_add("hook", {"n": 1}, now=1.0, next_attempt_at=1.0)
    assert {"plimsoll_store_meta", "outbox", "breaker", "migration_runs"} <= _tables(
        pg_database, "plimsoll"
    )
    assert {"query_baselines", "query_samples", "baseline_checks", "operation_timings"} <= (
        _tables(pg_database, "plimsoll")
    )
    assert _tables(pg_database, "public") == set()
    assert _meta(pg_database) == {"schema_version": str(postgres_schema.SCHEMA_VERSION)}
    with pg_database.connect() as conn:
        row = conn.execute("SELECT payload, jsonb_typeof(payload) FROM plimsoll.outbox").fetchone()
    assert row == ({"n": 1}, "object")


def test_the_url_options_choose_the_schema(pg_database: PgDatabase) -> None:
    url = f"{pg_database.dsn}?options=-csearch_path%3Dops_state"
    with open_store(url=url) as store:
        assert isinstance(store, PostgresStore) and store.schema == "ops_state"
        store.timings_add([])
        store.ensure_part_schema("things", [["CREATE TABLE part_things (id integer)"]])
    assert {"plimsoll_store_meta", "outbox", "part_things"} <= _tables(pg_database, "ops_state")
    assert _tables(pg_database, "plimsoll") == set()
    assert _meta(pg_database, "ops_state")["schema.things"] == "1"
    with pytest.raises(ConfigError, match="plain schema name"):
        PostgresStore(f"{pg_database.dsn}?options=-csearch_path%3D%22a-b%22")


def test_a_newer_schema_is_refused(pg_database: PgDatabase) -> None:
    PostgresStore(pg_database.dsn).close()
    with pg_database.connect() as conn:
        conn.execute(
            "UPDATE plimsoll.plimsoll_store_meta SET value = '99' WHERE key = 'schema_version'"
        )
    with pytest.raises(
        CannotRunError,
        match=rf"has schema version 99, newer than the {postgres_schema.SCHEMA_VERSION} ",
    ):
        PostgresStore(pg_database.dsn)


def test_a_failing_migration_changes_nothing(
    pg_database: PgDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    PostgresStore(pg_database.dsn).close()
    later = postgres_schema.SCHEMA_VERSION + 1
    migrations = dict(postgres_schema.MIGRATIONS)
    migrations[later] = ("CREATE TABLE samples (id integer)", "THIS IS NOT SQL")
    monkeypatch.setattr(postgres_schema, "MIGRATIONS", migrations)
    monkeypatch.setattr(postgres_schema, "SCHEMA_VERSION", later)
    with pytest.raises(CannotRunError, match=f"to schema version {later} failed: syntax error"):
        PostgresStore(pg_database.dsn)
    assert _meta(pg_database)["schema_version"] == str(later - 1)
    assert "samples" not in _tables(pg_database, "plimsoll")
    migrations[later] = ("CREATE TABLE samples (id integer)",)
    with PostgresStore(pg_database.dsn) as store:
        assert store.schema_version == later
    assert "samples" in _tables(pg_database, "plimsoll")


_OPENER = """
import os, sys, time
from plimsoll.core.store import postgres_schema as schema
later = schema.SCHEMA_VERSION + 1
# A slow last step, so every process arrives while the first one is still migrating.
schema.MIGRATIONS = {**schema.MIGRATIONS, later: (
    "SELECT pg_sleep(0.5)",
    "CREATE TABLE race_marker (pid integer)",
    "INSERT INTO race_marker VALUES (pg_backend_pid())",
)}
schema.SCHEMA_VERSION = later
from plimsoll.core.store.postgres import PostgresStore
while not os.path.exists(sys.argv[2]):
    time.sleep(0.005)
store = PostgresStore(sys.argv[1])
print(store.schema_version)
store.close()
"""


def test_processes_starting_at_once_migrate_the_schema_once(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, pg_database.dsn, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    time.sleep(1.0)  # let each interpreter start and wait on the file
    go.touch()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == str(postgres_schema.SCHEMA_VERSION + 1)
    with pg_database.connect() as conn:
        markers = conn.execute("SELECT count(*) FROM plimsoll.race_marker").fetchone()
    assert markers == (1,)
    assert _meta(pg_database)["schema_version"] == str(postgres_schema.SCHEMA_VERSION + 1)


def test_processes_creating_a_part_at_once_create_it_once(pg_database: PgDatabase) -> None:
    script = (
        "import sys\nfrom plimsoll.core.store import open_store\n"
        "store = open_store(url=sys.argv[1])\n"
        "print(store.ensure_part_schema('race', [['SELECT pg_sleep(0.3)',"
        " 'CREATE TABLE race_rows (x integer)', 'INSERT INTO race_rows VALUES (1)']]))\n"
    )
    PostgresStore(pg_database.dsn).close()
    procs = [
        subprocess.Popen([sys.executable, "-c", script, pg_database.dsn], stdout=subprocess.PIPE)
        for _ in range(3)
    ]
    assert [p.communicate(timeout=120)[0].strip() for p in procs] == [b"1"] * 3
    assert all(p.returncode == 0 for p in procs)
    with pg_database.connect() as conn:
        assert conn.execute("SELECT count(*) FROM plimsoll.race_rows").fetchone() == (1,)


def test_an_unreachable_url_is_one_line_naming_the_host_not_the_password() -> None:
    started = time.monotonic()
    with pytest.raises(CannotRunError) as caught:
        open_store(url=f"postgresql://app:{SECRET}@127.0.0.1:1/appdb")
    message = str(caught.value)
    assert message.startswith("cannot reach the PostgreSQL state store (store.url) at ")
    assert "127.0.0.1:1/appdb" in message and "refused" in message.lower()
    assert SECRET not in message and "\n" not in message
    assert caught.value.exit_code == 3
    assert time.monotonic() - started < 30
    with pytest.raises(CannotRunError) as caught:
        open_store(url=f"host=127.0.0.1 port=1 dbname=appdb user=app password={SECRET}")
    assert "127.0.0.1:1/appdb" in str(caught.value) and SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://app:{SECRET}@127.0.0.1:notaport/appdb",
        f"postgresql://app:{SECRET}@127.0.0.1/appdb?nosuchoption=1",
        f"host=127.0.0.1 password='{SECRET}' dbname",
    ],
)
def test_a_bad_url_is_a_config_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url=url)
    assert str(caught.value).startswith("store.url")
    assert SECRET not in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_scrub_masks_every_spelling_of_the_password() -> None:
    url = f"postgresql://app:{SECRET}@db/x"
    assert scrub(f"failed for app:{SECRET}\n  at db", url) == "failed for app:*** at db"
    kv = f"host=db password = '{SECRET}'"
    assert SECRET not in scrub(f"bad {SECRET} in {kv}", kv)


def test_open_configured_picks_postgres_for_a_url(pg_database: PgDatabase, tmp_path: Path) -> None:
    settings = StoreConfig(url=SecretStr(pg_database.dsn))
    with open_configured(settings, tmp_path) as store:
        assert isinstance(store, PostgresStore)
    assert not (tmp_path / ".plimsoll").exists()


def test_a_dropped_connection_is_replaced_on_the_next_call(pg_database: PgDatabase) -> None:
    with PostgresStore(pg_database.dsn) as store:
        first = store.outbox_add("hook", {}, now=1.0, next_attempt_at=1.0)
        with pg_database.connect(autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'plimsoll-store'"
            )
        with pytest.raises(CannotRunError, match="PostgreSQL state store .* failed"):
            store.outbox_get(first)
        item = store.outbox_get(first)
        assert item is not None and item.id == first


def test_a_failed_statement_rolls_back_and_the_store_goes_on(pg_database: PgDatabase) -> None:
    with PostgresStore(pg_database.dsn) as store:
        with pytest.raises(CannotRunError), store.connection.transaction() as conn:
            conn.execute("INSERT INTO breaker (channel, failures) VALUES ('x', 1)")
            conn.execute("SELECT 1/0")
        assert store.breaker_get("x").failures == 0
        assert store.breaker_failure("x", now=1.0, threshold=5).failures == 1


def test_the_runtime_tables_work_on_postgresql(pg_database: PgDatabase) -> None:
    """Samples, usage events, alerts and SLO events live in the PostgreSQL store's schema."""
    from plimsoll.runtime import analytics, storage
    from plimsoll.runtime.alerts.state import AlertStore
    from plimsoll.runtime.slo import storage as slo_storage

    with PostgresStore(pg_database.dsn) as store:
        assert storage.add_samples(store, [storage.Sample("up", 1.0, 1.0, {"job": "api"})]) == 1
        storage.add_events(store, [storage.UsageEvent("feature", "search", 2.0, duration_ms=4.0)])
        storage.add_drops(store, 3, 1.0)
        slo_storage.record(store, "api", 1, 2, 61.0)
        alerts = AlertStore(store)
        assert storage.samples(store, "up", None, None, {"job": "api"}) == [(1.0, 1.0)]
        assert storage.dropped_total(store) == 3
        assert slo_storage.event_counts(store, "api", 0.0, 120.0).total == 2.0
        [stats] = analytics.PerformanceAnalyzer(store, now=10.0).features("1h")
        assert (stats.feature, stats.calls, stats.p50_ms) == ("search", 1, 4.0)
        assert alerts.alerts() == []
        # store.db stays the SQLite store's connection: asking a PostgreSQL store for it fails
        # in one clear line.
        with pytest.raises(CannotRunError, match="part_sql.*remove url"):
            store.db  # noqa: B018
    with psycopg.connect(pg_database.dsn) as conn:
        types = dict(
            conn.execute(
                "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'plimsoll' AND column_name IN ('ts', 'id', 'labels')"
            ).fetchall()
        )
        versions = dict(
            conn.execute(
                "SELECT key, value FROM plimsoll.plimsoll_store_meta WHERE key LIKE 'schema.%'"
            ).fetchall()
        )
        # What the database itself holds, read without plimsoll.
        sample = conn.execute(
            "SELECT metric, labels, ts, value FROM plimsoll.runtime_samples"
        ).fetchall()
        slo = conn.execute("SELECT slo, ts, good, total FROM plimsoll.slo_events").fetchall()
    assert types["runtime_samples.ts"] == "double precision"
    assert types["runtime_samples.id"] == "bigint"
    assert types["slo_events.ts"] == "double precision"
    assert types["alert_silences.id"] == "bigint"
    assert versions == {"schema.runtime": "1", "schema.slo": "1", "schema.alerts": "2"}
    assert sample == [("up", '{"job": "api"}', 1.0, 1.0)]
    assert slo == [("api", 60.0, 1.0, 2.0)]


def test_a_version_1_outbox_is_migrated_keeping_its_items_and_keys(
    pg_database: PgDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(postgres_schema, "SCHEMA_VERSION", 1)
        with PostgresStore(pg_database.dsn) as old:
            assert old.schema_version == 1
            with old.connection.transaction() as conn:
                for title, due in (("old", 30.0), ("new", 20.0)):
                    conn.execute(
                        "INSERT INTO outbox (channel, dedupe_key, payload, created_at,"
                        " next_attempt_at) VALUES ('gh', ?, ?, 1, ?)",
                        (title, f'{{"title": "{title}"}}', due),
                    )
    with PostgresStore(pg_database.dsn) as store:
        assert store.schema_version == postgres_schema.SCHEMA_VERSION == 2
        assert [i.payload["title"] for i in store.outbox_pending()] == ["old", "new"]
        # The dedupe key's upsert finds the rebuilt unique index (live items only).
        again = store.outbox_add(
            "gh", {"title": "old2"}, now=2, next_attempt_at=40, dedupe_key="old"
        )
        assert again == store.outbox_pending()[0].id
        assert store.outbox_claim(25.0, lease_seconds=1.0) == []  # "new" waits behind "old"
        store.outbox_give_up(again, now=26.0, error="rejected")
        fresh = store.outbox_add(
            "gh", {"title": "old3"}, now=27, next_attempt_at=27, dedupe_key="old"
        )
        assert fresh != again
        assert [i.payload["title"] for i in store.outbox_claim(30.0, lease_seconds=1.0)] == [
            "new",
            "old3",
        ]


def test_the_outbox_claim_reads_indexes_on_a_large_outbox(pg_database: PgDatabase) -> None:
    """The claim stays an index lookup with a long delivered history and a backlog."""
    with PostgresStore(pg_database.dsn) as store:
        with store.connection.transaction() as conn:
            conn.execute(
                "INSERT INTO outbox (channel, payload, created_at, next_attempt_at, delivered_at)"
                " SELECT 'c' || (n % 20), '{}', n, n, n + 1 FROM generate_series(1, 50000) AS n"
            )
            conn.execute(
                "INSERT INTO outbox (channel, payload, created_at, next_attempt_at)"
                " SELECT 'c' || (n % 20), '{}', n, 60000 + n FROM generate_series(1, 2000) AS n"
            )
            conn.execute("ANALYZE outbox")
            sql, params = store._claim_query(61000.0, None, 100)
            plan = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()
        assert plan is not None
        text = str(plan)
        # Neither a scan of the table nor one along the primary key through the delivered rows.
        assert "Seq Scan" not in text and "outbox_pkey" not in text, text
        assert "outbox_due" in text and "outbox_live" in text, text
        claimed = store.outbox_claim(61000.0, lease_seconds=1.0)
        # Items 1..1000 of the backlog are due, 1001.. not: each channel's due prefix goes.
        assert [i.created_at for i in claimed] == [float(n) for n in range(1, 101)]
