"""Usage analytics over the stored events: per-feature performance, and behaviour in sessions.

:class:`PerformanceAnalyzer` gives, per feature and over a window (``1h``, ``1d``, ``1w``,
``30d`` or any duration), the number of calls, how many raised and the error rate, and the
duration percentiles p50, p95 and p99.

Percentile definition: linear interpolation between the closest ranks over the inclusive range
(Hyndman and Fan's type 7, NumPy's default, and ``statistics.quantiles(data, n=100,
method="inclusive")``): for n sorted values ``x[0..n-1]`` the p-th percentile is
``x[j] + (x[j+1] - x[j]) * d / 100`` with ``j, d = divmod(p * (n - 1), 100)``; one value is its
own percentile. :func:`percentile` computes it with the same arithmetic as ``statistics``, so the
two agree to the last bit.

:class:`BehaviorAnalyzer` finds frequent sequences of features within sessions (n-grams of the
features each pseudonymous session used, in time order) and counts usage by hour of the day
(UTC).
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from plimsoll.core.errors import UsageError
from plimsoll.core.rules import parse_duration
from plimsoll.core.store import Store
from plimsoll.core.store.parts import PartSql, part_sql
from plimsoll.runtime import storage
from plimsoll.runtime.usage import EventKind

__all__ = [
    "WINDOWS",
    "BehaviorAnalyzer",
    "FeatureStats",
    "PerformanceAnalyzer",
    "SequencePattern",
    "UsageReport",
    "percentile",
    "usage_report",
    "window_seconds",
]

# The standard windows, by name.
WINDOWS: dict[str, float] = {"1h": 3600.0, "1d": 86400.0, "1w": 7 * 86400.0, "30d": 30 * 86400.0}
_CALL_KINDS = (EventKind.FEATURE.value, EventKind.API_CALL.value)


def window_seconds(window: str | float) -> float:
    """Seconds in a window: a name of :data:`WINDOWS` or any duration (``90m``, ``2d``)."""
    if isinstance(window, str) and window in WINDOWS:
        return WINDOWS[window]
    try:
        seconds = parse_duration(window)
    except ValueError as exc:
        raise UsageError(f"window: {exc}") from None
    if seconds <= 0:
        raise UsageError(f"window: {window!r} must be a positive duration")
    return seconds


def percentile(ordered: Sequence[float], p: int) -> float:
    """The ``p``-th percentile (0-100) of sorted values, inclusive linear interpolation.

    Matches ``statistics.quantiles(ordered, n=100, method="inclusive")[p - 1]`` exactly.
    """
    n = len(ordered)
    if n == 0:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is not between 0 and 100")
    if n == 1:
        return float(ordered[0])
    j, delta = divmod(p * (n - 1), 100)
    if j >= n - 1:
        return float(ordered[-1])
    # The same expression statistics.quantiles uses, so results agree bit for bit.
    return (ordered[j] * (100 - delta) + ordered[j + 1] * delta) / 100


@dataclass(frozen=True)
class FeatureStats:
    """One feature over a window: calls, failures, error rate, durations in milliseconds.

    ``failed`` counts calls that raised; ``error_events`` the errors reported for the feature
    with ``track_error`` (not calls, so not in the error rate).
    """

    feature: str
    calls: int
    failed: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    max_ms: float | None
    error_events: int = 0
    kinds: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The stats as JSON-ready data."""
        data = asdict(self)
        data["kinds"] = list(self.kinds)
        return data


def _sql(store: Store) -> PartSql:
    found = part_sql(store, "usage")
    storage.ensure_schema(store)
    return found


class _Analyzer:
    def __init__(self, store: Store, *, now: float | None = None) -> None:
        self.store = store
        # The store's connection (SQLite or PostgreSQL) and how its SQL is spelt.
        found = _sql(store)
        self.db = found.connection
        self.dialect = found.dialect
        self._now = now

    def _range(self, window: str | float, until: float | None) -> tuple[float, float]:
        end = until if until is not None else (self._now if self._now is not None else time.time())
        return end - window_seconds(window), end


class PerformanceAnalyzer(_Analyzer):
    """Per-feature counts, error rates and duration percentiles over windows of the event store.

    ``now`` fixes the end of every window (the current time when None).
    """

    def features(
        self, window: str | float = "1d", *, until: float | None = None
    ) -> list[FeatureStats]:
        """Stats of every feature called in the window ending at ``until`` (now), by name."""
        since, end = self._range(window, until)
        errors = {
            r["feature"]: int(r["n"])
            for r in self.db.query(
                "SELECT feature, COUNT(*) AS n FROM usage_events WHERE kind = ?"
                " AND ts >= ? AND ts <= ? GROUP BY feature",
                (EventKind.ERROR.value, since, end),
            )
        }
        out: dict[str, FeatureStats] = {}
        with self.db.read() as conn:
            # Sorted by the database, streamed: Python holds one feature's durations at a time.
            rows = conn.execute(
                "SELECT feature, kind, duration_ms, ok FROM usage_events"
                " WHERE kind IN (?, ?) AND ts >= ? AND ts <= ?"
                " ORDER BY feature, duration_ms",
                (*_CALL_KINDS, since, end),
            )
            for feature, group in itertools.groupby(rows, key=lambda r: r["feature"]):
                out[feature] = _stats(feature, list(group), errors.get(feature, 0))
        for feature, count in errors.items():
            if feature not in out:
                out[feature] = FeatureStats(
                    feature, 0, 0, 0.0, None, None, None, None, None, count, ()
                )
        return [out[name] for name in sorted(out)]

    def windows(
        self, windows: Iterable[str | float] = tuple(WINDOWS)
    ) -> dict[str, list[FeatureStats]]:
        """:meth:`features` over each window (by default 1h, 1d, 1w and 30d), keyed by window."""
        end = self._now if self._now is not None else time.time()
        return {str(w): self.features(w, until=end) for w in windows}


def _stats(feature: str, rows: list[Any], error_events: int) -> FeatureStats:
    durations = [float(r["duration_ms"]) for r in rows if r["duration_ms"] is not None]
    calls = len(rows)
    failed = sum(1 for r in rows if not r["ok"])
    kinds = tuple(sorted({str(r["kind"]) for r in rows}))
    p50: float | None
    p50 = p95 = p99 = mean = peak = None
    if durations:
        p50, p95, p99 = (percentile(durations, p) for p in (50, 95, 99))
        mean = sum(durations) / len(durations)
        peak = durations[-1]
    return FeatureStats(
        feature=feature,
        calls=calls,
        failed=failed,
        error_rate=failed / calls if calls else 0.0,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        mean_ms=mean,
        max_ms=peak,
        error_events=error_events,
        kinds=kinds,
    )


@dataclass(frozen=True)
class SequencePattern:
    """A sequence of features used in this order within sessions: how often, in how many."""

    steps: tuple[str, ...]
    occurrences: int
    sessions: int

    def to_dict(self) -> dict[str, Any]:
        """The pattern as JSON-ready data."""
        return {
            "steps": list(self.steps),
            "occurrences": self.occurrences,
            "sessions": self.sessions,
        }


class BehaviorAnalyzer(_Analyzer):
    """Workflow patterns within sessions, and usage by hour of the day (UTC)."""

    def session_paths(
        self, window: str | float = "1d", *, until: float | None = None
    ) -> dict[str, list[str]]:
        """The features each session used in the window, in time order (errors left out)."""
        since, end = self._range(window, until)
        rows = self.db.query(
            "SELECT session, feature FROM usage_events WHERE session IS NOT NULL AND kind != ?"
            " AND ts >= ? AND ts <= ? ORDER BY session, ts, id",
            (EventKind.ERROR.value, since, end),
        )
        return {
            str(sid): [str(r["feature"]) for r in group]
            for sid, group in itertools.groupby(rows, key=lambda r: r["session"])
        }

    def sequences(
        self,
        window: str | float = "1d",
        *,
        length: int = 2,
        min_sessions: int = 2,
        top: int = 20,
        until: float | None = None,
    ) -> list[SequencePattern]:
        """The most frequent ``length``-step sequences within sessions.

        A sequence counts once per place it occurs (``occurrences``) and once per session it
        occurs in (``sessions``); those seen in fewer than ``min_sessions`` sessions are left
        out. Ordered by sessions, then occurrences, then steps.
        """
        if length < 1:
            raise UsageError("a sequence has at least one step")
        occurrences: Counter[tuple[str, ...]] = Counter()
        sessions: Counter[tuple[str, ...]] = Counter()
        for path in self.session_paths(window, until=until).values():
            grams = [tuple(path[i : i + length]) for i in range(len(path) - length + 1)]
            occurrences.update(grams)
            sessions.update(set(grams))
        found = [
            SequencePattern(steps, occurrences[steps], count)
            for steps, count in sessions.items()
            if count >= min_sessions
        ]
        found.sort(key=lambda s: (-s.sessions, -s.occurrences, s.steps))
        return found[: max(top, 0)]

    def usage_by_hour(
        self, window: str | float = "30d", *, until: float | None = None
    ) -> list[int]:
        """Events in the window by hour of the day (UTC): 24 counts, midnight first."""
        since, end = self._range(window, until)
        counts = [0] * 24
        hour = self.dialect.mod(self.dialect.floor_div("ts", "3600"), "24")
        for r in self.db.query(
            f"SELECT {hour} AS hour, COUNT(*) AS n FROM usage_events"
            " WHERE ts >= ? AND ts <= ? GROUP BY hour",
            (since, end),
        ):
            counts[int(r["hour"])] = int(r["n"])
        return counts


@dataclass(frozen=True)
class UsageReport:
    """What ``plimsoll runtime usage`` shows for one window."""

    window: str
    since: float
    until: float
    features: tuple[FeatureStats, ...]
    sequences: tuple[SequencePattern, ...]
    by_hour: tuple[int, ...]
    events: int
    dropped: int
    sessions: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "window": self.window,
            "since": self.since,
            "until": self.until,
            "events": self.events,
            "dropped": self.dropped,
            "sessions": self.sessions,
            "features": [f.to_dict() for f in self.features],
            "sequences": [s.to_dict() for s in self.sequences],
            "by_hour": list(self.by_hour),
            "notes": list(self.notes),
        }


def usage_report(
    store: Store,
    window: str | float = "1d",
    *,
    now: float | None = None,
    sequence_length: int = 2,
    min_sessions: int = 2,
    top: int = 10,
) -> UsageReport:
    """Per-feature stats, frequent sequences and hourly usage over one window ending ``now``."""
    end = now if now is not None else time.time()
    span = window_seconds(window)
    performance = PerformanceAnalyzer(store, now=end)
    behavior = BehaviorAnalyzer(store, now=end)
    paths = behavior.session_paths(window)
    notes: list[str] = []
    events = storage.count_events(store, end - span, end)
    if not events:
        notes.append(
            "no usage events in this window: tracking is off unless runtime.usage.enabled is set"
            " or the application calls plimsoll.runtime.usage.configure(enabled=True)"
        )
    return UsageReport(
        window=str(window),
        since=end - span,
        until=end,
        features=tuple(performance.features(window)),
        sequences=tuple(
            behavior.sequences(window, length=sequence_length, min_sessions=min_sessions, top=top)
        ),
        by_hour=tuple(behavior.usage_by_hour(window)),
        events=events,
        dropped=storage.dropped_total(store, end - span, end),
        sessions=len(paths),
        notes=tuple(notes),
    )
