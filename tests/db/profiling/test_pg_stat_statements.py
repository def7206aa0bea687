"""Queries from pg_stat_statements, on a server of its own that preloads the extension."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from plimsoll.core.errors import CannotRunError
from plimsoll.db.profiling.explain import Metric
from plimsoll.db.profiling.profiler import QueryProfiler, profile_database
from plimsoll.db.profiling.queries import from_pg_stat_statements, pg_stat_statements_available
from tests.db.profiling.conftest import ORDERS
from tests.support.postgres import PgDatabase, PgServer, _Cluster, find_bindir


@pytest.fixture(scope="module")
def preloaded(pg_server: PgServer) -> Iterator[str]:
    """A second server with shared_preload_libraries = pg_stat_statements; yields a DSN."""
    bindir = find_bindir()
    assert bindir is not None  # pg_server found it
    cluster = _Cluster(bindir)
    try:
        cluster.initdb()
        with (cluster.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("shared_preload_libraries = 'pg_stat_statements'\n")
        cluster.start()
        dsn = f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE DATABASE shop")
        yield f"postgresql://postgres@127.0.0.1:{cluster.port}/shop"
    finally:
        cluster.destroy()


def test_top_read_queries_are_taken_and_profiled(preloaded: str) -> None:
    with psycopg.connect(preloaded, autocommit=True) as conn:
        conn.execute(ORDERS)
        conn.execute("CREATE EXTENSION pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")
        for customer in range(30):
            conn.execute("SELECT id, amount FROM orders WHERE customer = %s", (customer,))
        for _ in range(3):
            conn.execute("SELECT count(*) FROM orders WHERE amount > 500")
        conn.execute("UPDATE orders SET amount = amount WHERE id = 1")
        assert pg_stat_statements_available(conn) is None
        queries = from_pg_stat_statements(conn, limit=10)
        tracked = {
            row[0]: row[1]
            for row in conn.execute("SELECT query, calls FROM pg_stat_statements").fetchall()
        }
    texts = {q.text: q for q in queries}
    # Constants were replaced by $n in the view: the same text, the same call counts.
    by_customer = texts["SELECT id, amount FROM orders WHERE customer = $1"]
    assert by_customer.parameters == 1 and by_customer.calls == 30 == tracked[by_customer.text]
    count = texts["SELECT count(*) FROM orders WHERE amount > $1"]
    assert count.calls == 3
    assert not any(q.text.startswith("UPDATE") for q in queries)  # never a write
    assert not any("pg_stat_statements" in q.text for q in queries)

    report = profile_database(QueryProfiler(runs=2), preloaded, queries)
    profile = report.get(by_customer.key)
    assert profile is not None and profile.error is None
    # Parameterised: its generic plan's cost, planned once, never executed.
    assert profile.metric is Metric.TOTAL_COST and len(profile.measurements) == 1
    assert profile.measurements[0].execution_ms is None
    assert any("orders_customer" in node for node in profile.measurements[0].nodes)


def test_without_the_extension_it_says_why(pg_database: PgDatabase) -> None:
    with pg_database.connect() as conn:
        assert "not installed" in (pg_stat_statements_available(conn) or "")
        with pytest.raises(CannotRunError, match="not installed"):
            from_pg_stat_statements(conn)
        conn.execute("CREATE EXTENSION pg_stat_statements")
        assert "shared_preload_libraries" in (pg_stat_statements_available(conn) or "")
