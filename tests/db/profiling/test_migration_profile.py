"""Profiling before and after pending migrations: in the dry-run transaction, or on a copy."""

from __future__ import annotations

from pathlib import Path

from plimsoll.db.migrator import Migrator
from plimsoll.db.profiling.baselines import Status
from plimsoll.db.profiling.migration import Mode, profile_migrations
from plimsoll.db.profiling.profiler import QueryProfiler
from plimsoll.db.profiling.queries import parse_queries
from tests.db.profiling.conftest import QUERIES
from tests.support.postgres import PgDatabase


def _indexes(db: PgDatabase) -> set[str]:
    with db.connect() as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'")
        return {row[0] for row in rows}


def test_in_the_dry_run_transaction_nothing_is_kept(
    orders_db: PgDatabase, migrations: Path
) -> None:
    migrator = Migrator(orders_db.dsn, migrations)
    result = profile_migrations(
        QueryProfiler(runs=5), migrator, parse_queries(QUERIES), mode=Mode.TRANSACTION
    )
    assert result.problem is None and result.migrations == ["0001_reindex_orders"]
    assert result.dry_run is not None and result.dry_run.rolled_back
    verdicts = {old.query.key: (old, new, j) for old, new, j in result.comparisons}
    old, new, judgement = verdicts["by_customer"]
    assert judgement.status is Status.ERROR and result.status is Status.ERROR
    assert new.median is not None and old.median is not None and new.median > old.median
    assert any("Seq Scan" in node for node in new.measurements[-1].nodes)
    assert verdicts["big_amounts"][2].improved
    # Rolled back: the index is still there and the migration still pending.
    assert _indexes(orders_db) == {"orders_pkey", "orders_customer"}
    assert [m.version for m in migrator.status().pending] == ["0001"]
    payload = result.to_dict()
    assert payload["status"] == "error"
    assert {c["key"] for c in payload["comparisons"]} == {"by_customer", "big_amounts", "by_id"}


def test_a_concurrent_index_needs_the_copy_and_the_copy_is_dropped(
    orders_db: PgDatabase, migrations: Path
) -> None:
    (migrations / "0002_concurrent.up.sql").write_text(
        "CREATE INDEX CONCURRENTLY orders_note ON orders (note);\n"
    )
    queries = parse_queries(QUERIES + "-- name: by_note\nSELECT id FROM orders WHERE note = 'x';\n")
    migrator = Migrator(orders_db.dsn, migrations)
    # Five runs: "improved" needs the time below a 95% prediction interval (t = 4.3 for 3 runs).
    profiler = QueryProfiler(runs=5, measure_overhead=False)
    in_transaction = profile_migrations(profiler, migrator, queries)
    assert in_transaction.after is None and in_transaction.comparisons == []
    assert in_transaction.problem is not None
    assert "0002_concurrent cannot run inside a transaction" in in_transaction.problem
    assert "--copy" in in_transaction.problem

    on_copy = profile_migrations(profiler, migrator, queries, mode=Mode.COPY)
    assert on_copy.problem is None and on_copy.after is not None
    verdicts = {old.query.key: j for old, _, j in on_copy.comparisons}
    assert verdicts["by_customer"].status is Status.ERROR
    assert verdicts["by_note"].improved
    with orders_db.server.connect() as admin:
        left = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", ("%plimsoll_profile%",)
        ).fetchall()
    assert left == []
    assert _indexes(orders_db) == {"orders_pkey", "orders_customer"}


def test_nothing_pending_profiles_the_current_state(
    orders_db: PgDatabase, migrations: Path
) -> None:
    migrator = Migrator(orders_db.dsn, migrations)
    migrator.up()
    result = profile_migrations(QueryProfiler(runs=1), migrator, parse_queries(QUERIES))
    assert result.migrations == [] and result.after is None
    assert result.problem == "no pending migrations: profiled the current state only"
    assert len(result.before.profiles) == 3
