"""From a stored row to a record: one mapping per table, shared by every backend.

A row is anything indexable by column name (``sqlite3.Row``, a psycopg ``dict_row``). JSON
columns arrive as text from SQLite and already decoded from PostgreSQL (``jsonb``); booleans as
0/1 from SQLite and as ``bool`` from PostgreSQL: both are accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from typing import Any, Protocol, TypeVar

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


R = TypeVar("R")


def _record(cls: type[R], row: Row, **converted: Any) -> R:
    """A ``cls`` record of ``row``: each field from the column of its name, but ``converted``.

    The tables' columns are named as the records' fields, so one mapping serves every table.
    """
    names = [f.name for f in fields(cls) if f.name not in converted]  # type: ignore[arg-type]
    return cls(**{name: row[name] for name in names}, **converted)


OUTBOX_COLUMNS = (
    "id, channel, dedupe_key, payload, created_at, attempts, next_attempt_at, last_error, "
    "delivered_at, dead_at"
)


def decoded(value: Any) -> Any:
    """A JSON column's value: decoded when it is still text (SQLite), as is otherwise."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def outbox_item(row: Row, *, next_attempt_at: float | None = None) -> OutboxItem:
    """An outbox row as an OutboxItem (``next_attempt_at`` overrides the row's, when given)."""
    return _record(
        OutboxItem,
        row,
        payload=decoded(row["payload"]),
        next_attempt_at=row["next_attempt_at"] if next_attempt_at is None else next_attempt_at,
    )


def migration_run(row: Row) -> MigrationRun:
    """A migration_runs row as a MigrationRun."""
    tables = tuple((name, size) for name, size in decoded(row["tables"]))
    return _record(MigrationRun, row, tables=tables)


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
    return _record(QuerySample, row, plan=decoded(row["plan"]))


def query_baselines(rows: Iterable[Row], samples: Iterable[Row]) -> list[QueryBaseline]:
    """Baseline rows as QueryBaselines, each carrying its rows of ``samples`` (in their order)."""
    rows = list(rows)
    by_baseline: dict[int, list[QuerySample]] = {row["id"]: [] for row in rows}
    for sample in samples:
        by_baseline[sample["baseline_id"]].append(query_sample(sample))
    return [_record(QueryBaseline, row, samples=tuple(by_baseline[row["id"]])) for row in rows]


def baseline_check(row: Row) -> BaselineCheck:
    """A baseline_checks row as a BaselineCheck (booleans are 0/1 on SQLite)."""
    return _record(BaselineCheck, row, improved=bool(row["improved"]), stale=bool(row["stale"]))


def baseline_check_values(check: BaselineCheck) -> tuple[Any, ...]:
    """The values of one check, in the order of :data:`BASELINE_CHECK_COLUMNS`."""
    return tuple(getattr(check, column.strip()) for column in BASELINE_CHECK_COLUMNS.split(","))


BASELINE_CHECK_COLUMNS = (
    "database, query_key, baseline_id, checked_at, status, improved, stale, metric, current,"
    " mean, stddev, low, high, samples, change, message"
)


def operation_timing(row: Row) -> OperationTiming:
    """An operation_timings row as an OperationTiming."""
    return _record(OperationTiming, row, ok=bool(row["ok"]))


def where(*conditions: tuple[str, Any], always: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """A ``WHERE`` clause of the ``(sql, value)`` conditions whose value is not None.

    ``sql`` holds one placeholder for its value; ``always`` are conditions without a value.
    """
    parts = [text for text, value in conditions if value is not None]
    parts.extend(always)
    params = [value for _, value in conditions if value is not None]
    return (f"WHERE {' AND '.join(parts)}" if parts else ""), params
