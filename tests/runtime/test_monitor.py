"""PerformanceMonitor and the runtime sample tables: what a tick records (checked against psutil
and the registry), bounded work per tick, downsampling and retention, and a clean stop."""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
from pathlib import Path

import prometheus_client
import psutil
import pytest
from prometheus_client import CollectorRegistry

from plimsoll.core.config import MonitorConfig
from plimsoll.core.store import SqliteStore
from plimsoll.runtime import storage
from plimsoll.runtime.monitor import (
    DEFAULT_RETENTION,
    PerformanceMonitor,
    RetentionTier,
    apply_retention,
    registry_samples,
)
from plimsoll.runtime.storage import Sample

HOUR, DAY = 3600.0, 86400.0


def value(store: SqliteStore, metric: str, labels: dict[str, str] | None = None) -> float:
    found = storage.latest(store, metric, labels)
    assert found is not None, f"no sample of {metric}"
    return found[1]


# --- what a tick records ------------------------------------------------------------------------


def test_a_tick_records_the_system_as_psutil_sees_it(store: SqliteStore) -> None:
    monitor = PerformanceMonitor(store, sample_registry=False, disk_paths=["/", str(Path.cwd())])
    time.sleep(0.15)  # past the shortest CPU window
    result = monitor.tick()
    me = psutil.Process()
    assert result.error is None and result.written == result.collected >= 9
    assert value(store, "system_memory_percent") == pytest.approx(
        psutil.virtual_memory().percent, abs=5
    )
    assert value(store, "system_disk_percent", {"path": "/"}) == pytest.approx(
        psutil.disk_usage("/").percent, abs=0.5
    )
    assert value(store, "system_disk_percent", {"path": str(Path.cwd())}) == pytest.approx(
        psutil.disk_usage(str(Path.cwd())).percent, abs=0.5
    )
    assert value(store, "process_threads") == pytest.approx(me.num_threads(), abs=2)
    assert value(store, "process_open_files") == pytest.approx(me.num_fds(), abs=3)
    assert value(store, "process_resident_memory_bytes") == pytest.approx(
        me.memory_info().rss, rel=0.2
    )
    assert 0.0 <= value(store, "system_cpu_percent") <= 100.0
    assert value(store, "process_cpu_percent") >= 0.0
    assert storage.metric_names(store) == sorted(
        [
            "process_cpu_percent",
            "process_open_files",
            "process_resident_memory_bytes",
            "process_threads",
            "system_cpu_percent",
            "system_disk_percent",
            "system_memory_available_bytes",
            "system_memory_percent",
        ]
    )


def test_cpu_is_measured_without_blocking(store: SqliteStore) -> None:
    monitor = PerformanceMonitor(store, sample_registry=False)
    # Straight after construction the CPU window is too short: skipped, not waited for.
    first = {s.metric for s in monitor.collect(now=1.0)}
    assert "system_cpu_percent" not in first and "system_memory_percent" in first
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # keep one CPU busy in this process
        pass
    busy = {s.metric: s.value for s in monitor.collect(now=2.0)}
    assert 0.0 < busy["process_cpu_percent"] <= 100.0 * (os.cpu_count() or 1)
    assert 0.0 < busy["system_cpu_percent"] <= 100.0


def test_registry_samples_are_recorded(store: SqliteStore) -> None:
    registry = CollectorRegistry()
    requests = prometheus_client.Counter("app_requests", "Requests.", ["method"], registry=registry)
    queue = prometheus_client.Gauge("app_queue_depth", "Queue.", registry=registry)
    latency = prometheus_client.Histogram(
        "app_latency_seconds", "Latency.", buckets=(0.1, 1.0), registry=registry
    )
    broken = prometheus_client.Gauge("app_broken", "NaN.", registry=registry)
    requests.labels("GET").inc(3)
    requests.labels("POST").inc()
    queue.set(7)
    latency.observe(0.05)
    latency.observe(0.5)
    broken.set(math.nan)
    monitor = PerformanceMonitor(store, registry=registry, system=False)
    result = monitor.tick(now=1000.0)
    assert result.error is None
    for name, labels in [
        ("app_requests_total", {"method": "GET"}),
        ("app_requests_total", {"method": "POST"}),
        ("app_queue_depth", {}),
        ("app_latency_seconds_count", {}),
        ("app_latency_seconds_sum", {}),
        ("app_latency_seconds_bucket", {"le": "0.1"}),
        ("app_latency_seconds_bucket", {"le": "+Inf"}),
    ]:
        assert storage.latest(store, name, labels) == (
            1000.0,
            registry.get_sample_value(name, labels),
        )
    names = storage.metric_names(store)
    assert not [n for n in names if n.endswith("_created")]
    assert "app_broken" not in names  # NaN cannot be compared by any rule
    assert storage.series(store, "app_requests_total", None, None) == {
        (("method", "GET"),): [(1000.0, 3.0)],
        (("method", "POST"),): [(1000.0, 1.0)],
    }


def test_excluded_prefixes_are_skipped() -> None:
    registry = CollectorRegistry()
    prometheus_client.Gauge("keep_me", "K.", registry=registry).set(1)
    prometheus_client.Gauge("noisy_thing", "N.", registry=registry).set(2)
    assert [s.metric for s in registry_samples(registry, 0.0, exclude=["noisy_"])] == ["keep_me"]


def test_the_default_registry_is_sampled_by_default(store: SqliteStore) -> None:
    monitor = PerformanceMonitor(store, system=False)
    monitor.tick()
    # prometheus_client's default registry carries its process and platform collectors.
    assert "python_info" in storage.metric_names(store)


def test_a_metric_read_by_both_samplers_is_recorded_once_a_tick(store: SqliteStore) -> None:
    registry = CollectorRegistry()
    # prometheus_client's process collector also exposes process_resident_memory_bytes.
    prometheus_client.ProcessCollector(registry=registry)
    assert registry.get_sample_value("process_resident_memory_bytes") is not None
    monitor = PerformanceMonitor(store, registry=registry)
    monitor.tick(1000.0)
    rows = storage.samples(store, "process_resident_memory_bytes", 0, 2000)
    assert len(rows) == 1  # the system sampler's reading, not a second point
    assert storage.samples(
        store, "process_cpu_seconds_total", 0, 2000
    )  # the rest of the registry stays


def test_work_per_tick_is_bounded_and_every_series_gets_its_turn(store: SqliteStore) -> None:
    registry = CollectorRegistry()
    for i in range(50):
        prometheus_client.Gauge(f"g{i:02d}", "G.", registry=registry).set(i)
    monitor = PerformanceMonitor(store, registry=registry, system=False, max_samples_per_tick=20)
    written = [monitor.tick(now=100.0 + t).written for t in range(3)]
    assert written == [20, 20, 20]
    assert storage.metric_names(store) == [f"g{i:02d}" for i in range(50)]
    assert value(store, "g49") == 49.0


def test_a_failed_write_is_kept_for_the_next_tick(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    prometheus_client.Gauge("kept", "K.", registry=registry).set(5)
    first = SqliteStore(tmp_path / "state.db")
    monitor = PerformanceMonitor(
        first, registry=registry, system=False, max_buffered=3, max_samples_per_tick=1
    )
    first.close()
    failed = [monitor.tick(now=float(t)) for t in (1, 2, 3)]
    assert all(r.error and "writing to the store failed" in r.error for r in failed)
    assert [(r.written, r.dropped) for r in failed] == [(0, 0)] * 3
    with SqliteStore(tmp_path / "state.db") as second:
        monitor.store = second
        result = monitor.tick(now=4.0)
        # The buffer holds three samples: the oldest one went to make room for the new one.
        assert (result.written, result.dropped, result.error) == (3, 1, None)
        assert storage.samples(second, "kept", None, None) == [(2.0, 5.0), (3.0, 5.0), (4.0, 5.0)]
    assert monitor.summary()["errors"] == 3 and monitor.dropped == 1


def test_bad_settings_fail_at_the_call(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="interval"):
        PerformanceMonitor(store, interval=0)
    with pytest.raises(ValueError, match="raw"):
        PerformanceMonitor(store, retention=[RetentionTier(60, DAY)])
    with pytest.raises(ValueError, match="longer"):
        PerformanceMonitor(store, retention=[RetentionTier(0, DAY), RetentionTier(60, HOUR)])
    with pytest.raises(ValueError, match="above"):
        storage.downsample(store, source=60, target=60, before=0.0, max_rows=10)


def test_from_config(store: SqliteStore) -> None:
    settings = MonitorConfig.model_validate(
        {
            "interval_seconds": 2.5,
            "system": False,
            "max_samples_per_tick": 7,
            "retention": [{"resolution": "raw", "keep": "1h"}, {"resolution": "5m", "keep": "2d"}],
        }
    )
    monitor = PerformanceMonitor.from_config(store, settings, registry=CollectorRegistry())
    assert monitor.interval == 2.5 and monitor.max_samples_per_tick == 7
    assert monitor.retention == (RetentionTier(0, HOUR), RetentionTier(300, 2 * DAY))
    assert PerformanceMonitor.from_config(store, MonitorConfig(), interval=0.5).interval == 0.5
    assert PerformanceMonitor.from_config(store, MonitorConfig()).retention == DEFAULT_RETENTION


# --- the sample tables (read by alerts and SLOs) --------------------------------------------------


def test_samples_latest_and_series_select_by_range_and_labels(store: SqliteStore) -> None:
    storage.add_samples(
        store,
        [
            Sample("req", 1.0, 10.0, {"code": "200", "path": "/a"}),
            Sample("req", 2.0, 20.0, {"code": "500", "path": "/a"}),
            Sample("req", 3.0, 30.0, {"code": "200", "path": "/b"}),
            Sample("other", 9.0, 25.0),
        ],
    )
    assert storage.samples(store, "req", 10.0, 20.0) == [(10.0, 1.0), (20.0, 2.0)]  # inclusive
    assert storage.samples(store, "req", None, None, {"code": "200"}) == [(10.0, 1.0), (30.0, 3.0)]
    assert storage.samples(store, "req", 0, 100, {"code": "200", "path": "/b"}) == [(30.0, 3.0)]
    assert storage.samples(store, "req", 0, 100, {'co"de': "x"}) == []
    assert storage.latest(store, "req") == (30.0, 3.0)
    assert storage.latest(store, "req", before=25.0) == (20.0, 2.0)
    assert storage.latest(store, "req", {"code": "500"}) == (20.0, 2.0)
    assert storage.latest(store, "missing") is None
    assert storage.metric_names(store, since=26.0) == ["req"]
    assert list(storage.series(store, "req", None, None)) == [
        (("code", "200"), ("path", "/a")),
        (("code", "200"), ("path", "/b")),
        (("code", "500"), ("path", "/a")),
    ]


# --- retention -----------------------------------------------------------------------------------


def _raw(store: SqliteStore, now: float, days: float, step: float) -> list[tuple[float, float]]:
    """Raw samples of ``m`` every ``step`` seconds over ``days`` before ``now``; returned too."""
    points = []
    t = now - days * DAY
    i = 0
    while t < now:
        points.append((t, float(i % 97)))
        t += step
        i += 1
    storage.add_samples(store, [Sample("m", v, ts, {"host": "a"}) for ts, v in points])
    return points


def _buckets(points: list[tuple[float, float]], width: float) -> dict[float, list[float]]:
    out: dict[float, list[float]] = {}
    for ts, v in points:
        out.setdefault(math.floor(ts / width) * width, []).append(v)
    return out


def test_old_samples_are_downsampled_then_purged(store: SqliteStore) -> None:
    now = 1_700_000_000.0
    points = _raw(store, now, days=100, step=900.0)  # every 15 minutes for 100 days
    points += _raw(store, now - 3 * DAY, days=0.01, step=20.0)  # a dense stretch, 3 days ago
    points.sort()
    rounds = 0
    while sum(apply_retention(store, DEFAULT_RETENTION, now=now, max_rows=2000)):
        rounds += 1
    assert rounds > 5  # the backlog took several bounded steps
    raw = storage.sample_rows(store, "m", resolution=0)
    minutes = storage.sample_rows(store, "m", resolution=60)
    hours = storage.sample_rows(store, "m", resolution=3600)
    assert storage.sample_rows(store, "m") == sorted(
        raw + minutes + hours, key=lambda r: (r.timestamp, r.resolution)
    )
    # Raw within a day; minute means between 1 and 7 days; hour means up to 90 days.
    assert min(r.timestamp for r in raw) >= now - DAY
    assert [p for p in points if p[0] >= now - DAY] == [(r.timestamp, r.value) for r in raw]
    assert all(now - 7 * DAY - 60 <= r.timestamp < now - DAY for r in minutes)
    assert all(now - 90 * DAY - 3600 <= r.timestamp < now - 7 * DAY for r in hours)
    # Each bucket is the mean (and extremes) of the raw samples that fell in it.
    raw_by_minute = _buckets([p for p in points if now - 7 * DAY <= p[0] < now - DAY], 60)
    assert {r.timestamp for r in minutes} <= set(raw_by_minute)
    for row in minutes:
        values = raw_by_minute[row.timestamp]
        assert row.count == len(values)
        assert row.value == pytest.approx(statistics.fmean(values))
        assert (row.min_value, row.max_value) == (min(values), max(values))
    assert max(r.count for r in minutes) >= 3  # the dense stretch: three or more per minute
    raw_by_hour = _buckets([p for p in points if now - 90 * DAY <= p[0] < now - 7 * DAY], 3600)
    for row in hours:
        values = raw_by_hour[row.timestamp]
        assert row.count == len(values)
        assert row.value == pytest.approx(statistics.fmean(values))  # a mean of the raw values
    assert len(hours) >= (90 - 7) * 24 - 2
    assert storage.samples(store, "m", None, now - 90 * DAY - 3600) == []


def test_one_retention_step_is_bounded(store: SqliteStore) -> None:
    now = 1_700_000_000.0
    _raw(store, now - 2 * DAY, days=1, step=10.0)  # 8,640 raw samples, all past their day
    down, purged = apply_retention(store, DEFAULT_RETENTION, now=now, max_rows=500)
    # A step stops at a whole bucket: at most one more bucket (6 samples) than asked.
    assert 500 - 6 <= down <= 500 + 6 and purged == 0
    assert len(storage.sample_rows(store, "m", resolution=0)) == 8640 - down


def test_purge_respects_its_limit(store: SqliteStore) -> None:
    storage.add_samples(store, [Sample("p", 1.0, float(t)) for t in range(100)])
    assert storage.purge_samples(store, resolution=0, before=50.0, max_rows=10) == 10
    assert storage.purge_samples(store, resolution=0, before=50.0) == 40
    assert [t for t, _ in storage.samples(store, "p", None, None)][:2] == [50.0, 51.0]


def test_the_monitor_applies_retention_as_it_ticks(store: SqliteStore) -> None:
    clock = [1_700_000_000.0]
    _raw(store, clock[0], days=3, step=60.0)
    monitor = PerformanceMonitor(
        store,
        sample_registry=False,
        system=False,
        max_maintenance_rows=1000,
        clock=lambda: clock[0],
    )
    results = [monitor.tick() for _ in range(5)]
    assert [r.downsampled for r in results][:2] == [1000, 1000]
    assert len(storage.sample_rows(store, "m", resolution=60)) == sum(
        r.downsampled for r in results
    )


# --- running in the background --------------------------------------------------------------------


def _wait_for(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_start_and_stop(store: SqliteStore) -> None:
    monitor = PerformanceMonitor(store, interval=0.05, sample_registry=False)
    monitor.start()
    assert monitor.running and monitor.start() is monitor  # starting twice is harmless
    _wait_for(lambda: monitor.ticks >= 3)
    assert monitor.ticks >= 3
    assert monitor.stop() is True
    assert not monitor.running
    ticks = monitor.ticks
    time.sleep(0.15)
    assert monitor.ticks == ticks  # nothing runs after stop
    assert not [t for t in threading.enumerate() if t.name == "plimsoll-monitor"]
    memory = storage.samples(store, "system_memory_percent", None, None)
    assert len(memory) == ticks


def test_stop_wakes_the_sampler_at_once(store: SqliteStore) -> None:
    monitor = PerformanceMonitor(store, interval=3600.0, sample_registry=False)
    monitor.start()
    # It would sleep for an hour; stop() must not wait for that.
    assert monitor.stop(timeout=10.0) is True
    assert monitor.ticks == 0 and not monitor.running


def test_as_a_context_manager(store: SqliteStore) -> None:
    with PerformanceMonitor(store, interval=0.05, system=False) as monitor:
        assert monitor.running
        _wait_for(lambda: monitor.ticks >= 1)
    assert not monitor.running and monitor.ticks >= 1
    assert storage.latest(store, "python_info") is not None
