"""BaselineManager on a real PostgreSQL: a migration that drops an index is caught."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from plimsoll.core.store import SqliteStore
from plimsoll.db.migrator import Migrator
from plimsoll.db.profiling.baselines import BaselineManager, Status, stored_current
from plimsoll.db.profiling.explain import Metric
from plimsoll.db.profiling.objectives import Operation
from plimsoll.db.profiling.profiler import QueryProfiler, profile_database
from plimsoll.db.profiling.queries import parse_queries
from tests.db.profiling.conftest import QUERIES
from tests.support.postgres import PgDatabase

DAY = 86400.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "state.db") as opened:
        yield opened


def test_a_dropped_index_is_an_error_and_a_new_one_an_improvement(
    orders_db: PgDatabase, migrations: Path, store: SqliteStore
) -> None:
    queries = parse_queries(QUERIES)
    profiler = QueryProfiler(runs=5)
    manager = BaselineManager(store, "development")
    recorded = manager.record(profile_database(profiler, orders_db.dsn, queries))
    assert {b.query_key for b in recorded} == {"by_customer", "big_amounts", "by_id"}
    by_customer = next(b for b in recorded if b.query_key == "by_customer")
    stored = store.baseline_get("development", "by_customer")
    assert stored is not None and len(stored.samples) == 5
    values = [s.value for s in stored.samples]
    assert by_customer.summary.mean == pytest.approx(statistics.fmean(values))
    assert by_customer.summary.stddev == pytest.approx(statistics.stdev(values))
    assert by_customer.summary.low < by_customer.summary.mean < by_customer.summary.high
    assert by_customer.metric is Metric.EXECUTION_MS and not by_customer.stale

    Migrator(orders_db.dsn, migrations).up()
    current = profile_database(profiler, orders_db.dsn, queries)
    report = manager.check(current)

    verdicts = {v.query.key: v for v in report.verdicts}
    slower = verdicts["by_customer"]
    assert slower.status is Status.ERROR and report.status is Status.ERROR
    after = current.get("by_customer")
    assert after is not None and slower.current is not None and slower.current == after.median
    assert slower.current > slower.baseline.summary.high
    assert slower.judgement.change == pytest.approx(
        (slower.current - slower.baseline.summary.mean) / slower.baseline.summary.mean
    )
    assert slower.judgement.change is not None and slower.judgement.change >= 0.2
    assert "Seq Scan on orders" in slower.plan[-1] or any("Seq Scan" in n for n in slower.plan)
    assert "vs baseline" in slower.message and "above the interval" in slower.message
    assert [v.query.key for v in report.regressions] == ["by_customer"]

    faster = verdicts["big_amounts"]
    assert faster.status is Status.OK and faster.judgement.improved
    assert [v.query.key for v in report.improvements] == ["big_amounts"]
    assert any("orders_amount" in node for node in faster.plan)
    assert verdicts["by_id"].status is Status.OK and not verdicts["by_id"].judgement.improved

    history = store.baseline_checks("development")
    assert {(c.query_key, c.status, c.improved) for c in history} == {
        ("by_customer", "error", False),
        ("big_amounts", "ok", True),
        ("by_id", "ok", False),
    }
    error = next(c for c in history if c.query_key == "by_customer")
    assert error.current == slower.current and error.samples == 5
    # Each query's lookup and check were timed for plimsoll's own objectives.
    assert len(store.timings(Operation.BASELINE_LOOKUP)) == 3
    assert len(store.timings(Operation.REGRESSION_CHECK)) == 3


def test_stale_baselines_missing_ones_and_history(
    orders_db: PgDatabase, store: SqliteStore
) -> None:
    queries = parse_queries(QUERIES)
    profiler = QueryProfiler(runs=3, measure_overhead=False)
    then = time.time() - 40 * DAY
    old = BaselineManager(store, "development", clock=lambda: then)
    old.record(profile_database(profiler, orders_db.dsn, queries[:2]))
    manager = BaselineManager(store, "development")
    report = manager.check(profile_database(profiler, orders_db.dsn, queries))
    assert {b.query_key for b in report.stale} == {"by_customer", "big_amounts"}
    assert all(b.age_seconds > 39 * DAY for b in report.stale)
    assert [q.key for q in report.missing] == ["by_id"]
    assert "baseline stale (40 days old)" in next(v.message for v in report.verdicts)
    shown = {b.query_key: b for b in manager.show()}
    assert shown["by_customer"].stale and set(shown) == {"by_customer", "big_amounts"}

    manager.record(profile_database(profiler, orders_db.dsn, queries[:1]))
    fresh = manager.lookup("by_customer")
    assert fresh is not None and not fresh.stale and fresh.summary.count == 3
    baselines, checks = manager.history("by_customer")
    assert [b.superseded_at is None for b in baselines] == [True, False]
    assert [c.status for c in checks] == ["ok"]
    manager.record(profile_database(profiler, orders_db.dsn, queries[:1]), append=True)
    grown = manager.lookup("by_customer")
    assert grown is not None and grown.summary.count == 6 and grown.baseline_id == fresh.baseline_id


def test_a_check_on_another_database_finds_no_baselines(
    orders_db: PgDatabase, store: SqliteStore
) -> None:
    queries = parse_queries(QUERIES)
    profiler = QueryProfiler(runs=2, measure_overhead=False)
    BaselineManager(store, "staging").record(profile_database(profiler, orders_db.dsn, queries))
    report = BaselineManager(store, "development").check(
        profile_database(profiler, orders_db.dsn, queries)
    )
    assert report.verdicts == [] and len(report.missing) == 3 and report.status is Status.OK


def test_a_query_broken_since_its_baseline_is_an_error_kept_in_the_history(
    orders_db: PgDatabase, store: SqliteStore
) -> None:
    queries = parse_queries(QUERIES, "q.sql")
    profiler = QueryProfiler(runs=2, measure_overhead=False)
    manager = BaselineManager(store, "development")
    # by_customer gets no baseline; big_amounts and by_id do.
    manager.record(profile_database(profiler, orders_db.dsn, queries[1:]))
    with orders_db.connect(autocommit=True) as conn:
        conn.execute("ALTER TABLE orders DROP COLUMN note, DROP COLUMN customer")
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("SELECT note FROM orders WHERE id = 77")
        expected = str(caught.value.diag.message_primary)
    report = manager.check(profile_database(profiler, orders_db.dsn, queries))

    [verdict] = report.broken
    assert verdict.query.key == "by_id" and verdict.status is Status.ERROR
    assert verdict.current is None and verdict.judgement.broken == expected
    assert verdict.message.startswith(f"by_id: broken: {expected} (q.sql:8); it ran when")
    assert f"{verdict.baseline.summary.count} samples" in verdict.message
    assert report.status is Status.ERROR and [v.query.key for v in report.regressions] == ["by_id"]
    # by_customer fails too, but it never ran here: a plain failure, not a verdict.
    assert [p.query.key for p in report.failed] == ["by_customer"] and report.missing == []
    payload = report.to_dict()
    assert payload["broken"] == ["by_id"] and [f["key"] for f in payload["failed"]] == [
        "by_customer"
    ]
    entry = next(v for v in payload["verdicts"] if v["key"] == "by_id")
    assert entry["status"] == "error" and entry["current"] is None and entry["broken"] == expected

    # Kept in the history: the store's column holds a number, infinity for "never finished".
    [kept] = store.baseline_checks("development", query_key="by_id")
    assert kept.status == "error" and math.isinf(kept.current) and stored_current(kept) is None
    assert kept.message == verdict.message
    assert store.baseline_checks("development", query_key="by_customer") == []

    # Alone, the query without a baseline only warns: the check is incomplete.
    alone = manager.check(profile_database(profiler, orders_db.dsn, queries[:1]))
    assert alone.verdicts == [] and alone.status is Status.WARNING
