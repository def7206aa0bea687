"""PerformanceMonitor: a background sampler writing system metrics and a registry's samples to the store.

Every ``interval`` seconds one *tick*:

1. reads the system (psutil): CPU busy share since the previous tick (non-blocking: the deltas
   of ``psutil.cpu_times()``, see :func:`plimsoll.runtime.checks.system.cpu_busy_percent`),
   memory, disk usage per configured path, and this process's CPU, resident memory, open file
   descriptors and threads;
2. collects the samples of a prometheus_client registry (the default one unless told
   otherwise), at most ``max_samples_per_tick`` of them: beyond that the registry's series are
   taken in turns, so each is sampled every few ticks and none is starved;
3. writes all of it to the store in one batch (a failed write keeps up to
   ``max_buffered`` samples for the next tick, dropping the oldest and counting them);
4. applies retention a bounded step at a time (``max_maintenance_rows`` rows per tick): raw
   samples older than their tier's age are averaged into coarser buckets, and the last tier's
   rows past their age are deleted. The default keeps raw samples for 24 hours, one-minute
   means for 7 days and one-hour means for 90 days. Given ``slo_retention_seconds`` (what
   :attr:`plimsoll.runtime.slo.model.SloConfig.retention_seconds` says: the longest SLO period
   and a margin), the same step deletes the SLO events older than that.

The system metrics written (names as in the store; the alerts and SLO rules use them):

=================================== =====================================================
``system_cpu_percent``              percent of all CPUs busy since the previous tick
``system_memory_percent``           percent of memory in use
``system_memory_available_bytes``   memory available to new processes
``system_disk_percent{path=...}``   percent of the file system used, per configured path
``process_cpu_percent``             this process's CPU use since the previous tick
``process_resident_memory_bytes``   this process's resident memory (RSS)
``process_open_files``              file descriptors this process has open
``process_threads``                 threads of this process
=================================== =====================================================

``stop()`` wakes the sampler at once and joins it: it returns after at most the tick in
progress (whose work is bounded). The monitor is also a context manager.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psutil

from plimsoll.core.log import get_logger
from plimsoll.runtime import storage
from plimsoll.runtime.checks.system import cpu_busy_percent
from plimsoll.runtime.storage import Sample

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from plimsoll.core.config import MonitorConfig
    from plimsoll.core.store import Store
    from plimsoll.runtime.sampler_lease import SamplerLease

__all__ = [
    "DEFAULT_RETENTION",
    "MIN_CPU_WINDOW",
    "PerformanceMonitor",
    "RetentionTier",
    "TickResult",
    "apply_retention",
    "purge_slo_events",
    "registry_samples",
]

_log = get_logger("runtime.monitor")

# The shortest CPU window worth reporting (seconds): a shorter one measures noise, so the tick
# skips CPU rather than sleep (the sampler never blocks to measure).
MIN_CPU_WINDOW = 0.1


@dataclass(frozen=True)
class RetentionTier:
    """One level of retention: samples at ``resolution`` seconds (0: raw) kept ``keep_seconds``.

    Past that age a tier's rows are averaged into the next tier's buckets; the last tier's rows
    are deleted.
    """

    resolution: int
    keep_seconds: float


DEFAULT_RETENTION: tuple[RetentionTier, ...] = (
    RetentionTier(0, 24 * 3600.0),
    RetentionTier(60, 7 * 86400.0),
    RetentionTier(3600, 90 * 86400.0),
)


@dataclass(frozen=True)
class TickResult:
    """What one tick did: samples collected and written, and rows retention touched.

    ``standby`` marks a tick skipped because another process holds the sampler lease.
    """

    timestamp: float
    collected: int
    written: int
    dropped: int
    downsampled: int
    purged: int
    error: str | None = None
    slo_purged: int = 0
    usage_purged: int = 0
    standby: bool = False


def _check_tiers(tiers: Sequence[RetentionTier]) -> tuple[RetentionTier, ...]:
    if not tiers:
        raise ValueError("retention needs at least one tier")
    if tiers[0].resolution != 0:
        raise ValueError("the first retention tier must be the raw one (resolution 0)")
    for lower, upper in zip(tiers, tiers[1:], strict=False):
        if upper.resolution <= lower.resolution:
            raise ValueError("retention tiers must have increasing resolutions")
        if upper.keep_seconds <= lower.keep_seconds:
            raise ValueError("retention tiers must keep coarser data longer")
    for tier in tiers:
        if tier.keep_seconds <= 0:
            raise ValueError("a retention tier must keep its data for a positive time")
    return tuple(tiers)


def apply_retention(
    store: Store, tiers: Sequence[RetentionTier], *, now: float, max_rows: int
) -> tuple[int, int]:
    """One bounded retention step: downsample then purge; return ``(downsampled, purged)`` rows.

    At most about ``max_rows`` rows are touched (one whole bucket may exceed it), oldest first,
    so a backlog (after a long stop) is worked off over several calls.
    """
    tiers = _check_tiers(tiers)
    budget = max(max_rows, 1)
    downsampled = 0
    for tier, coarser in zip(tiers, tiers[1:], strict=False):
        if budget <= 0:
            break
        done = storage.downsample(
            store,
            source=tier.resolution,
            target=coarser.resolution,
            before=now - tier.keep_seconds,
            max_rows=budget,
        )
        downsampled += done
        budget -= done
    purged = 0
    if budget > 0:
        last = tiers[-1]
        purged = storage.purge_samples(
            store, resolution=last.resolution, before=now - last.keep_seconds, max_rows=budget
        )
    return downsampled, purged


def purge_slo_events(store: Store, *, now: float, keep_seconds: float, max_rows: int) -> int:
    """Delete up to ``max_rows`` SLO events older than ``keep_seconds``; return how many went."""
    if max_rows <= 0:
        return 0
    # Imported here: a monitor without SLOs never loads the SLO part.
    from plimsoll.runtime.slo import storage as slo_storage

    return slo_storage.purge(store, now - keep_seconds, max_rows=max_rows)


class _SystemSampler:
    """psutil readings as samples, CPU measured between two calls without blocking."""

    def __init__(self, disk_paths: Sequence[str]) -> None:
        self.disk_paths = tuple(disk_paths)
        self._process = psutil.Process()
        self._cpu_times = psutil.cpu_times()
        self._cpu_at = time.monotonic()
        self._process_cpu = self._process.cpu_times()

    def sample(self, now: float) -> list[Sample]:
        out: list[Sample] = []
        self._cpu(now, out)
        memory = psutil.virtual_memory()
        out.append(Sample("system_memory_percent", float(memory.percent), now))
        out.append(Sample("system_memory_available_bytes", float(memory.available), now))
        for path in self.disk_paths:
            try:
                used = psutil.disk_usage(path).percent
            except OSError as exc:
                # A path that went away (an unmounted volume) must not stop the other metrics.
                _log.warning("disk usage of %s unavailable: %s", path, exc, extra={"path": path})
                continue
            out.append(Sample("system_disk_percent", float(used), now, {"path": path}))
        with self._process.oneshot():
            out.append(
                Sample("process_resident_memory_bytes", float(self._process.memory_info().rss), now)
            )
            out.append(Sample("process_open_files", float(self._open_files()), now))
            out.append(Sample("process_threads", float(self._process.num_threads()), now))
        return out

    def _cpu(self, now: float, out: list[Sample]) -> None:
        at = time.monotonic()
        window = at - self._cpu_at
        if window < MIN_CPU_WINDOW:
            return
        times = psutil.cpu_times()
        process = self._process.cpu_times()
        out.append(Sample("system_cpu_percent", cpu_busy_percent(self._cpu_times, times), now))
        used = (process.user + process.system) - (self._process_cpu.user + self._process_cpu.system)
        # Like psutil's Process.cpu_percent: 100 is one CPU fully busy.
        out.append(Sample("process_cpu_percent", round(max(0.0, used / window * 100.0), 1), now))
        self._cpu_times, self._process_cpu, self._cpu_at = times, process, at

    def _open_files(self) -> int:
        # num_fds counts every descriptor (sockets too), which is what the limit applies to.
        if hasattr(self._process, "num_fds"):
            return int(self._process.num_fds())
        return len(self._process.open_files())


def registry_samples(
    registry: CollectorRegistry, now: float, exclude: Sequence[str] = ()
) -> list[Sample]:
    """The samples a registry exposes now, as store samples (``_created`` and excluded skipped).

    ``_created`` samples are creation timestamps, not measurements; ``exclude`` holds sample
    name prefixes not to keep (e.g. ``"python_gc_"``).
    """
    out: list[Sample] = []
    skip = ("_created",)
    prefixes = tuple(exclude)
    for family in registry.collect():
        for sample in family.samples:
            name = sample.name
            if name.endswith(skip) or (prefixes and name.startswith(prefixes)):
                continue
            value = float(sample.value)
            if not math.isfinite(value):
                continue
            out.append(Sample(name, value, now, dict(sample.labels)))
    return out


class PerformanceMonitor:
    """Samples the system and a prometheus_client registry into the store, in the background.

    ``registry`` is the registry to sample (the plimsoll default registry when None; pass
    ``sample_registry=False`` to sample only the system). ``clock`` gives the wall time of a
    sample (for tests). Start with :meth:`start` (or ``with``), stop with :meth:`stop`;
    :meth:`tick` runs one tick in the calling thread. With a ``lease``
    (:class:`~plimsoll.runtime.sampler_lease.SamplerLease`) a tick samples only in the process
    holding it; elsewhere it stands by, trying for the lease each tick.
    """

    def __init__(
        self,
        store: Store,
        *,
        interval: float = 10.0,
        registry: CollectorRegistry | None = None,
        sample_registry: bool = True,
        system: bool = True,
        disk_paths: Sequence[str] = ("/",),
        exclude: Sequence[str] = (),
        retention: Sequence[RetentionTier] = DEFAULT_RETENTION,
        max_samples_per_tick: int = 5000,
        max_maintenance_rows: int = 20000,
        max_buffered: int = 50000,
        slo_retention_seconds: float | None = None,
        usage_retention_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        lease: SamplerLease | None = None,
    ) -> None:
        if not interval > 0 or not math.isfinite(interval):
            raise ValueError(f"interval must be a positive number of seconds, not {interval!r}")
        if slo_retention_seconds is not None and not slo_retention_seconds > 0:
            raise ValueError(
                f"slo_retention_seconds must be a positive number, not {slo_retention_seconds!r}"
            )
        if usage_retention_seconds is not None and not usage_retention_seconds > 0:
            raise ValueError(
                "usage_retention_seconds must be a positive number, not "
                f"{usage_retention_seconds!r}"
            )
        if max_samples_per_tick < 1:
            raise ValueError("max_samples_per_tick must be at least 1")
        if max_buffered < max_samples_per_tick:
            raise ValueError("max_buffered must hold at least one tick's samples")
        self.store = store
        self.interval = float(interval)
        self.retention = _check_tiers(retention)
        self.exclude = tuple(exclude)
        self.max_samples_per_tick = max_samples_per_tick
        self.max_maintenance_rows = max_maintenance_rows
        self.max_buffered = max_buffered
        self.slo_retention_seconds = slo_retention_seconds
        self.usage_retention_seconds = usage_retention_seconds
        self._clock = clock
        self.lease = lease
        self._lease_failed = False
        self._registry: CollectorRegistry | None = None
        if sample_registry:
            if registry is None:
                from plimsoll.runtime.instruments import get_default_registry

                registry = get_default_registry()
            self._registry = registry
        self._system = _SystemSampler(disk_paths) if system else None
        self._cursor = 0
        self._buffer: deque[Sample] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_lock = threading.Lock()
        self.ticks = 0
        self.written = 0
        self.dropped = 0
        self.errors = 0
        self.last: TickResult | None = None
        storage.ensure_schema(store)

    @classmethod
    def from_config(
        cls,
        store: Store,
        settings: MonitorConfig,
        *,
        interval: float | None = None,
        registry: CollectorRegistry | None = None,
        slo_retention_seconds: float | None = None,
        usage_retention_seconds: float | None = None,
        lease: SamplerLease | None = None,
    ) -> PerformanceMonitor:
        """A monitor set up from ``runtime.monitor`` (``interval`` overrides the configured one).

        ``slo_retention_seconds`` (``SloConfig.retention_seconds``) makes it purge old SLO
        events too, ``usage_retention_seconds`` (``UsageConfig.retention_seconds``) old usage
        events; ``lease`` makes it sample only while this process holds the lease.
        """
        return cls(
            store,
            interval=interval if interval is not None else settings.interval_seconds,
            registry=registry,
            sample_registry=settings.sample_registry,
            system=settings.system,
            disk_paths=settings.disk_paths,
            exclude=settings.exclude,
            retention=tuple(
                RetentionTier(t.resolution_seconds, t.keep_seconds) for t in settings.retention
            ),
            max_samples_per_tick=settings.max_samples_per_tick,
            max_maintenance_rows=settings.max_maintenance_rows,
            slo_retention_seconds=slo_retention_seconds,
            usage_retention_seconds=usage_retention_seconds,
            lease=lease,
        )

    # --- one tick -------------------------------------------------------------------------

    def collect(self, now: float | None = None) -> list[Sample]:
        """Read the system and the registry now (at most ``max_samples_per_tick`` samples)."""
        at = self._clock() if now is None else now
        out = self._system.sample(at) if self._system is not None else []
        if self._registry is not None:
            found = registry_samples(self._registry, at, self.exclude)
            if out:
                # prometheus_client's process collector exposes process_resident_memory_bytes
                # too: the system sampler's reading wins, so a series gets one point a tick.
                own = {sample.metric for sample in out}
                found = [sample for sample in found if sample.metric not in own]
            room = max(self.max_samples_per_tick - len(out), 0)
            out.extend(self._take_turn(found, room))
        return out[: self.max_samples_per_tick]

    def _take_turn(self, found: list[Sample], room: int) -> list[Sample]:
        if len(found) <= room:
            self._cursor = 0
            return found
        # More series than a tick may write: a window that moves on each tick, wrapping round.
        start = self._cursor % len(found)
        taken = (found[start:] + found[:start])[:room]
        self._cursor = start + room
        return taken

    @property
    def sampling(self) -> bool:
        """Whether this process samples: it holds the lease, or there is none to hold."""
        return self.lease is None or self._lease_failed or self.lease.held

    def _take_lease(self) -> bool:
        """Whether this tick samples: the lease is held, or taken now, or cannot be had."""
        if self.lease is None or self._lease_failed:
            return True
        try:
            return self.lease.acquire()
        except OSError as exc:
            # No lock file (a read-only folder): sample, as a single process would.
            self._lease_failed = True
            _log.warning(
                "monitor: cannot use the sampler lock %s (%s); this process samples",
                self.lease.path,
                exc,
                extra={"event": "monitor_lease_error"},
            )
            return True

    def tick(self, now: float | None = None) -> TickResult:
        """Collect, write the batch (with what a failed write left), and apply retention once.

        A process standing by (another holds the lease) does nothing but try for the lease.
        """
        with self._tick_lock:
            at = self._clock() if now is None else now
            if not self._take_lease():
                result = TickResult(at, 0, 0, 0, 0, 0, standby=True)
                self.last = result
                return result
            error: str | None = None
            collected: list[Sample] = []
            try:
                collected = self.collect(at)
            except Exception as exc:  # noqa: BLE001 - a failed reading must not stop the sampler
                error = f"collecting failed: {type(exc).__name__}: {exc}"
            self._buffer.extend(collected)
            dropped = 0
            while len(self._buffer) > self.max_buffered:
                self._buffer.popleft()
                dropped += 1
            written = 0
            downsampled = purged = slo_purged = usage_purged = 0
            try:
                batch = list(self._buffer)
                storage.add_samples(self.store, batch)
                self._buffer.clear()
                written = len(batch)
                downsampled, purged = apply_retention(
                    self.store, self.retention, now=at, max_rows=self.max_maintenance_rows
                )
                if self.slo_retention_seconds is not None:
                    # The rows the samples left of this tick's budget: the work stays bounded.
                    slo_purged = purge_slo_events(
                        self.store,
                        now=at,
                        keep_seconds=self.slo_retention_seconds,
                        max_rows=self.max_maintenance_rows - downsampled - purged,
                    )
                if self.usage_retention_seconds is not None:
                    left = self.max_maintenance_rows - downsampled - purged - slo_purged
                    if left > 0:
                        usage_purged = storage.purge_events(
                            self.store, at - self.usage_retention_seconds, max_rows=left
                        )
            except Exception as exc:  # noqa: BLE001 - the store may be busy: retry next tick
                error = f"writing to the store failed: {type(exc).__name__}: {exc}"
            if error is not None:
                self.errors += 1
                _log.warning("monitor tick: %s", error, extra={"event": "monitor_tick_error"})
            self.ticks += 1
            self.written += written
            self.dropped += dropped
            result = TickResult(
                at,
                len(collected),
                written,
                dropped,
                downsampled,
                purged,
                error,
                slo_purged,
                usage_purged,
            )
            self.last = result
            return result

    # --- the background thread ------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the sampler thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> PerformanceMonitor:
        """Start sampling in a daemon thread (the first tick one interval from now)."""
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="plimsoll-monitor", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        deadline = time.monotonic() + self.interval
        while not self._stop.wait(max(deadline - time.monotonic(), 0.0)):
            self.tick()
            # Ticks keep to the schedule; a slow tick skips the ticks it overran, never bunches.
            deadline += self.interval
            behind = time.monotonic() - deadline
            if behind > 0:
                deadline += math.ceil(behind / self.interval) * self.interval

    def stop(self, timeout: float | None = None) -> bool:
        """Stop sampling and join the thread; return whether it ended within ``timeout``.

        The default timeout is the interval: a tick in progress finishes (its work is bounded),
        no new one starts.
        """
        self._stop.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(self.interval if timeout is None else timeout)
        ended = not thread.is_alive()
        if ended:
            self._thread = None
        return ended

    def __enter__(self) -> PerformanceMonitor:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def summary(self) -> dict[str, Any]:
        """Counters since the monitor was made: ticks, samples written and dropped, errors."""
        return {
            "interval_seconds": self.interval,
            "sampling": self.sampling,
            "ticks": self.ticks,
            "written": self.written,
            "dropped": self.dropped,
            "errors": self.errors,
            "last_error": self.last.error if self.last else None,
        }
