"""Usage events purged by the monitor's retention pass, within the tick's row budget."""

from __future__ import annotations

import pytest

from plimsoll.core.config import PlimsollConfig
from plimsoll.core.store import SqliteStore
from plimsoll.runtime import storage
from plimsoll.runtime.monitor import PerformanceMonitor

DAY = 86400.0
NOW = 1_700_006_400.0


def _events(store: SqliteStore, days: range) -> None:
    storage.add_events(
        store,
        [storage.UsageEvent("feature", "export", NOW - d * DAY, duration_ms=3.0) for d in days],
        dropped=0,
        now=NOW,
    )


def _stamps(store: SqliteStore) -> list[float]:
    return [float(r["ts"]) for r in store.db.query("SELECT ts FROM usage_events ORDER BY ts")]


def test_events_past_the_configured_retention_go_oldest_first_within_the_budget(
    store: SqliteStore,
) -> None:
    _events(store, range(50))  # one a day for 50 days
    keep = PlimsollConfig.model_validate({}).runtime.usage.retention_seconds
    assert keep == 35 * DAY  # the default: past the analyzer's 30-day window
    monitor = PerformanceMonitor(
        store,
        system=False,
        sample_registry=False,
        usage_retention_seconds=keep,
        max_maintenance_rows=10,
    )
    first = monitor.tick(NOW)
    assert first.error is None and first.usage_purged == 10  # days 49..40, the oldest
    assert min(_stamps(store)) == NOW - 39 * DAY
    assert monitor.tick(NOW).usage_purged == 4  # days 39..36; day 35 is at the edge
    assert monitor.tick(NOW).usage_purged == 0
    assert _stamps(store) == [NOW - d * DAY for d in range(35, -1, -1)]


def test_without_a_usage_retention_nothing_is_purged(store: SqliteStore) -> None:
    _events(store, range(50))
    monitor = PerformanceMonitor(store, system=False, sample_registry=False)
    assert monitor.tick(NOW).usage_purged == 0
    assert len(_stamps(store)) == 50


def test_a_bad_retention_names_its_key() -> None:
    from plimsoll.core.config import parse
    from plimsoll.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"runtime\.usage\.retention"):
        parse({"runtime": {"usage": {"retention": "soon"}}}, "pyproject.toml")
