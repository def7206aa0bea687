"""Multi-window multi-burn-rate alerts, evaluated from stored events.

Each alert (Google SRE workbook, "Alerting on SLOs") fires when the burn rate exceeds its
factor over both a long window (the budget really is burning) and a short one (it still is,
so the alert resets soon after the problem stops). The defaults: page at 14.4x over 1h and
5m, page at 6x over 6h and 30m, ticket at 1x over 3d and 6h.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from plimsoll.runtime.slo.budget import Counts, burn_rate
from plimsoll.runtime.slo.model import DEFAULT_BURN_ALERTS, BurnAlert

__all__ = ["AlertResult", "evaluate", "windows"]

CountsFor = Callable[[float], Counts]
"""Events over the window of the given length (seconds) ending now."""


@dataclass(frozen=True)
class AlertResult:
    """One burn-rate alert evaluated: both windows' burn rates, and whether it fires."""

    alert: BurnAlert
    long_rate: float
    short_rate: float

    @property
    def firing(self) -> bool:
        """Whether both windows burn faster than the factor (``>``, as the exported rules)."""
        return self.long_rate > self.alert.factor and self.short_rate > self.alert.factor

    @property
    def pages(self) -> bool:
        """Whether this alert fires and wakes someone up."""
        return self.firing and self.alert.pages

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        return {
            "name": self.alert.name,
            "severity": self.alert.severity,
            "factor": self.alert.factor,
            "long_window": self.alert.long,
            "short_window": self.alert.short,
            "long_burn_rate": self.long_rate,
            "short_burn_rate": self.short_rate,
            "firing": self.firing,
        }


def windows(alerts: Iterable[BurnAlert]) -> list[str]:
    """Every window the alerts use, shortest first, each once (as written, e.g. ``1h``)."""
    by_seconds: dict[float, str] = {}
    for alert in alerts:
        by_seconds.setdefault(alert.short_seconds, alert.short)
        by_seconds.setdefault(alert.long_seconds, alert.long)
    return [by_seconds[s] for s in sorted(by_seconds)]


def evaluate(
    counts_for: CountsFor,
    target: float,
    alerts: Sequence[BurnAlert] = DEFAULT_BURN_ALERTS,
) -> list[AlertResult]:
    """Evaluate ``alerts`` for an objective with ``target``; each window is counted once."""
    rates: dict[float, float] = {}

    def rate(seconds: float) -> float:
        if seconds not in rates:
            rates[seconds] = burn_rate(counts_for(seconds), target)
        return rates[seconds]

    return [
        AlertResult(alert, rate(alert.long_seconds), rate(alert.short_seconds)) for alert in alerts
    ]
