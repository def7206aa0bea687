"""QueryProfiler: EXPLAIN ANALYZE of representative queries, with its own overhead measured.

For each query chosen by the sampling rate: ``warmup`` runs that are thrown away (the first
run reads from disk into the cache), then ``runs`` runs of ``EXPLAIN (ANALYZE, BUFFERS)``
kept as samples, then, when overhead is measured, as many runs with ``TIMING OFF``. Every
query runs in a savepoint of one transaction, which the caller rolls back: a failing query is
reported and the others go on, and nothing a query might change is kept.

The profiler reports what it cost, from its own clock and the server's figures:

- the wall time of the whole run;
- the server time of the kept samples (planning + execution as EXPLAIN reported them);
- the profiler's overhead: wall time minus that, i.e. warm-up and overhead-measuring runs,
  round trips, JSON parsing and bookkeeping;
- the instrumentation overhead: how much slower a query runs under EXPLAIN ANALYZE's per-node
  timing than without it (median with timing minus median with ``TIMING OFF``), with the
  noise of that difference (the 95% half-width from the samples' spread, see
  :func:`~plimsoll.db.profiling.stats.sum_noise`): a difference within the noise, or below
  zero, is no measured overhead at all, and is reported as "within noise";
- the sampling: the rate asked for, the fraction of queries the sampling selected (all of them
  ran), and how many of those failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from plimsoll.db.profiling import stats
from plimsoll.db.profiling.explain import (
    Measurement,
    Metric,
    explain_analyze,
    explain_generic,
)
from plimsoll.db.profiling.queries import Query, sample

DEFAULT_RUNS = 5
DEFAULT_WARMUP = 1


@dataclass(frozen=True)
class QueryProfile:
    """One query's measurements, or why it has none.

    ``server_error`` is the server's one-line message when the query failed (the first line
    of its primary message, as ``psql`` shows it); :attr:`error` adds the query's file and line.
    """

    query: Query
    measurements: tuple[Measurement, ...] = ()
    untimed_ms: tuple[float, ...] = ()
    server_error: str | None = None

    @property
    def error(self) -> str | None:
        """``file:line: message`` when the query failed, else None."""
        if self.server_error is None:
            return None
        return f"{self.query.source}:{self.query.line}: {self.server_error}"

    @property
    def metric(self) -> Metric:
        """What the samples measure: execution time, or a generic plan's cost."""
        return self.measurements[0].metric if self.measurements else Metric.EXECUTION_MS

    @property
    def values(self) -> tuple[float, ...]:
        """The samples' values in the profile's metric."""
        return tuple(m.value for m in self.measurements)

    @property
    def median(self) -> float | None:
        """The median sample, or None without samples."""
        return stats.median(self.values) if self.measurements else None

    @property
    def instrumentation_ms(self) -> float | None:
        """Median execution time with per-node timing minus without it (None if not measured)."""
        timed = [m.execution_ms for m in self.measurements if m.execution_ms is not None]
        if not timed or not self.untimed_ms:
            return None
        return stats.median(timed) - stats.median(self.untimed_ms)

    @property
    def instrumentation_groups(self) -> list[list[float]]:
        """The timed and untimed execution times the instrumentation overhead compares."""
        if not self.untimed_ms:
            return []
        timed = [m.execution_ms for m in self.measurements if m.execution_ms is not None]
        return [timed, list(self.untimed_ms)] if timed else []

    @property
    def instrumentation_noise_ms(self) -> float | None:
        """The 95% half-width of the instrumentation overhead (None below two runs)."""
        groups = self.instrumentation_groups
        return stats.sum_noise(groups) if groups else None

    @property
    def server_ms(self) -> float:
        """The server time (planning + execution) of the kept samples."""
        return sum((m.planning_ms or 0.0) + (m.execution_ms or 0.0) for m in self.measurements)

    def to_dict(self) -> dict[str, Any]:
        """The profile as a JSON-ready dict."""
        last = self.measurements[-1] if self.measurements else None
        return {
            **self.query.to_dict(),
            "metric": self.metric.value,
            "samples": [round(v, 4) for v in self.values],
            "median": None if self.median is None else round(self.median, 4),
            "planning_ms": [m.planning_ms for m in self.measurements],
            "shared_hit": last.shared_hit if last else None,
            "shared_read": last.shared_read if last else None,
            "rows": last.actual_rows if last and last.analyzed else None,
            "plan": list(last.nodes) if last else [],
            "untimed_ms": [round(v, 4) for v in self.untimed_ms],
            "instrumentation_ms": _round(self.instrumentation_ms),
            "instrumentation_noise_ms": _round(self.instrumentation_noise_ms),
            "error": self.error,
            "server_error": self.server_error,
        }


@dataclass(frozen=True)
class Sampling:
    """The sampling rate asked for, what it selected, and how many of those were measured.

    Every selected query runs; ``profiled`` counts those that gave samples, ``failed`` the
    others (a failing query is no sign of the sampling: the rate was honoured).
    """

    requested: float
    total: int
    selected: int
    profiled: int

    @property
    def actual(self) -> float:
        """The fraction of the queries the sampling selected (and ran)."""
        return self.selected / self.total if self.total else 0.0

    @property
    def failed(self) -> int:
        """How many of the selected queries failed (ran, but gave no samples)."""
        return self.selected - self.profiled

    def to_dict(self) -> dict[str, Any]:
        """The sampling as a JSON-ready dict."""
        return {
            "requested": self.requested,
            "actual": round(self.actual, 4),
            "total": self.total,
            "selected": self.selected,
            "profiled": self.profiled,
            "failed": self.failed,
        }


@dataclass(frozen=True)
class Overhead:
    """What profiling cost (see the module docstring); times in milliseconds.

    ``instrumentation_noise_ms`` is the 95% half-width of ``instrumentation_ms`` (None when it
    could not be measured: fewer than two runs).
    """

    wall_ms: float
    measured_ms: float
    extra_runs_ms: float
    instrumentation_ms: float | None
    untimed_ms: float | None
    instrumentation_noise_ms: float | None = None

    @property
    def overhead_ms(self) -> float:
        """Everything the profiler spent beyond the kept samples' server time."""
        return max(self.wall_ms - self.measured_ms, 0.0)

    @property
    def overhead_pct(self) -> float:
        """The overhead as a share of the wall time, in percent."""
        return 100.0 * self.overhead_ms / self.wall_ms if self.wall_ms > 0 else 0.0

    @property
    def client_ms(self) -> float:
        """Round trips, parsing and bookkeeping: wall time no server run accounts for."""
        return max(self.wall_ms - self.measured_ms - self.extra_runs_ms, 0.0)

    @property
    def instrumentation_within_noise(self) -> bool:
        """Whether the instrumentation overhead is no measured overhead: at most zero, or not
        above its noise (False when it was not measured)."""
        if self.instrumentation_ms is None:
            return False
        if self.instrumentation_ms <= 0:
            return True
        noise = self.instrumentation_noise_ms
        return noise is not None and self.instrumentation_ms <= noise

    @property
    def instrumentation_pct(self) -> float | None:
        """The instrumentation overhead relative to the untimed execution time, in percent."""
        if self.instrumentation_ms is None or not self.untimed_ms:
            return None
        return 100.0 * self.instrumentation_ms / self.untimed_ms

    def to_dict(self) -> dict[str, Any]:
        """The overhead as a JSON-ready dict."""
        return {
            "wall_ms": round(self.wall_ms, 3),
            "measured_ms": round(self.measured_ms, 3),
            "overhead_ms": round(self.overhead_ms, 3),
            "overhead_pct": round(self.overhead_pct, 2),
            "extra_runs_ms": round(self.extra_runs_ms, 3),
            "client_ms": round(self.client_ms, 3),
            "instrumentation_ms": _round(self.instrumentation_ms),
            "instrumentation_pct": _round(self.instrumentation_pct, 2),
            "instrumentation_noise_ms": _round(self.instrumentation_noise_ms),
            "instrumentation_within_noise": self.instrumentation_within_noise,
        }


@dataclass
class ProfileReport:
    """One profiling run: a profile per sampled query, the sampling and the overhead."""

    label: str
    runs: int
    profiles: list[QueryProfile] = field(default_factory=list)
    sampling: Sampling = field(default_factory=lambda: Sampling(1.0, 0, 0, 0))
    overhead: Overhead = field(default_factory=lambda: Overhead(0.0, 0.0, 0.0, None, None))

    def get(self, key: str) -> QueryProfile | None:
        """The profile of the query with ``key``, or None."""
        return next((p for p in self.profiles if p.query.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "label": self.label,
            "runs": self.runs,
            "sampling": self.sampling.to_dict(),
            "overhead": self.overhead.to_dict(),
            "queries": [p.to_dict() for p in self.profiles],
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _one_line(exc: psycopg.Error) -> str:
    primary = getattr(exc.diag, "message_primary", None) or str(exc)
    return primary.splitlines()[0] if primary else type(exc).__name__


class QueryProfiler:
    """Profiles queries with EXPLAIN ANALYZE (see the module docstring).

    ``sample_rate`` (0 < rate <= 1) picks the share of queries profiled (deterministically, by
    key and ``seed``); ``clock`` is the stopwatch for the wall time (seconds).
    """

    def __init__(
        self,
        *,
        runs: int = DEFAULT_RUNS,
        warmup: int = DEFAULT_WARMUP,
        sample_rate: float = 1.0,
        seed: str = "",
        measure_overhead: bool = True,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if runs < 1:
            raise ValueError(f"runs must be at least 1, got {runs}")
        if warmup < 0:
            raise ValueError(f"warmup must not be negative, got {warmup}")
        if not 0.0 < sample_rate <= 1.0:
            raise ValueError(f"sampling rate must be within (0, 1], got {sample_rate}")
        self.runs = runs
        self.warmup = warmup
        self.sample_rate = sample_rate
        self.seed = seed
        self.measure_overhead = measure_overhead
        self.clock = clock

    def select(self, queries: Sequence[Query]) -> list[Query]:
        """The queries the sampling rate selects."""
        return sample(queries, self.sample_rate, self.seed)

    def profile(
        self, conn: psycopg.Connection[Any], queries: Sequence[Query], *, label: str = "current"
    ) -> ProfileReport:
        """Profile the sampled ``queries`` on ``conn``, which must not be in autocommit.

        Everything runs in the connection's current transaction (each query in a savepoint);
        rolling it back is the caller's job, as is choosing when (before or after a migration).
        """
        if conn.autocommit:
            raise ValueError("profile a connection in a transaction, not in autocommit")
        if conn.info.transaction_status == TransactionStatus.IDLE:
            # psycopg begins a transaction with the first statement; without one, the savepoint
            # blocks below would each be a transaction of their own, committed.
            conn.execute("SELECT 1")
        chosen = self.select(queries)
        started = self.clock()
        profiles: list[QueryProfile] = []
        extra_ms = 0.0
        for query in chosen:
            profile, extra = self._one(conn, query)
            profiles.append(profile)
            extra_ms += extra
        wall_ms = (self.clock() - started) * 1000
        measured_ms = sum(p.server_ms for p in profiles)
        instrumented = [p for p in profiles if p.instrumentation_ms is not None]
        overhead = Overhead(
            wall_ms=wall_ms,
            measured_ms=measured_ms,
            extra_runs_ms=extra_ms,
            instrumentation_ms=(
                sum(p.instrumentation_ms or 0.0 for p in instrumented) if instrumented else None
            ),
            untimed_ms=(
                sum(stats.median(p.untimed_ms) for p in instrumented) if instrumented else None
            ),
            # The total's noise from every query's samples at once, not a sum of half-widths.
            instrumentation_noise_ms=(
                stats.sum_noise([g for p in instrumented for g in p.instrumentation_groups])
                if instrumented
                else None
            ),
        )
        sampling = Sampling(
            requested=self.sample_rate,
            total=len(queries),
            selected=len(chosen),
            profiled=sum(1 for p in profiles if p.measurements),
        )
        return ProfileReport(label, self.runs, profiles, sampling, overhead)

    def _one(self, conn: psycopg.Connection[Any], query: Query) -> tuple[QueryProfile, float]:
        """One query's profile and the server time of its extra (warm-up, untimed) runs."""
        extra_ms = 0.0
        measurements: list[Measurement] = []
        untimed: list[float] = []
        try:
            with conn.transaction():
                if query.parameters:
                    # Planning only: the same plan every time, so one sample says it all.
                    measurements.append(explain_generic(conn, query))
                    return QueryProfile(query, tuple(measurements)), 0.0
                for _ in range(self.warmup):
                    warm = explain_analyze(conn, query, timing=False)
                    extra_ms += (warm.planning_ms or 0.0) + (warm.execution_ms or 0.0)
                for _ in range(self.runs):
                    measurements.append(explain_analyze(conn, query))
                if self.measure_overhead:
                    for _ in range(self.runs):
                        plain = explain_analyze(conn, query, timing=False)
                        extra_ms += (plain.planning_ms or 0.0) + (plain.execution_ms or 0.0)
                        untimed.append(plain.execution_ms or 0.0)
        except psycopg.Error as exc:
            return QueryProfile(query, server_error=_one_line(exc)), 0.0
        return QueryProfile(query, tuple(measurements), tuple(untimed)), extra_ms


def profile_database(
    profiler: QueryProfiler,
    conninfo: str,
    queries: Sequence[Query],
    *,
    statement_timeout: str | None = None,
    label: str = "current",
) -> ProfileReport:
    """Profile ``queries`` on the database at ``conninfo`` in one transaction, rolled back."""
    with psycopg.connect(conninfo, application_name="plimsoll-profile") as conn:
        try:
            if statement_timeout:
                conn.execute(
                    "SELECT set_config('statement_timeout', %s, true)", (statement_timeout,)
                )
            return profiler.profile(conn, queries, label=label)
        finally:
            conn.rollback()
