"""From a stored row to a record: one mapping per table, shared by every backend.

A row is anything indexable by column name (``sqlite3.Row``, a psycopg ``dict_row``). JSON
columns arrive as text from SQLite and already decoded from PostgreSQL (``jsonb``); booleans as
0/1 from SQLite and as ``bool`` from PostgreSQL: both are accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from plimsoll.core.store.records import (
    BaselineCheck,
    MigrationRun,
    OperationTiming,
    OutboxItem,
    QueryBaseline,
    QuerySample,
)


class Row(Protocol):
    """A database row read by column name."""

    def __getitem__(self, key: str) -> Any:
        """The value of column ``key``."""


OUTBOX_COLUMNS = (
    "id, channel, dedupe_key, payload, created_at, attempts, next_attempt_at, last_error, "
    "delivered_at"
)


def decoded(value: Any) -> Any:
    """A JSON column's value: decoded when it is still text (SQLite), as is otherwise."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def outbox_item(row: Row, *, next_attempt_at: float | None = None) -> OutboxItem:
    """An outbox row as an OutboxItem (``next_attempt_at`` overrides the row's, when given)."""
    return OutboxItem(
        id=row["id"],
        channel=row["channel"],
        payload=decoded(row["payload"]),
        created_at=row["created_at"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"] if next_attempt_at is None else next_attempt_at,
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
        dedupe_key=row["dedupe_key"],
    )


def migration_run(row: Row) -> MigrationRun:
    """A migration_runs row as a MigrationRun."""
    return MigrationRun(
        database=row["database"],
        version=row["version"],
        name=row["name"],
        direction=row["direction"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        duration_ms=row["duration_ms"],
        outcome=row["outcome"],
        error=row["error"],
        server_version=row["server_version"],
        tables=tuple((name, size) for name, size in decoded(row["tables"])),
        id=row["id"],
    )


def tables_json(run: MigrationRun) -> str:
    """The tables a run touched as the JSON text stored for them."""
    return json.dumps([list(t) for t in run.tables])


def plan_json(sample: QuerySample) -> str:
    """A sample's plan summary as the JSON text stored for it."""
    return json.dumps(dict(sample.plan), sort_keys=True, default=str)


def payload_json(payload: Mapping[str, Any]) -> str:
    """An outbox payload as the JSON text stored for it."""
    return json.dumps(dict(payload), sort_keys=True, default=str)


def query_sample(row: Row) -> QuerySample:
    """A query_samples row as a QuerySample."""
    return QuerySample(
        recorded_at=row["recorded_at"],
        value=row["value"],
        execution_ms=row["execution_ms"],
        planning_ms=row["planning_ms"],
        total_cost=row["total_cost"],
        rows=row["rows"],
        shared_hit=row["shared_hit"],
        shared_read=row["shared_read"],
        plan=decoded(row["plan"]),
        id=row["id"],
    )


def query_baselines(rows: Iterable[Row], samples: Iterable[Row]) -> list[QueryBaseline]:
    """Baseline rows as QueryBaselines, each carrying its rows of ``samples`` (in their order)."""
    rows = list(rows)
    by_baseline: dict[int, list[QuerySample]] = {row["id"]: [] for row in rows}
    for sample in samples:
        by_baseline[sample["baseline_id"]].append(query_sample(sample))
    return [
        QueryBaseline(
            database=row["database"],
            query_key=row["query_key"],
            query=row["query"],
            metric=row["metric"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            name=row["name"],
            superseded_at=row["superseded_at"],
            samples=tuple(by_baseline[row["id"]]),
            id=row["id"],
        )
        for row in rows
    ]


def baseline_check(row: Row) -> BaselineCheck:
    """A baseline_checks row as a BaselineCheck."""
    return BaselineCheck(
        database=row["database"],
        query_key=row["query_key"],
        checked_at=row["checked_at"],
        status=row["status"],
        metric=row["metric"],
        current=row["current"],
        baseline_id=row["baseline_id"],
        improved=bool(row["improved"]),
        stale=bool(row["stale"]),
        mean=row["mean"],
        stddev=row["stddev"],
        low=row["low"],
        high=row["high"],
        samples=row["samples"],
        change=row["change"],
        message=row["message"],
        id=row["id"],
    )


def baseline_check_values(check: BaselineCheck) -> tuple[Any, ...]:
    """The values of one check, in the column order of the inserts of every backend."""
    return (
        check.database,
        check.query_key,
        check.baseline_id,
        check.checked_at,
        check.status,
        check.improved,
        check.stale,
        check.metric,
        check.current,
        check.mean,
        check.stddev,
        check.low,
        check.high,
        check.samples,
        check.change,
        check.message,
    )


BASELINE_CHECK_COLUMNS = (
    "database, query_key, baseline_id, checked_at, status, improved, stale, metric, current,"
    " mean, stddev, low, high, samples, change, message"
)


def operation_timing(row: Row) -> OperationTiming:
    """An operation_timings row as an OperationTiming."""
    return OperationTiming(
        operation=row["operation"],
        seconds=row["seconds"],
        recorded_at=row["recorded_at"],
        ok=bool(row["ok"]),
        id=row["id"],
    )


def where(*conditions: tuple[str, Any], always: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """A ``WHERE`` clause of the ``(sql, value)`` conditions whose value is not None.

    ``sql`` holds one placeholder for its value; ``always`` are conditions without a value.
    """
    parts = [text for text, value in conditions if value is not None]
    parts.extend(always)
    params = [value for _, value in conditions if value is not None]
    return (f"WHERE {' AND '.join(parts)}" if parts else ""), params
