"""plimsoll's own objectives: how fast its operations must be, judged from recorded timings.

=====================  ======  =============================================================
operation              p99     what is timed
=====================  ======  =============================================================
``hook_execution``     50 ms   one phase of lifecycle hooks run by the hook executor
``risk_assessment``    5 s     scoring one migration run's risk against the live database
``rule_composition``   100 ms  composing the lint rules of the enabled libraries
``baseline_lookup``    10 ms   reading one query's baseline (and samples) from the store
``regression_check``   20 ms   judging one query against its baseline, lookup included
=====================  ======  =============================================================

The percentile is p99 for each (the issue names no other for the last three). An objective is
met when the p99 of the timings in the window is within its target; its error budget is the
1% of operations allowed over the target, and what is left of it is reported.

Timings older than twice the window are deleted when a recorder first writes to a store.

Recording: ``record_timing(store, operation, seconds)`` or ``with timed(store, operation):``.
Code that has no store at hand passes ``None`` (or decorates a function with
``timed_operation``): the timing is kept in the process's :data:`DEFAULT_RECORDER` (bounded)
until someone who has a store calls ``flush_timings(store)``. Recording never fails the
operation it times: a store that cannot be written is logged and skipped.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

from plimsoll.core.log import get_logger
from plimsoll.core.store import OperationTiming, Store
from plimsoll.db.profiling import stats

log = get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_WINDOW_SECONDS = 30 * 86400.0
# Timings older than this are deleted when a recorder first writes to a store: twice the
# objectives' window, so a report over the window always has all of it.
RETENTION_SECONDS = 2 * DEFAULT_WINDOW_SECONDS
# Timings kept in memory for a store that has not been flushed to, oldest dropped first.
BUFFER_SIZE = 10_000


class Operation(StrEnum):
    """The operations plimsoll times against its own objectives."""

    HOOK_EXECUTION = "hook_execution"
    RISK_ASSESSMENT = "risk_assessment"
    RULE_COMPOSITION = "rule_composition"
    BASELINE_LOOKUP = "baseline_lookup"
    REGRESSION_CHECK = "regression_check"


@dataclass(frozen=True)
class Objective:
    """An operation's target: ``percentile`` of its timings within ``target_seconds``."""

    operation: str
    target_seconds: float
    percentile: float = 99.0
    description: str = ""

    @property
    def allowed_over(self) -> float:
        """The share of operations allowed over the target (0.01 for p99)."""
        return (100.0 - self.percentile) / 100.0


OBJECTIVES: tuple[Objective, ...] = (
    Objective(Operation.HOOK_EXECUTION, 0.050, 99.0, "one phase of lifecycle hooks"),
    Objective(Operation.RISK_ASSESSMENT, 5.0, 99.0, "a migration's risk assessment"),
    Objective(Operation.RULE_COMPOSITION, 0.100, 99.0, "composing the lint rules"),
    Objective(Operation.BASELINE_LOOKUP, 0.010, 99.0, "reading one query's baseline"),
    Objective(Operation.REGRESSION_CHECK, 0.020, 99.0, "judging one query against its baseline"),
)


# --- recording ------------------------------------------------------------------------------


class TimingRecorder:
    """Timings kept in memory until written to a store with :meth:`flush` (thread-safe)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, maxlen: int = BUFFER_SIZE):
        self.clock = clock
        self._lock = threading.Lock()
        self._pending: deque[OperationTiming] = deque(maxlen=maxlen)
        # The stores (by id) this recorder has purged already: once each is enough.
        self._purged: set[int] = set()

    def record(
        self, operation: str, seconds: float, *, ok: bool = True, at: float | None = None
    ) -> None:
        """Keep one timing of ``operation``."""
        if seconds < 0:
            raise ValueError(f"a timing cannot be negative: {operation} took {seconds}s")
        timing = OperationTiming(
            str(operation), float(seconds), self.clock() if at is None else at, ok
        )
        with self._lock:
            self._pending.append(timing)

    @contextmanager
    def time(self, operation: str) -> Iterator[None]:
        """Time the block as one ``operation`` (recorded as not ok when it raises)."""
        started = time.perf_counter()
        ok = False
        try:
            yield
            ok = True
        finally:
            self.record(operation, time.perf_counter() - started, ok=ok)

    def pending(self) -> list[OperationTiming]:
        """The timings not written yet, oldest first."""
        with self._lock:
            return list(self._pending)

    def flush(self, store: Store) -> int:
        """Write the pending timings to ``store``; return how many (0 when the write failed)."""
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
        if not batch:
            return 0
        try:
            store.timings_add(batch)
            if id(store) not in self._purged:
                self._purged.add(id(store))
                store.timings_purge(self.clock() - RETENTION_SECONDS)
        except Exception as exc:  # noqa: BLE001 - timings are for later; never fail the caller
            log.warning(
                "could not record %d operation timings: %s",
                len(batch),
                exc,
                extra={"event": "timings_not_recorded"},
            )
            return 0
        return len(batch)


DEFAULT_RECORDER = TimingRecorder()


def record_timing(store: Store | None, operation: str, seconds: float, *, ok: bool = True) -> None:
    """Record that ``operation`` took ``seconds``: in ``store``, or in the default recorder."""
    if store is None:
        DEFAULT_RECORDER.record(operation, seconds, ok=ok)
        return
    recorder = TimingRecorder()
    recorder.record(operation, seconds, ok=ok)
    recorder.flush(store)


@contextmanager
def timed(store: Store | None, operation: str) -> Iterator[None]:
    """Time the block as one ``operation`` and record it (see :func:`record_timing`)."""
    started = time.perf_counter()
    ok = False
    try:
        yield
        ok = True
    finally:
        record_timing(store, operation, time.perf_counter() - started, ok=ok)


def timed_operation(operation: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a function so each call is timed as ``operation`` in the default recorder."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with DEFAULT_RECORDER.time(operation):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def flush_timings(store: Store) -> int:
    """Write the default recorder's pending timings to ``store``; return how many."""
    return DEFAULT_RECORDER.flush(store)


# --- judging --------------------------------------------------------------------------------


class ObjectiveStatus(StrEnum):
    """Whether an objective is met over the window."""

    MET = "met"
    BREACHED = "breached"
    NO_DATA = "no_data"


@dataclass(frozen=True)
class ObjectiveResult:
    """One objective against the timings of the window."""

    objective: Objective
    status: ObjectiveStatus
    count: int = 0
    failed: int = 0
    observed: float | None = None
    p50: float | None = None
    maximum: float | None = None
    within: float | None = None
    budget_remaining: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (times in milliseconds)."""
        objective = self.objective
        return {
            "operation": str(objective.operation),
            "description": objective.description,
            "percentile": objective.percentile,
            "target_ms": round(objective.target_seconds * 1000, 3),
            "status": self.status.value,
            "count": self.count,
            "failed": self.failed,
            "observed_ms": _ms(self.observed),
            "p50_ms": _ms(self.p50),
            "max_ms": _ms(self.maximum),
            "within_target": None if self.within is None else round(self.within, 6),
            "budget_remaining": (
                None if self.budget_remaining is None else round(self.budget_remaining, 6)
            ),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def judge(objective: Objective, timings: Sequence[OperationTiming]) -> ObjectiveResult:
    """How ``objective`` stands given ``timings`` (of its operation)."""
    values = [t.seconds for t in timings]
    if not values:
        return ObjectiveResult(objective, ObjectiveStatus.NO_DATA)
    observed = stats.percentile(values, objective.percentile)
    over = sum(1 for v in values if v > objective.target_seconds)
    allowed = objective.allowed_over * len(values)
    # The budget is the share allowed over target; 1.0 untouched, 0 spent, negative overspent.
    remaining = 1.0 - over / allowed if allowed > 0 else (1.0 if over == 0 else -float(over))
    status = (
        ObjectiveStatus.MET if observed <= objective.target_seconds else ObjectiveStatus.BREACHED
    )
    return ObjectiveResult(
        objective,
        status,
        count=len(values),
        failed=sum(1 for t in timings if not t.ok),
        observed=observed,
        p50=stats.percentile(values, 50.0),
        maximum=max(values),
        within=(len(values) - over) / len(values),
        budget_remaining=remaining,
    )


def evaluate(
    timings: Sequence[OperationTiming], objectives: Sequence[Objective] = OBJECTIVES
) -> list[ObjectiveResult]:
    """Every objective judged against the timings of its operation."""
    by_operation: dict[str, list[OperationTiming]] = {}
    for timing in timings:
        by_operation.setdefault(timing.operation, []).append(timing)
    return [judge(o, by_operation.get(str(o.operation), [])) for o in objectives]


def compliance(
    store: Store,
    *,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    now: float | None = None,
    objectives: Sequence[Objective] = OBJECTIVES,
) -> list[ObjectiveResult]:
    """The objectives judged against the timings the store holds for the last window."""
    since = (time.time() if now is None else now) - window_seconds
    return evaluate(store.timings(since=since), objectives)
