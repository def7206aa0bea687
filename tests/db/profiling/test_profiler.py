"""QueryProfiler on a real PostgreSQL: EXPLAIN really run, its figures, sampling and overhead."""

from __future__ import annotations

import statistics

import psycopg
import pytest

from plimsoll.db.profiling import stats
from plimsoll.db.profiling.explain import Metric, read_plan
from plimsoll.db.profiling.profiler import QueryProfiler, profile_database
from plimsoll.db.profiling.queries import parse_queries
from tests.db.profiling.conftest import QUERIES
from tests.support.postgres import PgDatabase


def test_read_plan_takes_the_plans_own_figures(orders_db: PgDatabase) -> None:
    with orders_db.connect() as conn:
        document = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT id FROM orders WHERE customer = 42"
        ).fetchone()[0]
        count = conn.execute("SELECT count(*) FROM orders WHERE customer = 42").fetchone()[0]
    measured = read_plan(document, analyzed=True)
    top = document[0]
    assert measured.execution_ms == top["Execution Time"]
    assert measured.planning_ms == top["Planning Time"]
    assert measured.total_cost == top["Plan"]["Total Cost"]
    assert measured.actual_rows == count == 40
    assert measured.shared_hit == top["Plan"]["Shared Hit Blocks"]
    assert measured.metric is Metric.EXECUTION_MS and measured.value == measured.execution_ms
    assert any("orders_customer" in node for node in measured.nodes)


def test_every_run_is_really_executed_and_rolled_back(orders_db: PgDatabase) -> None:
    with orders_db.connect(autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE probe")
    queries = parse_queries("-- name: probe\nSELECT nextval('probe');\n" + QUERIES)
    profiler = QueryProfiler(runs=3, warmup=2)
    report = profile_database(profiler, orders_db.dsn, queries)
    probe = report.get("probe")
    assert probe is not None and probe.error is None
    with orders_db.connect() as conn:
        # Sequences are the one thing a rollback keeps: 2 warm-up + 3 samples + 3 untimed runs.
        assert conn.execute("SELECT last_value FROM probe").fetchone()[0] == 8
    assert len(probe.measurements) == 3 and len(probe.untimed_ms) == 3
    by_customer = report.get("by_customer")
    assert by_customer is not None
    assert all(m.actual_rows == 40 for m in by_customer.measurements)
    assert by_customer.median == statistics.median(by_customer.values)
    assert any("Index" in node for node in by_customer.measurements[0].nodes)


def test_overhead_figures_add_up_to_what_was_measured(orders_db: PgDatabase) -> None:
    queries = parse_queries(QUERIES)
    report = profile_database(QueryProfiler(runs=4), orders_db.dsn, queries)
    overhead = report.overhead
    server = sum(
        (m.planning_ms or 0) + (m.execution_ms or 0)
        for p in report.profiles
        for m in p.measurements
    )
    assert overhead.measured_ms == pytest.approx(server)
    assert overhead.wall_ms > overhead.measured_ms > 0
    assert overhead.overhead_ms == pytest.approx(overhead.wall_ms - overhead.measured_ms)
    assert overhead.extra_runs_ms > 0
    expected = sum(
        statistics.median([m.execution_ms or 0 for m in p.measurements])
        - statistics.median(p.untimed_ms)
        for p in report.profiles
    )
    assert overhead.instrumentation_ms == pytest.approx(expected)
    # Its noise comes from every timed and untimed sample at once (Welch).
    groups = [
        [[m.execution_ms or 0 for m in p.measurements], list(p.untimed_ms)] for p in report.profiles
    ]
    noise = stats.sum_noise([g for pair in groups for g in pair])
    assert noise is not None and noise > 0
    assert overhead.instrumentation_noise_ms == pytest.approx(noise)
    assert overhead.instrumentation_within_noise is (expected <= 0 or expected <= noise)
    for p, pair in zip(report.profiles, groups, strict=True):
        assert p.instrumentation_noise_ms == pytest.approx(stats.sum_noise(pair))
    without = profile_database(
        QueryProfiler(runs=4, measure_overhead=False), orders_db.dsn, queries
    )
    assert without.overhead.instrumentation_ms is None
    assert all(not p.untimed_ms for p in without.profiles)


def test_the_sampling_rate_is_measured_from_what_ran(orders_db: PgDatabase) -> None:
    names = [f"s{i}" for i in range(16)]
    with orders_db.connect(autocommit=True) as conn:
        for name in names:
            conn.execute(f"CREATE SEQUENCE {name}")
    text = "".join(f"-- name: {name}\nSELECT nextval('{name}');\n" for name in names)
    queries = parse_queries(text)
    profiler = QueryProfiler(runs=1, warmup=0, sample_rate=0.5, measure_overhead=False)
    report = profile_database(profiler, orders_db.dsn, queries)
    with orders_db.connect() as conn:
        ran = {
            name for name in names if conn.execute(f"SELECT is_called FROM {name}").fetchone()[0]
        }
    assert ran == {p.query.key for p in report.profiles}
    assert report.sampling.profiled == len(ran)
    assert report.sampling.actual == len(ran) / 16
    assert 0 < len(ran) < 16  # a rate of one half neither takes all nor none of 16
    again = profile_database(profiler, orders_db.dsn, queries)
    assert [p.query.key for p in again.profiles] == [p.query.key for p in report.profiles]


def test_a_failing_query_is_reported_and_the_others_go_on(orders_db: PgDatabase) -> None:
    queries = parse_queries(
        "-- name: broken\nSELECT 1 / (SELECT count(*) - count(*) FROM orders);\n" + QUERIES
    )
    report = profile_database(QueryProfiler(runs=1), orders_db.dsn, queries)
    broken = report.get("broken")
    assert broken is not None and broken.measurements == ()
    assert broken.error is not None and "division by zero" in broken.error
    assert broken.error.startswith("<string>:2: ")
    assert all(p.measurements for p in report.profiles if p.query.key != "broken")
    assert report.sampling.profiled == 3 and report.sampling.selected == 4
    # The rate was honoured (every query ran); one failed, which is no sign of the sampling.
    assert report.sampling.actual == 1.0 and report.sampling.failed == 1
    assert broken.server_error == "division by zero"


def test_profile_needs_a_transaction(orders_db: PgDatabase) -> None:
    with orders_db.connect(autocommit=True) as conn, pytest.raises(ValueError, match="autocommit"):
        QueryProfiler().profile(conn, parse_queries(QUERIES))


def test_statement_timeout_applies(orders_db: PgDatabase) -> None:
    queries = parse_queries("-- name: slow\nSELECT pg_sleep(0.5);\n")
    report = profile_database(
        QueryProfiler(runs=1, warmup=0), orders_db.dsn, queries, statement_timeout="50ms"
    )
    slow = report.get("slow")
    assert slow is not None and slow.error is not None and "statement timeout" in slow.error


def test_nothing_the_queries_do_is_kept(orders_db: PgDatabase) -> None:
    queries = parse_queries("-- name: temp\nSELECT set_config('work_mem', '77MB', false);\n")
    with psycopg.connect(orders_db.dsn) as conn:
        QueryProfiler(runs=1).profile(conn, queries)
        conn.rollback()
        assert conn.execute("SHOW work_mem").fetchone()[0] != "77MB"
