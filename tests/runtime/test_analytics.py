"""Usage analytics: percentiles against ``statistics.quantiles`` (inclusive method), per-feature
stats over windows, sequences within sessions, and usage by hour."""

from __future__ import annotations

import random
import statistics

import pytest

from plimsoll.core.errors import UsageError
from plimsoll.core.store import Store
from plimsoll.runtime import storage, usage
from plimsoll.runtime.analytics import (
    WINDOWS,
    BehaviorAnalyzer,
    PerformanceAnalyzer,
    percentile,
    usage_report,
    window_seconds,
)
from plimsoll.runtime.storage import UsageEvent

NOW = 1_750_000_000.0  # a Sunday, 15:06:40 UTC
HOUR, DAY = 3600.0, 86400.0


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test here on both backends: a SQLite file, then a fresh PostgreSQL database."""
    return any_store


def reference(values: list[float], p: int) -> float:
    """The p-th percentile the way the standard library computes it (inclusive method)."""
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def call(feature: str, ts: float, ms: float, *, ok: bool = True, kind: str = "feature",
         session: str | None = None) -> UsageEvent:  # fmt: skip
    return UsageEvent(kind, feature, ts, ms, ok, None if ok else "ValueError", session)


# --- percentiles ---------------------------------------------------------------------------------


def test_percentiles_match_statistics_quantiles_inclusive() -> None:
    rng = random.Random(7)
    for n in [2, 3, 4, 5, 10, 11, 99, 100, 101, 257, 1000]:
        values = sorted(rng.lognormvariate(3, 1) for _ in range(n))
        for p in range(1, 100):
            assert percentile(values, p) == reference(values, p), (n, p)
    ints = sorted(rng.randrange(1000) for _ in range(50))
    assert [percentile(ints, p) for p in (50, 95, 99)] == [reference(ints, p) for p in (50, 95, 99)]


def test_percentile_edges() -> None:
    assert percentile([4.0], 99) == 4.0  # one value is its own percentile
    assert percentile([1.0, 2.0], 0) == 1.0 and percentile([1.0, 2.0], 100) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="between"):
        percentile([1.0], 101)


def test_windows() -> None:
    assert [window_seconds(w) for w in WINDOWS] == [HOUR, DAY, 7 * DAY, 30 * DAY]
    assert window_seconds("90m") == 5400.0 and window_seconds(120) == 120.0
    with pytest.raises(UsageError, match="window"):
        window_seconds("yesterday")
    with pytest.raises(UsageError, match="positive"):
        window_seconds("0s")


# --- per feature ---------------------------------------------------------------------------------


def test_feature_stats_over_windows(store: Store) -> None:
    rng = random.Random(11)
    events: list[UsageEvent] = []
    ages = {"1h": 0.5 * HOUR, "1d": 12 * HOUR, "1w": 3 * DAY, "30d": 20 * DAY, "old": 40 * DAY}
    for age in ages.values():
        for i in range(40):
            events.append(call("search", NOW - age - i, rng.uniform(1, 200), ok=i % 10 != 0))
    for i in range(5):
        events.append(call("export", NOW - 2 * HOUR - i, 10.0 * (i + 1), kind="api_call"))
    events.append(UsageEvent("error", "export", NOW - 100, None, False, "OSError"))
    events.append(UsageEvent("error", "import", NOW - 100, None, False, "OSError"))
    events.append(UsageEvent("event", "clicked", NOW - 100))
    storage.add_events(store, events)

    analyzer = PerformanceAnalyzer(store, now=NOW)
    by_window = analyzer.windows()
    assert list(by_window) == ["1h", "1d", "1w", "30d"]
    for window, included in [("1h", 1), ("1d", 2), ("1w", 3), ("30d", 4)]:
        search = {f.feature: f for f in by_window[window]}["search"]
        chosen = [
            e for e in events if e.feature == "search" and e.timestamp >= NOW - WINDOWS[window]
        ]
        assert len(chosen) == 40 * included
        durations = sorted(e.duration_ms for e in chosen if e.duration_ms is not None)
        assert search.calls == len(chosen)
        assert search.failed == 4 * included
        assert search.error_rate == pytest.approx(0.1)
        assert search.p50_ms == reference(durations, 50)
        assert search.p95_ms == reference(durations, 95)
        assert search.p99_ms == reference(durations, 99)
        assert search.mean_ms == pytest.approx(statistics.fmean(durations))
        assert search.max_ms == max(durations)
        assert search.kinds == ("feature",)

    hour = {f.feature: f for f in by_window["1h"]}
    assert set(hour) == {"search", "export", "import"}  # the events in the last hour
    assert (hour["export"].calls, hour["export"].error_events) == (0, 1)
    day = {f.feature: f for f in by_window["1d"]}
    export = day["export"]
    assert (export.calls, export.failed, export.error_events, export.kinds) == (
        5,
        0,
        1,
        ("api_call",),
    )
    assert export.p50_ms == 30.0 and export.p99_ms == reference([10, 20, 30, 40, 50], 99)
    assert day["import"].calls == 0 and day["import"].p50_ms is None
    assert "clicked" not in day  # plain events are not calls
    assert [f.feature for f in by_window["1d"]] == sorted(day)


def test_one_call_is_its_own_percentile(store: Store) -> None:
    storage.add_events(store, [call("once", NOW - 5, 12.5, ok=False)])
    [once] = PerformanceAnalyzer(store, now=NOW).features("1h")
    assert (once.calls, once.failed, once.error_rate) == (1, 1, 1.0)
    assert once.p50_ms == once.p95_ms == once.p99_ms == 12.5


def test_tracked_calls_reach_the_analyzer(store: Store) -> None:
    tracker = usage.UsageTracker(store, enabled=True, flush_interval=60.0)

    @usage.track_usage("end.to.end", tracker=tracker)
    def work(fail: bool) -> None:
        if fail:
            raise RuntimeError

    for i in range(20):
        try:
            work(i % 4 == 0)
        except RuntimeError:
            pass
    assert tracker.stop() is True
    [stats] = PerformanceAnalyzer(store).features("1h")
    durations = sorted(e.duration_ms or 0.0 for e in storage.events(store))
    assert (stats.feature, stats.calls, stats.failed) == ("end.to.end", 20, 5)
    assert stats.error_rate == 0.25
    assert stats.p95_ms == reference(durations, 95)


# --- behaviour -----------------------------------------------------------------------------------


def _sessions(store: Store) -> None:
    paths = {
        "s1": ["login", "search", "view", "checkout"],
        "s2": ["login", "search", "view", "search", "view"],
        "s3": ["search", "view"],
        "s4": ["login"],
    }
    events = []
    for n, (sid, features) in enumerate(paths.items()):
        for i, feature in enumerate(features):
            events.append(call(feature, NOW - 1000 + n * 100 + i, 1.0, session=sid))
    events.append(UsageEvent("error", "search", NOW - 999, None, False, "OSError", "s1"))
    events.append(call("search", NOW - 500, 1.0))  # no session: not in any path
    events.append(call("login", NOW - 3 * DAY, 1.0, session="s9"))  # outside the window
    storage.add_events(store, events)


def test_frequent_sequences_within_sessions(store: Store) -> None:
    _sessions(store)
    behavior = BehaviorAnalyzer(store, now=NOW)
    assert behavior.session_paths("1d")["s1"] == ["login", "search", "view", "checkout"]
    pairs = behavior.sequences("1d", length=2, min_sessions=2)
    assert [(p.steps, p.sessions, p.occurrences) for p in pairs] == [
        (("search", "view"), 3, 4),
        (("login", "search"), 2, 2),
    ]
    triples = behavior.sequences("1d", length=3, min_sessions=1, top=2)
    assert [(p.steps, p.sessions) for p in triples] == [
        (("login", "search", "view"), 2),
        (("search", "view", "checkout"), 1),
    ]
    assert triples[0].to_dict() == {
        "steps": ["login", "search", "view"],
        "occurrences": 2,
        "sessions": 2,
    }
    with pytest.raises(UsageError):
        behavior.sequences(length=0)


def test_usage_by_hour(store: Store) -> None:
    base = NOW - NOW % DAY  # midnight UTC
    hours = [0, 0, 5, 13, 13, 13, 23]
    storage.add_events(store, [call("f", base + h * HOUR + 60, 1.0) for h in hours])
    counts = BehaviorAnalyzer(store, now=base + DAY).usage_by_hour("1d")
    assert len(counts) == 24 and sum(counts) == len(hours)
    assert (counts[0], counts[5], counts[13], counts[23], counts[1]) == (2, 1, 3, 1, 0)


def test_the_report(store: Store) -> None:
    _sessions(store)
    storage.add_drops(store, 4, NOW - 10)
    storage.add_drops(store, 6, NOW - 10 * DAY)
    report = usage_report(store, "1d", now=NOW)
    data = report.to_dict()
    assert data["events"] == 14 and data["dropped"] == 4 and data["sessions"] == 4
    assert [f["feature"] for f in data["features"]] == ["checkout", "login", "search", "view"]
    assert data["sequences"][0]["steps"] == ["search", "view"]
    assert sum(data["by_hour"]) == 14 and data["notes"] == []
    empty = usage_report(store, "1h", now=NOW + 30 * DAY)
    assert empty.events == 0 and "tracking is off" in empty.notes[0]
