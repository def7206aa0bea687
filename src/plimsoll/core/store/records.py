"""The records the state store keeps and returns: frozen dataclasses, the same for every backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OutboxItem:
    """A notification kept in the outbox until it is delivered (or given up: ``dead_at``).

    A channel's items go out in the order they were queued (their ``id``); an item given up
    (see :meth:`~plimsoll.core.store.base.Store.outbox_give_up`) no longer holds the later ones.
    """

    id: int
    channel: str
    payload: dict[str, Any]
    created_at: float
    attempts: int
    next_attempt_at: float
    last_error: str | None
    delivered_at: float | None
    dedupe_key: str | None = None
    dead_at: float | None = None


@dataclass(frozen=True)
class BreakerState:
    """The circuit-breaker state of one channel: consecutive failures and when it opened."""

    channel: str
    failures: int = 0
    opened_at: float | None = None


@dataclass(frozen=True)
class MigrationRun:
    """One migration applied or reverted: when, how long, how it ended, what it touched."""

    database: str
    version: str
    name: str
    direction: str
    started_at: float
    finished_at: float
    duration_ms: int
    outcome: str
    error: str | None = None
    server_version: int | None = None
    tables: tuple[tuple[str, int | None], ...] = ()
    id: int | None = None


@dataclass(frozen=True)
class QuerySample:
    """One measurement of a query: the compared ``value`` and what EXPLAIN reported around it.

    ``plan`` is a small JSON-ready summary of the plan (node types, top node), not the plan.
    """

    recorded_at: float
    value: float
    execution_ms: float | None = None
    planning_ms: float | None = None
    total_cost: float | None = None
    rows: float | None = None
    shared_hit: int | None = None
    shared_read: int | None = None
    plan: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True)
class QueryBaseline:
    """A query's baseline on one database: what ``metric`` its samples measure, and since when.

    ``superseded_at`` is set once a newer baseline replaced it (it stays as history).
    """

    database: str
    query_key: str
    query: str
    metric: str
    created_at: float
    updated_at: float
    name: str | None = None
    superseded_at: float | None = None
    samples: tuple[QuerySample, ...] = ()
    id: int | None = None


@dataclass(frozen=True)
class BaselineCheck:
    """One query's verdict in a regression check, with the baseline figures it was judged by."""

    database: str
    query_key: str
    checked_at: float
    status: str
    metric: str
    current: float
    baseline_id: int | None = None
    improved: bool = False
    stale: bool = False
    mean: float | None = None
    stddev: float | None = None
    low: float | None = None
    high: float | None = None
    samples: int = 0
    change: float | None = None
    message: str = ""
    id: int | None = None


@dataclass(frozen=True)
class OperationTiming:
    """How long one of plimsoll's own operations took, and whether it completed."""

    operation: str
    seconds: float
    recorded_at: float
    ok: bool = True
    id: int | None = None
