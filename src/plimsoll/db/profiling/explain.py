"""Running EXPLAIN and reading what PostgreSQL reports: times, cost, rows, buffers, plan shape.

``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` executes the query and reports the server's own
"Planning Time" and "Execution Time": those are the measurements, not a client stopwatch, so
network latency and result transfer stay out of them. The same with ``TIMING OFF`` (per-node
clock reads off) measures what the instrumentation itself costs.

A query with ``$n`` parameter markers (from ``pg_stat_statements``) cannot be executed without
values: it is prepared and explained with ``plan_cache_mode = force_generic_plan``, which gives
the plan PostgreSQL would use for any values and its estimated cost, without running it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.pq import TransactionStatus

from plimsoll.db.profiling.queries import Query

ANALYZE = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
# The same execution without per-node timing and buffer counting: the instrumentation's price.
UNTIMED = "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) "
_PREPARED = "plimsoll_profile_query"


class Metric(StrEnum):
    """What a query's samples measure: its execution time, or its plan's estimated cost."""

    EXECUTION_MS = "execution_ms"
    TOTAL_COST = "total_cost"

    @property
    def unit(self) -> str:
        """The unit the metric is shown in."""
        return "ms" if self is Metric.EXECUTION_MS else "cost"


@dataclass(frozen=True)
class Measurement:
    """One EXPLAIN of one query, as PostgreSQL reported it.

    ``execution_ms``, ``actual_rows`` and the buffer counts are None when the query was only
    planned (a generic plan). ``nodes`` lists the plan's nodes depth first,
    such as ``Index Scan using orders_customer on orders``.
    """

    analyzed: bool
    total_cost: float
    plan_rows: float
    execution_ms: float | None = None
    planning_ms: float | None = None
    actual_rows: float | None = None
    shared_hit: int | None = None
    shared_read: int | None = None
    nodes: tuple[str, ...] = ()

    @property
    def metric(self) -> Metric:
        """The metric this measurement is compared by."""
        return Metric.EXECUTION_MS if self.analyzed else Metric.TOTAL_COST

    @property
    def value(self) -> float:
        """The measurement's value in its metric."""
        if self.analyzed and self.execution_ms is not None:
            return self.execution_ms
        return self.total_cost

    def plan_summary(self) -> dict[str, Any]:
        """The plan's shape, small enough to keep with every sample."""
        return {"nodes": list(self.nodes), "plan_rows": self.plan_rows}


def _node_label(node: Mapping[str, Any]) -> str:
    label = str(node.get("Node Type", "?"))
    if node.get("Index Name"):
        label += f" using {node['Index Name']}"
    if node.get("Relation Name"):
        label += f" on {node['Relation Name']}"
    return label


def _walk(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for child in node.get("Plans", ()) or ():
        yield from _walk(child)


def read_plan(document: Any, *, analyzed: bool) -> Measurement:
    """A Measurement from the output of ``EXPLAIN (FORMAT JSON)`` (the parsed JSON)."""
    if isinstance(document, str):
        import json

        document = json.loads(document)
    top = document[0] if isinstance(document, list) else document
    plan = top["Plan"]
    nodes = tuple(_node_label(node) for node in _walk(plan))
    if not analyzed:
        planning = top.get("Planning Time")
        return Measurement(
            analyzed=False,
            total_cost=float(plan["Total Cost"]),
            plan_rows=float(plan["Plan Rows"]),
            planning_ms=None if planning is None else float(planning),
            nodes=nodes,
        )
    hit = plan.get("Shared Hit Blocks")
    read = plan.get("Shared Read Blocks")
    return Measurement(
        analyzed=True,
        total_cost=float(plan["Total Cost"]),
        plan_rows=float(plan["Plan Rows"]),
        execution_ms=float(top["Execution Time"]),
        planning_ms=float(top.get("Planning Time", 0.0)),
        actual_rows=float(plan.get("Actual Rows", 0.0)) * float(plan.get("Actual Loops", 1) or 1),
        shared_hit=None if hit is None else int(hit),
        shared_read=None if read is None else int(read),
        nodes=nodes,
    )


def explain_analyze(
    conn: psycopg.Connection[Any], query: Query, *, timing: bool = True
) -> Measurement:
    """Execute ``query`` under ``EXPLAIN ANALYZE`` (with timing and buffers unless told not to)."""
    prefix = ANALYZE if timing else UNTIMED
    row = conn.execute(prefix + query.text, prepare=False).fetchone()
    assert row is not None
    return read_plan(row[0], analyzed=True)


def explain_generic(conn: psycopg.Connection[Any], query: Query) -> Measurement:
    """Plan a query with ``$n`` parameter markers as its generic plan; nothing is executed.

    The caller runs this inside a transaction (or a savepoint): ``plan_cache_mode`` is set for
    the transaction only, and put back afterwards.
    """
    name = pgsql.Identifier(_PREPARED)
    # Prepared statements outlive a rolled-back savepoint: one left by a failed attempt goes.
    left = conn.execute(
        "SELECT 1 FROM pg_prepared_statements WHERE name = %s", (_PREPARED,)
    ).fetchone()
    if left:
        conn.execute(pgsql.SQL("DEALLOCATE {}").format(name))
    conn.execute(pgsql.SQL("PREPARE {} AS ").format(name) + pgsql.SQL(query.text), prepare=False)
    try:
        row = conn.execute("SELECT current_setting('plan_cache_mode')").fetchone()
        previous = str(row[0]) if row else "auto"
        conn.execute("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
        # Any values do: with a forced generic plan they are not looked at while planning.
        values = pgsql.SQL(", ").join([pgsql.SQL("NULL")] * query.parameters)
        plan = conn.execute(
            pgsql.SQL("EXPLAIN (SUMMARY ON, FORMAT JSON) EXECUTE {} ({})").format(name, values)
        ).fetchone()
        conn.execute("SELECT set_config('plan_cache_mode', %s, true)", (previous,))
    finally:
        if conn.info.transaction_status != TransactionStatus.INERROR:
            conn.execute(pgsql.SQL("DEALLOCATE {}").format(name))
    assert plan is not None
    return read_plan(plan[0], analyzed=False)
