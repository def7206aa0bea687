"""The ``db.risk`` settings: the score's weights and curves, the failing level, calibration.

Every number of the published method lives here with its default, so a team can read what
its scores mean and tune them (``[tool.plimsoll.db.risk]``)::

    [tool.plimsoll.db.risk]
    fail_level = "HIGH"                      # `plimsoll db risk` exits 1 from this level up
    calibration_rows = 200000                # the scratch table measured once per server

    [tool.plimsoll.db.risk.weights]          # must add up to 1
    data_volume = 0.25
    lock_time = 0.35
    dependencies = 0.15
    anomalies = 0.15
    concurrent_load = 0.10

    [tool.plimsoll.db.risk.curves.lock_time] # seconds the application is blocked -> 0..1
    scale = "log"
    points = [[0.02, 0.0], [0.1, 0.25], [0.5, 0.5], [10, 0.75], [60, 0.9], [600, 1.0]]

A curve maps a factor's raw measure to a value from 0 to 1 by straight lines between its
points (on a log10 axis with ``scale = "log"``); below the first point it is the first
point's value, above the last the last one's. The score is at least the lock-time curve's
value (``lock_time_floor``), so that curve also says from how many seconds of blocking a
statement is MEDIUM, HIGH or CRITICAL whatever the other factors. docs/db-risk.md has the
whole method. This module imports only pydantic: the configuration is read by every
command.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plimsoll.db.risk.levels import Level


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Curve(_Model):
    """A piecewise-linear map from a raw measure to a factor value from 0 to 1."""

    scale: Literal["linear", "log"] = "linear"
    points: tuple[tuple[float, float], ...]

    @model_validator(mode="after")
    def _check(self) -> Curve:
        if not self.points:
            raise ValueError("a curve needs at least one point [x, value]")
        xs = [x for x, _ in self.points]
        if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
            raise ValueError("the points' x values must increase")
        if any(not 0.0 <= y <= 1.0 for _, y in self.points):
            raise ValueError("the points' values must be between 0 and 1")
        if self.scale == "log" and xs[0] <= 0:
            raise ValueError("a log curve needs x values above 0")
        return self

    def __call__(self, raw: float) -> float:
        """The value of the curve at ``raw``."""
        points = self.points
        if raw <= points[0][0] or (self.scale == "log" and raw <= 0):
            return points[0][1]
        if raw >= points[-1][0]:
            return points[-1][1]
        axis = math.log10 if self.scale == "log" else float
        position = axis(raw)
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            if x0 <= raw <= x1:
                a, b = axis(x0), axis(x1)
                return y0 + (y1 - y0) * (position - a) / (b - a)
        return points[-1][1]  # not reached: the points cover every raw value in range


def _curve(scale: Literal["linear", "log"], *points: tuple[float, float]) -> Any:
    return Field(default_factory=lambda: Curve(scale=scale, points=points))


class Weights(_Model):
    """The weight of each factor in the score; they add up to 1."""

    data_volume: float = Field(default=0.25, ge=0, le=1)
    lock_time: float = Field(default=0.35, ge=0, le=1)
    dependencies: float = Field(default=0.15, ge=0, le=1)
    anomalies: float = Field(default=0.15, ge=0, le=1)
    concurrent_load: float = Field(default=0.10, ge=0, le=1)

    @model_validator(mode="after")
    def _sum(self) -> Weights:
        total = sum(self.as_dict().values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"the weights must add up to 1 (they add up to {total:g})")
        return self

    def as_dict(self) -> dict[str, float]:
        """The weights by factor name."""
        return {
            "data_volume": self.data_volume,
            "lock_time": self.lock_time,
            "dependencies": self.dependencies,
            "anomalies": self.anomalies,
            "concurrent_load": self.concurrent_load,
        }


class Curves(_Model):
    """How each factor's raw measure becomes a value from 0 to 1.

    * ``data_volume``: bytes the statement reads or writes (a rewrite, a validation scan, an
      index build, rows changed; work that blocks nothing, such as ``CREATE INDEX
      CONCURRENTLY``, counts ``online_data_share`` of its bytes); 1 MB is nothing, 100 MB
      takes seconds, 10 GB is the worst.
    * ``lock_time``: predicted seconds the application is blocked (time a lock that blocks
      reads is held; a lock that blocks only writes counts ``writes_only_lock_share`` of it,
      and row locks that share times the part of the table they cover); 20 ms goes
      unnoticed, 100 ms shows in latency (0.25: MEDIUM), half a second breaks latency
      objectives and piles up connections behind the lock (0.5: HIGH), 10 s is an outage
      (0.75: CRITICAL), a minute and more is a long one. The knots sit on the levels' cut
      points because the score is at least this value (``lock_time_floor``).
    * ``dependencies``: views, foreign keys (both ways), triggers and partitions of the tables
      locked in a blocking mode: each is something else that waits or breaks.
    * ``anomalies``: lint points of the findings (``anomaly_points``): one warning is 0.6.
    * ``concurrent_load``: active sessions over ``max_connections``.
    """

    data_volume: Curve = _curve(
        "log", (1e6, 0.0), (1e7, 0.35), (1e8, 0.75), (1e9, 0.9), (1e10, 1.0)
    )
    lock_time: Curve = _curve(
        "log", (0.02, 0.0), (0.1, 0.25), (0.5, 0.5), (10.0, 0.75), (60.0, 0.9), (600.0, 1.0)
    )
    dependencies: Curve = _curve("linear", (0, 0.0), (1, 0.3), (3, 0.6), (10, 0.9), (30, 1.0))
    anomalies: Curve = _curve("linear", (0, 0.0), (1, 0.6), (3, 0.9), (6, 1.0))
    concurrent_load: Curve = _curve(
        "linear", (0.0, 0.0), (0.25, 0.3), (0.5, 0.6), (0.8, 0.9), (1.0, 1.0)
    )


class AnomalyPoints(_Model):
    """Points a lint finding adds to the anomalies factor, by severity."""

    error: float = Field(default=3.0, ge=0)
    warning: float = Field(default=1.0, ge=0)
    info: float = Field(default=0.2, ge=0)


class Throughput(_Model):
    """The speeds assumed when this server cannot be calibrated (no CREATE right, turned off).

    Measured on a small cloud instance with data in memory; a calibrated server replaces them.
    """

    rewrite_bytes_per_second: float = Field(default=40e6, gt=0)
    scan_bytes_per_second: float = Field(default=400e6, gt=0)
    index_rows_per_second_narrow: float = Field(default=2e6, gt=0)
    index_rows_per_second_wide: float = Field(default=8e5, gt=0)
    statement_seconds: float = Field(default=0.002, gt=0)
    update_bytes_per_second: float = Field(default=15e6, gt=0)
    delete_bytes_per_second: float = Field(default=250e6, gt=0)


class RiskConfig(_Model):
    """``db.risk``: how ``plimsoll db risk`` scores migrations and predicts their downtime.

    ``fail_level``: the command exits 1 when a migration is at this level or above.
    ``calibrate``: measure this server's rewrite, scan and index-build speed once, on a
    scratch table of ``calibration_rows`` rows in a scratch schema (dropped afterwards), and
    keep the result in ``.plimsoll/cache/risk-calibration.json`` for
    ``calibration_max_age_days``, keyed by the server's system identifier and version.
    ``uncertainty``: a heuristic prediction's bounds are its mean divided and multiplied by
    this factor (doubled when the server is not calibrated). ``learned_min_samples`` recorded
    runs of the same kind of operation on tables within ``learned_size_ratio`` times the size
    replace the heuristic with their mean and 95% interval. ``long_transaction_seconds``:
    transactions open longer than this count as load (a lock would queue behind them).
    ``lock_time_floor``: the score is at least the lock-time factor's value, so a predicted
    outage reaches the level its blocking time implies however calm the other factors are.
    """

    fail_level: Level = Level.CRITICAL
    lock_time_floor: bool = True
    weights: Weights = Field(default_factory=Weights)
    curves: Curves = Field(default_factory=Curves)
    anomaly_points: AnomalyPoints = Field(default_factory=AnomalyPoints)
    writes_only_lock_share: float = Field(default=0.75, ge=0, le=1)
    online_data_share: float = Field(default=0.5, ge=0, le=1)
    long_transaction_seconds: float = Field(default=60.0, gt=0)
    long_transaction_load: float = Field(default=0.5, ge=0, le=1)
    calibrate: bool = True
    calibration_rows: int = Field(default=100_000, ge=10_000, le=5_000_000)
    calibration_repeats: int = Field(default=3, ge=1, le=10)
    calibration_max_age_days: float = Field(default=30.0, gt=0)
    uncalibrated: Throughput = Field(default_factory=Throughput)
    uncertainty: float = Field(default=3.0, gt=1)
    concurrent_build_factor: float = Field(default=2.0, ge=1)
    foreign_key_join_factor: float = Field(default=1.5, ge=1)
    learned_min_samples: int = Field(default=3, ge=2)
    learned_size_ratio: float = Field(default=10.0, gt=1)
    facts_lock_timeout: str = "2s"

    @field_validator("fail_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        return Level.parse(value) if isinstance(value, str) else value
