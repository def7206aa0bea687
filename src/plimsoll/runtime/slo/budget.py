"""Error budget arithmetic: counts of events, burn rates, and what is left of a budget.

With a target of 99.9% the error budget is 0.1% of the events. A burn rate is the error ratio
over a window divided by that budget: 1 spends the budget exactly over the period, 14.4
spends a 30-day budget in about two days. The budget of a period is ``(1 - target)`` times
the events of the period; what is left is that minus the bad events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Budget", "Counts", "budget", "burn_rate"]


@dataclass(frozen=True)
class Counts:
    """Good and total events over some window.

    What was wrong with the data counted, for the report to say (never compared): ``excess``,
    good events counted above the total and capped (good and total counters swapped, or
    counting different things); ``missing``, the series that had no sample at all in the
    window (a misspelt metric, or one nothing samples).
    """

    good: float
    total: float
    excess: float = field(default=0.0, compare=False)
    missing: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.good < 0 or self.total < 0:
            raise ValueError(
                f"event counts cannot be negative (good {self.good}, total {self.total})"
            )
        if self.good > self.total:
            raise ValueError(f"good events ({self.good:g}) exceed the total ({self.total:g})")

    @property
    def bad(self) -> float:
        """Events that were not good."""
        return self.total - self.good

    @property
    def ratio(self) -> float | None:
        """The fraction of good events (the SLI), or None without events."""
        return self.good / self.total if self.total > 0 else None

    @property
    def error_ratio(self) -> float:
        """The fraction of bad events (0 without events: nothing failed)."""
        return self.bad / self.total if self.total > 0 else 0.0

    def __add__(self, other: Counts) -> Counts:
        missing = tuple(dict.fromkeys((*self.missing, *other.missing)))
        return Counts(
            self.good + other.good, self.total + other.total, self.excess + other.excess, missing
        )


def burn_rate(counts: Counts, target: float) -> float:
    """How fast the budget burns over the window of ``counts``: error ratio over ``1 - target``.

    No events burn nothing (0), as in the SRE workbook's rules, which cannot fire without
    traffic.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target {target} must be between 0 and 1 exclusive")
    return counts.error_ratio / (1.0 - target)


@dataclass(frozen=True)
class Budget:
    """The error budget of one period: allowed bad events, those spent, and what is left."""

    target: float
    counts: Counts

    @property
    def allowed(self) -> float:
        """Bad events the period may hold: ``(1 - target) * total``."""
        return (1.0 - self.target) * self.counts.total

    @property
    def consumed(self) -> float:
        """Bad events so far."""
        return self.counts.bad

    @property
    def remaining(self) -> float:
        """Bad events still allowed (negative once overspent)."""
        return self.allowed - self.consumed

    @property
    def consumed_fraction(self) -> float:
        """The share of the budget spent (above 1 once overspent; the period's burn rate)."""
        return burn_rate(self.counts, self.target)

    @property
    def remaining_fraction(self) -> float:
        """The share of the budget left: 1 untouched, 0 exhausted, negative overspent."""
        return 1.0 - self.consumed_fraction

    @property
    def exhausted(self) -> bool:
        """Whether nothing is left: at least as many bad events as allowed, and some."""
        # 1 - 0.999 is not exactly 0.001: spending exactly the allowance must count as all of it.
        spent = self.remaining <= 0 or math.isclose(self.consumed, self.allowed, rel_tol=1e-9)
        return self.counts.bad > 0 and spent

    @property
    def compliance(self) -> float | None:
        """The fraction of good events over the period (None without events)."""
        return self.counts.ratio

    @property
    def met(self) -> bool | None:
        """Whether the objective holds over the period (None without events)."""
        ratio = self.counts.ratio
        if ratio is None:
            return None
        return ratio >= self.target or math.isclose(ratio, self.target, rel_tol=1e-12)

    def to_dict(self) -> dict[str, Any]:
        """The budget as a JSON-ready dict."""
        return {
            "good": self.counts.good,
            "total": self.counts.total,
            "bad": self.counts.bad,
            "compliance": self.compliance,
            "met": self.met,
            "allowed": self.allowed,
            "consumed": self.consumed,
            "remaining": self.remaining,
            "consumed_fraction": self.consumed_fraction,
            "remaining_fraction": self.remaining_fraction,
            "exhausted": self.exhausted,
        }


def budget(counts: Counts, target: float) -> Budget:
    """The error budget of a period with these counts (see :class:`Budget`)."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"target {target} must be between 0 and 1 exclusive")
    return Budget(target, counts)
