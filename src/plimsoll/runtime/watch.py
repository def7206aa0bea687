"""``plimsoll runtime watch``: one process sampling, checking health, evaluating and notifying.

Four loops share one store: the :class:`~plimsoll.runtime.monitor.PerformanceMonitor` samples
the system into it; the health checks run at their interval and their statuses become samples
(``health_check_status{check="component:measurement"}``: 0 pass, 1 warn, 2 fail) that alert
rules can watch; the alert engine runs a cycle every ``evaluation_interval`` (over the alert
rules and, when objectives are configured, the SLO burn-rate alerts of
:mod:`plimsoll.runtime.slo.alerting`); and a delivery
thread flushes the notification outbox every second, so a slow or dead channel never delays an
evaluation. SIGTERM and SIGINT stop every loop after the work in hand, flush what can be
delivered and close the store.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from plimsoll.core.config import NotifyConfig
from plimsoll.core.log import get_logger
from plimsoll.core.notify import DeliveryStatus, Dispatcher
from plimsoll.core.rules import parse_duration
from plimsoll.core.store import Store
from plimsoll.runtime import storage
from plimsoll.runtime.alerts.config import AlertsConfig
from plimsoll.runtime.alerts.engine import AlertEngine
from plimsoll.runtime.alerts.samples import StoreSamples

if TYPE_CHECKING:
    from plimsoll.runtime.slo.model import SloConfig

log = get_logger(__name__)

HEALTH_METRIC = "health_check_status"
_STATUS_VALUE = {"pass": 0.0, "warn": 1.0, "fail": 2.0}
DELIVERY_INTERVAL_SECONDS = 1.0
# How often a watch without a monitor purges old SLO events (a bounded batch each time).
SLO_RETENTION_INTERVAL_SECONDS = 60.0


@dataclass
class WatchStats:
    """What a watch did, for its final report."""

    cycles: int = 0
    health_runs: int = 0
    delivered: int = 0
    failed_deliveries: int = 0
    given_up: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "cycles": self.cycles,
            "health_runs": self.health_runs,
            "delivered": self.delivered,
            "failed_deliveries": self.failed_deliveries,
            "given_up": self.given_up,
            "errors": self.errors[-10:],
        }

    def summary(self) -> str:
        """The one line a stopped watch prints: ``stopped after 3 cycles; 1 notification ...``."""
        line = (
            f"stopped after {_count(self.cycles, 'cycle')};"
            f" {_count(self.delivered, 'notification')} delivered"
        )
        if self.failed_deliveries:
            line += f", {_count(self.failed_deliveries, 'failed attempt')}"
        if self.given_up:
            line += f", {self.given_up} given up (see the outbox)"
        return line


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


class Watch:
    """The watch process's loops over one store; :meth:`run` blocks until :meth:`stop`."""

    def __init__(
        self,
        store: Store,
        alerts: AlertsConfig,
        notify: NotifyConfig,
        *,
        monitor: Any | None = None,
        health: Any | None = None,
        health_interval: float = 10.0,
        slo: SloConfig | None = None,
        slo_retention: tuple[float, int] | None = None,
        clock: Callable[[], float] = time.time,
        alerts_where: tuple[str, str | None] = ("runtime.alerts", None),
        slo_where: tuple[str, str | None] = ("runtime.slo", None),
    ) -> None:
        """``alerts_where`` and ``slo_where``: the section (key prefix) and the file the alert
        and SLO settings came from, named by their configuration errors."""
        self.store = store
        # (seconds kept, rows per pass): the SLO events the watch writes, purged by the watch
        # itself when no monitor of its own does it (`--no-monitor`: the service samples).
        self.slo_retention = slo_retention
        sources = []
        if slo is not None and slo.objectives:
            # Imported only when objectives exist: a rules-only watch pays nothing for SLOs.
            from plimsoll.runtime.slo.alerting import BurnRateSource

            sources.append(
                BurnRateSource(
                    slo,
                    store,
                    channels=list(notify.channels),
                    policies=list(alerts.escalation),
                    where=slo_where[0],
                    source=slo_where[1],
                )
            )
        self.engine = AlertEngine(
            alerts,
            store,
            StoreSamples(store),
            channels=list(notify.channels),
            where=alerts_where[0],
            source=alerts_where[1],
            clock=clock,
            sources=sources,
        )
        self.dispatcher = Dispatcher(notify, store, clock=clock)
        self.monitor = monitor
        self.health = health
        self.health_interval = health_interval
        self.interval = parse_duration(alerts.evaluation_interval)
        if not self.interval > 0:  # AlertsConfig refuses it; a zero would spin a CPU
            raise ValueError("the evaluation interval must be longer than zero")
        self.stats = WatchStats()
        self._clock = clock
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask every loop to end (safe from a signal handler)."""
        self._stop.set()

    def install_signals(self) -> None:
        """Stop cleanly on SIGTERM and SIGINT (call from the main thread)."""

        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("watch: signal %d, stopping", signum, extra={"event": "watch.signal"})
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # --- loops ------------------------------------------------------------------------------

    def _every(self, seconds: float, work: Callable[[], object], name: str) -> threading.Thread:
        def loop() -> None:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    work()
                except Exception as exc:  # noqa: BLE001 - one failed turn must not end the watch
                    self.stats.errors.append(f"{name}: {type(exc).__name__}: {exc}")
                    log.warning("watch %s failed: %s", name, exc, extra={"event": "watch.error"})
                self._stop.wait(max(seconds - (time.monotonic() - started), 0.0))

        thread = threading.Thread(target=loop, name=f"plimsoll-{name}", daemon=True)
        thread.start()
        return thread

    def evaluate(self) -> None:
        """One alert evaluation cycle."""
        self.engine.cycle()
        self.stats.cycles += 1

    def check_health(self) -> None:
        """Run the health checks once and store their statuses as samples."""
        if self.health is None:
            return
        report = self.health.run()
        now = self._clock()
        storage.add_samples(
            self.store,
            [
                storage.Sample(HEALTH_METRIC, _STATUS_VALUE[r.status.value], now, {"check": r.key})
                for r in report.results
            ],
        )
        self.stats.health_runs += 1

    def purge_slo_events(self) -> int:
        """Delete a bounded batch of SLO events past their retention; how many went."""
        if self.slo_retention is None:
            return 0
        from plimsoll.runtime.monitor import purge_slo_events

        keep, rows = self.slo_retention
        return purge_slo_events(self.store, now=self._clock(), keep_seconds=keep, max_rows=rows)

    def deliver(self) -> None:
        """Flush the notification outbox once."""
        for result in self.dispatcher.flush_outbox():
            if result.delivered:
                self.stats.delivered += 1
            elif result.status is DeliveryStatus.GIVEN_UP:
                self.stats.given_up += 1
            elif result.attempts:
                self.stats.failed_deliveries += 1

    def run(self) -> WatchStats:
        """Run every loop until :meth:`stop`; then stop them, flush once more and return."""
        if self.monitor is not None:
            self.monitor.start()
        threads = [
            self._every(self.interval, self.evaluate, "alerts"),
            self._every(DELIVERY_INTERVAL_SECONDS, self.deliver, "delivery"),
        ]
        if self.health is not None:
            threads.append(self._every(self.health_interval, self.check_health, "health"))
        if self.monitor is None and self.slo_retention is not None:
            threads.append(
                self._every(SLO_RETENTION_INTERVAL_SECONDS, self.purge_slo_events, "slo-retention")
            )
        try:
            while not self._stop.wait(0.2):
                pass
        finally:
            self._stop.set()
            if self.monitor is not None:
                self.monitor.stop()
            for thread in threads:
                thread.join(timeout=30)
            try:
                self.deliver()
            except Exception as exc:  # noqa: BLE001 - reported, the store still closes
                self.stats.errors.append(f"final delivery: {exc}")
        return self.stats
