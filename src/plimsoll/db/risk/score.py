"""The published risk score: five weighted factors, each a curve of a measured quantity.

=================  ======  =================================================================
factor             weight  raw measure (curve in ``db.risk.curves``)
=================  ======  =================================================================
data volume        25%     bytes the change reads or writes (rewrites, scans, index builds,
                           rows) on tables others use; half for work that blocks nothing
lock time          35%     predicted seconds the application is blocked: a lock blocking
                           reads counts fully, one blocking only writes
                           ``writes_only_lock_share`` (0.75)
dependencies       15%     views, foreign keys (both ways), triggers and partitions of the
                           tables locked in a blocking mode
anomalies          15%     lint points of the findings (error 3, warning 1, info 0.2)
concurrent load    10%     active sessions / max_connections; 1.0 when a session holds a lock
                           that conflicts with the change (it would queue behind it, and every
                           query after it too); at least ``long_transaction_load`` when
                           transactions are open longer than ``long_transaction_seconds``
=================  ======  =================================================================

score = max(sum(weight x value), lock time value); the level follows
:mod:`plimsoll.db.risk.levels`. The weighted sum blends the factors; the floor keeps a
predicted outage from being averaged away by calm ones: the lock-time curve's knots sit on the
levels' cut points (0.1 s MEDIUM, 0.5 s HIGH, 10 s CRITICAL by default), so a statement is at
least at the level its predicted blocking time alone implies (``lock_time_floor = false``
turns that off). A statement the lock profile does not know, or whose duration cannot be
predicted, takes the worst value (1.0) for data volume and lock time in the sum, and the
factor's detail says so; the floor applies to predicted lock times only, so what cannot be
told lands at HIGH (0.6 and up) rather than CRITICAL. A lock request that would queue behind
another session's lock with no ``lock_timeout`` is an unbounded wait: lock time infinity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from plimsoll.db.risk.config import RiskConfig
from plimsoll.db.risk.levels import Level, level_for

FACTORS = ("data_volume", "lock_time", "dependencies", "anomalies", "concurrent_load")


@dataclass(frozen=True)
class Factor:
    """One factor of a score: its raw measure, its value (0-1), weight and contribution."""

    name: str
    weight: float
    raw: float | None
    value: float
    detail: str

    @property
    def contribution(self) -> float:
        """weight x value: this factor's share of the score."""
        return self.weight * self.value

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "name": self.name,
            "raw": None if self.raw is None or math.isinf(self.raw) else round(self.raw, 4),
            "value": round(self.value, 4),
            "weight": self.weight,
            "contribution": round(self.contribution, 4),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Score:
    """A score from 0 to 1, its level, and the factors it is made of.

    ``weighted`` is the weighted sum of the factors; ``value`` is at least the lock-time
    factor's value (the floor), so ``floored`` says the floor, not the sum, set it.
    """

    value: float
    level: Level
    factors: tuple[Factor, ...]
    weighted: float | None = None

    @property
    def floored(self) -> bool:
        """Whether the lock time alone set the score (above the weighted sum)."""
        return self.weighted is not None and self.value > self.weighted + 1e-9

    def factor(self, name: str) -> Factor:
        """One factor by name (KeyError when there is none)."""
        for factor in self.factors:
            if factor.name == name:
                return factor
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "value": round(self.value, 4),
            "level": self.level.value,
            "weighted_sum": round(self.value if self.weighted is None else self.weighted, 4),
            "lock_time_floor": self.floored,
            "factors": [f.as_dict() for f in self.factors],
        }


@dataclass(frozen=True)
class Inputs:
    """The raw measures of one statement or migration.

    ``data_bytes`` or ``lock_seconds`` None means "cannot tell": the factor takes its worst
    value. ``lock_seconds`` is already weighted (writes-only locks count less). ``blockers``
    counts sessions holding a conflicting lock on a table the change locks.
    """

    data_bytes: float | None
    lock_seconds: float | None
    dependents: int
    anomaly_points: float
    load_ratio: float
    blockers: int = 0
    long_transactions: int = 0
    data_detail: str = ""
    lock_detail: str = ""
    dependents_detail: str = ""
    anomalies_detail: str = ""
    load_detail: str = ""


def _bytes(value: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.0f} B"


def score(inputs: Inputs, config: RiskConfig) -> Score:
    """Weigh the factors of ``inputs`` into a score and a level."""
    weights = config.weights
    curves = config.curves
    factors = [
        _worst_or(
            "data_volume",
            weights.data_volume,
            inputs.data_bytes,
            curves.data_volume,
            inputs.data_detail
            or (f"{_bytes(inputs.data_bytes)} read or written" if inputs.data_bytes else "none"),
        ),
        _worst_or(
            "lock_time",
            weights.lock_time,
            inputs.lock_seconds,
            curves.lock_time,
            inputs.lock_detail,
        ),
        Factor(
            "dependencies",
            weights.dependencies,
            float(inputs.dependents),
            curves.dependencies(inputs.dependents),
            inputs.dependents_detail or f"{inputs.dependents} dependent objects",
        ),
        Factor(
            "anomalies",
            weights.anomalies,
            inputs.anomaly_points,
            curves.anomalies(inputs.anomaly_points),
            inputs.anomalies_detail or "no lint findings",
        ),
        _load(inputs, config),
    ]
    weighted = min(max(sum(f.contribution for f in factors), 0.0), 1.0)
    lock = factors[1]
    floor = lock.value if config.lock_time_floor and lock.raw is not None else 0.0
    value = max(weighted, floor)
    return Score(value, level_for(value), tuple(factors), weighted)


def _worst_or(name: str, weight: float, raw: float | None, curve: Any, detail: str) -> Factor:
    if raw is None:
        return Factor(name, weight, None, 1.0, detail or "cannot be predicted: the worst case")
    return Factor(name, weight, raw, curve(raw), detail)


def _load(inputs: Inputs, config: RiskConfig) -> Factor:
    weight = config.weights.concurrent_load
    ratio = inputs.load_ratio
    value = config.curves.concurrent_load(ratio)
    detail = inputs.load_detail or f"{ratio:.0%} of max_connections active"
    if inputs.long_transactions and value < config.long_transaction_load:
        value = config.long_transaction_load
    if inputs.blockers:
        value = 1.0
    return Factor("concurrent_load", weight, ratio, value, detail)
