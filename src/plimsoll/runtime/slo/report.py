"""The status of an objective now, and its compliance period by period.

:func:`status` gathers what ``plimsoll runtime slo`` shows: compliance and error budget over
the rolling period ending now, the burn rate over each alert window, and the alerts that
fire. :func:`compliance` splits the past into consecutive periods (the newest ending now) and
says for each whether the objective was met.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plimsoll.core.rules import parse_duration
from plimsoll.core.store import Store
from plimsoll.runtime.slo import storage
from plimsoll.runtime.slo.budget import Budget, Counts, budget, burn_rate
from plimsoll.runtime.slo.burn import AlertResult, evaluate, windows
from plimsoll.runtime.slo.model import DEFAULT_BURN_ALERTS, BurnAlert, Objective

__all__ = ["PeriodCompliance", "SloStatus", "compliance", "data_warnings", "status"]


@dataclass(frozen=True)
class SloStatus:
    """An objective's state at ``at``: budget over the period, burn rates, alerts."""

    objective: Objective
    at: float
    budget: Budget
    burn_rates: dict[str, float]
    alerts: tuple[AlertResult, ...]
    warnings: tuple[str, ...] = ()

    @property
    def firing(self) -> list[AlertResult]:
        """The alerts that fire."""
        return [a for a in self.alerts if a.firing]

    @property
    def paging(self) -> bool:
        """Whether a page-level alert fires."""
        return any(a.pages for a in self.alerts)

    @property
    def failing(self) -> bool:
        """Whether this calls for exit 1: the budget is exhausted or a page fires."""
        return self.budget.exhausted or self.paging

    def to_dict(self) -> dict[str, Any]:
        """The status as a JSON-ready dict."""
        objective = self.objective
        return {
            "name": objective.name,
            "kind": objective.kind,
            "description": objective.description,
            "target": objective.target,
            "period": objective.period,
            "at": self.at,
            "budget": self.budget.to_dict(),
            "burn_rates": self.burn_rates,
            "alerts": [a.to_dict() for a in self.alerts],
            "firing": [a.alert.name for a in self.firing],
            "failing": self.failing,
            "warnings": list(self.warnings),
        }


# Good events above the total by more than this share of the total (or one event) are not
# sampling noise: the counters are not a good/total pair.
EXCESS_TOLERANCE = 0.01


def data_warnings(objective: Objective, counts: Counts) -> list[str]:
    """What is wrong with the data of ``objective`` over its period, as the report says it.

    A budget computed over no data, or over good events capped at a smaller total, reads as
    full compliance: the numbers alone would hide the mistake.
    """
    out = []
    what = f"over the last {objective.period}"
    for metric in counts.missing:
        out.append(
            f"no samples of {metric} {what}: is the name right, and is the monitor sampling"
            " the service's registry?"
        )
    if counts.excess > max(1.0, EXCESS_TOLERANCE * counts.total):
        counted = counts.total + counts.excess
        ratio = objective.ratio
        pair = f" (ratio.good = {ratio.good}, ratio.total = {ratio.total})" if ratio else ""
        times = f", {counted / counts.total:.3g}x" if counts.total else ""
        out.append(
            f"good events exceed the total {what} ({counted:g} good of {counts.total:g}{times}):"
            f" are the good and total counters the right ones{pair}? The good events were"
            " capped at the total, so compliance reads 100%"
        )
    if objective.kind == "events" and counts.total == 0:
        out.append(f"no events recorded for {objective.name} {what}")
    return out


def status(
    store: Store,
    objective: Objective,
    at: float,
    alerts: Sequence[BurnAlert] = DEFAULT_BURN_ALERTS,
) -> SloStatus:
    """The status of ``objective`` at time ``at``, from the events in ``store``."""
    lengths = [objective.period_seconds]
    lengths += [s for a in alerts for s in (a.long_seconds, a.short_seconds)]
    counts_for = storage.window_counts(store, objective, at, lengths)
    counts = counts_for(objective.period_seconds)
    period = budget(counts, objective.target)
    results = evaluate(counts_for, objective.target, alerts)
    rates = {
        window: burn_rate(counts_for(parse_duration(window)), objective.target)
        for window in windows(alerts)
    }
    warnings = tuple(data_warnings(objective, counts))
    return SloStatus(objective, at, period, rates, tuple(results), warnings)


@dataclass(frozen=True)
class PeriodCompliance:
    """The objective over one period ``[start, end)``."""

    start: float
    end: float
    budget: Budget

    def to_dict(self) -> dict[str, Any]:
        """The period as a JSON-ready dict."""
        return {"start": self.start, "end": self.end, **self.budget.to_dict()}


def compliance(
    store: Store, objective: Objective, at: float, periods: int = 3
) -> list[PeriodCompliance]:
    """The last ``periods`` whole periods ending at ``at``, oldest first, each with its budget."""
    if periods < 1:
        raise ValueError(f"periods must be at least 1, not {periods}")
    length = objective.period_seconds
    out = []
    for index in range(periods, 0, -1):
        end = at - (index - 1) * length
        start = end - length
        counts = storage.counts(store, objective, start, end)
        out.append(PeriodCompliance(start, end, budget(counts, objective.target)))
    return out
