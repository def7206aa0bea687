"""SLO events purged by the monitor's retention pass, bounded like the samples' retention."""

from __future__ import annotations

import pytest

from plimsoll.core.config import MonitorConfig
from plimsoll.core.store import SqliteStore
from plimsoll.runtime import storage
from plimsoll.runtime.monitor import PerformanceMonitor
from plimsoll.runtime.slo import storage as slo_storage
from plimsoll.runtime.slo.model import SloConfig

DAY = 86400.0
NOW = 1_700_006_400.0


def slo_rows(store: SqliteStore) -> list[tuple[str, float]]:
    rows = store.db.query("SELECT slo, ts FROM slo_events ORDER BY ts, slo")
    return [(r["slo"], float(r["ts"])) for r in rows]


def quiet_monitor(store: SqliteStore, **options: object) -> PerformanceMonitor:
    """A monitor writing nothing of its own: only its retention pass is under test."""
    return PerformanceMonitor(store, system=False, sample_registry=False, **options)  # type: ignore[arg-type]


def test_the_retention_pass_purges_slo_events_past_the_period_and_margin(
    store: SqliteStore,
) -> None:
    # One event a day for 40 days, two objectives; the default keeps 30d + 1d.
    rows = [(slo, 1.0, 1.0, NOW - d * DAY) for d in range(40) for slo in ("api", "jobs")]
    slo_storage.record_many(store, rows)
    keep = SloConfig.model_validate({"objectives": [{"name": "api", "target": 0.99}]})
    monitor = quiet_monitor(store, slo_retention_seconds=keep.retention_seconds)
    result = monitor.tick(NOW)
    assert result.error is None
    # Days 32..39 are older than 31 days (day 31 is exactly at the edge and stays).
    assert result.slo_purged == 16
    kept = slo_rows(store)
    assert min(ts for _, ts in kept) == NOW - 31 * DAY and len(kept) == 64
    # What the objective's 30-day budget reads is untouched.
    counts = slo_storage.event_counts(store, "api", NOW - 30 * DAY, NOW + 1)
    assert counts.total == 31
    # A second later day 31 is past the edge too; then nothing is left to purge.
    assert monitor.tick(NOW + 1).slo_purged == 2
    assert monitor.tick(NOW + 2).slo_purged == 0


def test_the_purge_shares_the_ticks_row_budget(store: SqliteStore) -> None:
    slo_storage.record_many(store, [("api", 1.0, 1.0, NOW - 100 * DAY - m * 60) for m in range(25)])
    # Five raw samples past their tier (24h) take five rows of the ten-row budget first.
    storage.add_samples(store, [storage.Sample("m", 1.0, NOW - 2 * DAY + i) for i in range(5)])
    monitor = quiet_monitor(store, slo_retention_seconds=31 * DAY, max_maintenance_rows=10)
    first = monitor.tick(NOW)
    assert first.downsampled == 5 and first.slo_purged == 5
    assert [monitor.tick(NOW).slo_purged for _ in range(3)] == [10, 10, 0]
    assert slo_rows(store) == []


def test_without_slo_retention_nothing_is_purged(store: SqliteStore) -> None:
    slo_storage.record(store, "api", 1.0, 1.0, NOW - 400 * DAY)
    assert quiet_monitor(store).tick(NOW).slo_purged == 0
    assert len(slo_rows(store)) == 1
    monitor = PerformanceMonitor.from_config(
        store,
        MonitorConfig(system=False, sample_registry=False),
        slo_retention_seconds=31 * DAY,
    )
    assert monitor.tick(NOW).slo_purged == 1
    with pytest.raises(ValueError, match="slo_retention_seconds"):
        quiet_monitor(store, slo_retention_seconds=0)


def test_a_watch_without_a_monitor_purges_the_slo_events_itself(store: SqliteStore) -> None:
    # `runtime watch --no-monitor` (the service samples): the watch writes SLO events, so it
    # purges them too, in bounded batches, while it runs.
    import threading

    from plimsoll.core.config import NotifyConfig
    from plimsoll.runtime.alerts.config import AlertsConfig
    from plimsoll.runtime.watch import Watch

    slo_storage.record_many(store, [("api", 1.0, 1.0, NOW - d * DAY) for d in range(40)])
    keep = SloConfig.model_validate({"objectives": [{"name": "api", "target": 0.99}]})
    watch = Watch(
        store,
        AlertsConfig(evaluation_interval="1h"),
        NotifyConfig(),
        slo=keep,
        slo_retention=(keep.retention_seconds, 5),
        clock=lambda: NOW,
    )
    assert watch.purge_slo_events() == 5  # one batch of the eight past the edge
    runner = threading.Thread(target=watch.run)
    runner.start()
    try:
        # The loop's first turn runs at once and takes the other three.
        for _ in range(100):
            if min(ts for _, ts in slo_rows(store)) >= NOW - 31 * DAY:
                break
            threading.Event().wait(0.05)
    finally:
        watch.stop()
        runner.join(10)
    assert min(ts for _, ts in slo_rows(store)) == NOW - 31 * DAY
    # With a monitor of its own, the monitor's retention pass does it: no second loop.
    assert Watch(store, AlertsConfig(), NotifyConfig(), slo=keep).purge_slo_events() == 0
