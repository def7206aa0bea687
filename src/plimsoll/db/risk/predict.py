"""Predicted durations with bounds: from this server's calibration times the sizes involved.

Each piece of work a statement does costs, at the calibrated speeds:

* a **rewrite**: the table's total size (heap and indexes, rebuilt) over the rewrite speed;
* a **validation scan**: the heap size over the scan speed; a **foreign key scan** reads both
  tables (``foreign_key_join_factor`` times the two heaps over the scan speed);
* an **index build**: the rows over the index-build speed (*narrow* when every key column has a
  fixed width, else *wide*); ``CONCURRENTLY`` takes ``concurrent_build_factor`` times longer
  (two scans and waits) but blocks nothing;
* **rows** written (``INSERT``, ``CREATE TABLE AS``): the planner's row estimate times its
  row width, over the rewrite speed; rows changed by ``UPDATE`` (and ``MERGE``) or
  ``DELETE``: the same bytes over the calibrated update or delete speed;
* a **catalog** change: the measured statement time.

The mean is that sum, plus the measured time of a catalog-only statement. The bounds divide
and multiply each part by ``uncertainty`` times the spread of its own speed over the
calibration runs (slowest over fastest: a rewrite's part by the rewrite spread, the statement
overhead by the statement spread), doubled when the server is not calibrated, and add the
parts up. The learned model (``learned``) replaces this where enough recorded runs are alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from plimsoll.db.risk.calibration import Calibration
from plimsoll.db.risk.config import RiskConfig
from plimsoll.db.risk.facts import TableFacts
from plimsoll.db.risk.operations import Work, WorkKind


@dataclass(frozen=True)
class Estimate:
    """A predicted number of seconds: its mean and bounds, and how it was obtained.

    ``method`` is ``heuristic`` (calibration x size), ``learned`` (recorded runs: mean and 95%
    interval), ``mixed`` (a sum of both), ``worst case`` (an unknown statement on a known
    table) or ``unknown`` (no basis at all: ``mean`` is then None).
    """

    low: float
    mean: float | None
    high: float
    method: str
    basis: str = ""
    samples: int = 0

    @property
    def known(self) -> bool:
        """Whether there is a number at all."""
        return self.mean is not None

    def as_dict(self) -> dict[str, Any]:
        """Plain data (seconds rounded to the millisecond)."""
        return {
            "low": round(self.low, 3),
            "mean": None if self.mean is None else round(self.mean, 3),
            "high": round(self.high, 3),
            "method": self.method,
            "basis": self.basis,
            "samples": self.samples,
        }

    def text(self) -> str:
        """``1.8 s (0.6-5.4 s)``, or ``unknown``."""
        if self.mean is None:
            return "unknown"
        return f"{seconds_text(self.mean)} ({seconds_text(self.low)}-{seconds_text(self.high)})"


ZERO = Estimate(0.0, 0.0, 0.0, "none")


def seconds_text(value: float) -> str:
    """Seconds in a short human form: ``12 ms``, ``1.8 s``, ``4.2 min``."""
    if 0 < value < 0.0005:
        return "<1 ms"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def total(estimates: Iterable[Estimate]) -> Estimate:
    """The sum of estimates (bounds added: conservative); unknown if any part is unknown."""
    parts = list(estimates)
    if not parts:
        return ZERO
    if any(p.mean is None for p in parts):
        return Estimate(
            sum(p.low for p in parts), None, float("inf"), "unknown", "a part has no estimate"
        )
    # A wait for a lock is time, not a way of predicting it: it does not name the method.
    methods = {p.method for p in parts if p.method not in ("none", "lock_timeout")}
    method = methods.pop() if len(methods) == 1 else ("mixed" if methods else "none")
    return Estimate(
        sum(p.low for p in parts),
        sum(p.mean or 0.0 for p in parts),
        sum(p.high for p in parts),
        method,
        samples=sum(p.samples for p in parts),
    )


@dataclass(frozen=True)
class Cost:
    """One piece of work priced: seconds at the calibrated speed, bytes it reads or writes."""

    seconds: float
    bytes: float
    speed: str
    basis: str
    worst_case: bool = False


def _size(value: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.0f} B"


def work_cost(
    work: Work,
    tables: Mapping[str, TableFacts],
    calibration: Calibration,
    config: RiskConfig,
    planner_rows: tuple[float, float] | None = None,
) -> Cost:
    """What ``work`` costs on the tables as they are now (an absent table costs nothing)."""
    facts = tables.get(work.table or "")
    kind = work.kind
    if kind is WorkKind.CATALOG:
        return Cost(0.0, 0.0, "statement", "catalog change")
    if kind in (WorkKind.REWRITE, WorkKind.UNKNOWN):
        size = facts.total_bytes if facts and facts.exists else 0
        seconds = size / calibration.rewrite_bytes_per_second
        basis = f"rewrite of {_size(size)} at {_size(calibration.rewrite_bytes_per_second)}/s"
        return Cost(seconds, size, "rewrite", basis, worst_case=kind is WorkKind.UNKNOWN)
    if kind is WorkKind.SCAN:
        size = facts.heap_bytes if facts and facts.exists else 0
        seconds = size / calibration.scan_bytes_per_second
        return Cost(
            seconds,
            size,
            "scan",
            f"scan of {_size(size)} at {_size(calibration.scan_bytes_per_second)}/s",
        )
    if kind is WorkKind.FOREIGN_KEY_SCAN:
        other = tables.get(work.referenced or "")
        size = (facts.heap_bytes if facts and facts.exists else 0) + (
            other.heap_bytes if other and other.exists else 0
        )
        seconds = size * config.foreign_key_join_factor / calibration.scan_bytes_per_second
        return Cost(seconds, size, "scan", f"foreign key check over {_size(size)} of both tables")
    if kind is WorkKind.INDEX_BUILD:
        return _index_cost(work, facts, calibration, config)
    return _rows_cost(work, facts, calibration, planner_rows)


def _index_cost(
    work: Work, facts: TableFacts | None, calibration: Calibration, config: RiskConfig
) -> Cost:
    if facts is None or not facts.exists:
        return Cost(0.0, 0.0, "index_wide", "index on a new table")
    rows = facts.rows
    narrow = bool(work.columns) and all(
        (info := facts.columns.get(column)) is not None and info.fixed_width
        for column in work.columns or ()
    )
    speed = "index_narrow" if narrow else "index_wide"
    rate = (
        calibration.index_rows_per_second_narrow
        if narrow
        else calibration.index_rows_per_second_wide
    )
    # REINDEX TABLE rebuilds every index of the table.
    count = max(facts.indexes, 1) if work.every_index else 1
    seconds = rows * count / rate
    if work.concurrent:
        seconds *= config.concurrent_build_factor
    basis = f"index build over {rows:,.0f} rows at {rate:,.0f} rows/s"
    if count > 1:
        basis += f" x {count} indexes"
    if work.concurrent:
        basis += f", x{config.concurrent_build_factor:g} concurrently"
    return Cost(seconds, float(facts.heap_bytes), speed, basis)


def _rows_cost(
    work: Work,
    facts: TableFacts | None,
    calibration: Calibration,
    planner_rows: tuple[float, float] | None,
) -> Cost:
    width = facts.row_width if facts and facts.exists else 100.0
    if work.rows is not None:
        rows, source = float(work.rows), "rows listed"
    elif planner_rows is not None:
        rows, source = planner_rows[0], "planner estimate"
        if work.verb not in _ROW_SPEEDS and planner_rows[1]:
            # Rows inserted are as wide as the query's output (+ the tuple header); rows
            # changed in place are the table's own rows, whatever the plan projects.
            width = planner_rows[1] + 24
    else:
        return Cost(0.0, 0.0, "rewrite", "rows not known before it runs")
    size = rows * width
    speed, rate = _ROW_SPEEDS.get(work.verb or "", ("rewrite", "rewrite_bytes_per_second"))
    per_second = float(getattr(calibration, rate))
    verb = (work.verb or "written").lower().replace("merge", "update")
    done = {"update": "updated", "delete": "deleted"}.get(verb, "written")
    return Cost(
        size / per_second,
        size,
        speed,
        f"{rows:,.0f} rows ({source}) of {width:.0f} bytes {done} at {_size(per_second)}/s",
    )


# Rows changed in place are priced at their own measured speed (see ``calibration``).
_ROW_SPEEDS = {
    "UPDATE": ("update", "update_bytes_per_second"),
    "MERGE": ("update", "update_bytes_per_second"),
    "DELETE": ("delete", "delete_bytes_per_second"),
}


_SPREADS = {
    "rewrite": "rewrite",
    "scan": "scan",
    "index_narrow": "index_narrow",
    "index_wide": "index_wide",
    "statement": "statement",
    "update": "update",
    "delete": "delete",
}


def bound_factor(speed: str, calibration: Calibration, config: RiskConfig) -> float:
    """How far a part priced at ``speed`` may be off: the bounds divide and multiply by it."""
    factor = config.uncertainty * calibration.spread_of(_SPREADS.get(speed, speed))
    return factor if calibration.calibrated else factor * 2


def heuristic(costs: Iterable[Cost], calibration: Calibration, config: RiskConfig) -> Estimate:
    """The estimate of a statement from its costs: mean, bounds, and the basis in words."""
    costs = list(costs)
    parts = [(calibration.statement_seconds, "statement")]
    parts.extend((c.seconds, c.speed) for c in costs if c.seconds > 0)
    factors = [bound_factor(speed, calibration, config) for _, speed in parts]
    mean = sum(seconds for seconds, _ in parts)
    low = sum(seconds / factor for (seconds, _), factor in zip(parts, factors, strict=True))
    high = sum(seconds * factor for (seconds, _), factor in zip(parts, factors, strict=True))
    heavy = [c.basis for c in costs if c.seconds > 0 or c.bytes > 0]
    basis = "; ".join(heavy) or "catalog change only"
    # The factor of the part that weighs most, for the basis: "x3.2".
    main = max(zip(parts, factors, strict=True), key=lambda item: item[0][0])[1]
    worst = any(c.worst_case for c in costs)
    return Estimate(
        low=low,
        mean=mean,
        high=high,
        method="worst case" if worst else "heuristic",
        basis=f"{basis}; bounds / and x {main:.2g}",
    )
