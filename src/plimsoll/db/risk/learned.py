"""Predictions learned from recorded migration runs: similar operation, similar table size.

The migrator records every migration it applies (``MigrationRun`` in the store): its duration
and the tables it touched with their sizes. A run teaches something when its migration did one
kind of heavy work on one table (a rewrite, a validation scan, an index build, ...): its
seconds per byte of that table are a *sample* of that kind. To learn what a run did, its
migration file is read again from the project's migrations folder and profiled.

That profile has no live facts (the database has changed since), so a run is a sample only
when what it did is certain without them: a run whose heavy work was *assumed* (an
``ALTER COLUMN ... TYPE`` from a type no longer known, which may have been binary-coercible;
a ``SET NOT NULL`` a CHECK may have spared; a default of unknown volatility), or that holds a
statement the profile cannot read (a ``DO`` block), teaches nothing: a 20 ms
``varchar(50) -> varchar(100)`` is not a rewrite sample.

For a statement doing that kind of work on a table of size S, the samples of the same kind on
tables between S / ``learned_size_ratio`` and S x ``learned_size_ratio``, on the same major
version, each predict ``rate x S`` seconds. With at least ``learned_min_samples`` of them,
the prediction is their mean, with a 95% prediction interval computed on the logarithms of
the predictions (durations are positive and their spread is relative: ``exp(m +- t * s *
sqrt(1 + 1/n))`` with Student's t), so the lower bound of a rewrite is never 0 ms; the
interval holds the mean and at least +-10% of it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from plimsoll.core.store import MigrationRun
from plimsoll.db.risk.operations import Knowledge, StatementProfile, WorkKind
from plimsoll.db.risk.predict import Estimate

# Student's t, two-sided 95% (0.975 quantile), by degrees of freedom 1 to 30.
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t95(degrees: int) -> float:
    """The 0.975 quantile of Student's t with ``degrees`` of freedom (1.96 beyond 30)."""
    if degrees < 1:
        return math.inf
    return _T95[degrees - 1] if degrees <= len(_T95) else 1.96


@dataclass(frozen=True)
class Sample:
    """One recorded run that did one kind of heavy work on one table."""

    kind: WorkKind
    table: str
    bytes: int
    seconds: float
    major: int | None
    label: str

    @property
    def rate(self) -> float:
        """Seconds per byte."""
        return self.seconds / self.bytes


Profiler = Callable[[MigrationRun], Sequence[StatementProfile] | None]


def samples_from_runs(runs: Iterable[MigrationRun], profiler: Profiler) -> list[Sample]:
    """The runs that teach something: applied ``up``, one heavy work kind on one sized table."""
    out: list[Sample] = []
    for run in runs:
        if run.direction != "up" or run.outcome != "applied" or run.duration_ms <= 0:
            continue
        profiles = profiler(run)
        if not profiles or not all(p.known for p in profiles):
            continue
        works = [work for profile in profiles for work in profile.work if work.kind.heavy]
        if any(work.assumed or work.kind is WorkKind.UNKNOWN for work in works):
            continue  # what the run really did is not certain
        heavy = {(work.kind, work.table) for work in works}
        if len(heavy) != 1:
            continue
        ((kind, table),) = heavy
        sizes = dict(run.tables)
        size = sizes.get(table or "")
        if not table or not size or size <= 0:
            continue
        major = run.server_version // 10000 if run.server_version else None
        out.append(
            Sample(
                kind, table, int(size), run.duration_ms / 1000, major, f"{run.version}_{run.name}"
            )
        )
    return out


def folder_profiler(folder: Path) -> Profiler:
    """A profiler reading each run's migration file (``<version>_<name>.up.sql``) from ``folder``.

    Files are profiled without live facts (the built-in volatility lists, the worst case for
    anything else); a file that is gone or does not parse teaches nothing.
    """
    from plimsoll.db.risk.lock_profile import profile
    from plimsoll.db.sql import SqlSyntaxError
    from plimsoll.db.sqljson import parse_json

    cache: dict[tuple[str, int | None], Sequence[StatementProfile] | None] = {}

    def read(run: MigrationRun) -> Sequence[StatementProfile] | None:
        """The profiles of the statements of ``run``'s migration, or None."""
        key = (f"{run.version}_{run.name}", run.server_version)
        if key in cache:
            return cache[key]
        path = folder / f"{key[0]}.up.sql"
        found: Sequence[StatementProfile] | None = None
        try:
            script = parse_json(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError, SqlSyntaxError):
            script = None
        if script is not None:
            knowledge = Knowledge(
                pg_version=(run.server_version or 170000) // 10000,
            )
            found = [profile(s.kind, s.node, knowledge) for s in script.statements]
        cache[key] = found
        return found

    return read


@dataclass
class LearnedModel:
    """The samples of recorded runs, and predictions from the ones alike."""

    samples: list[Sample]
    min_samples: int = 3
    size_ratio: float = 10.0

    def similar(self, kind: WorkKind, size: float, major: int | None) -> list[Sample]:
        """Samples of ``kind`` on tables of a similar size (and the same major version)."""
        if size <= 0:
            return []
        return [
            s
            for s in self.samples
            if s.kind is kind
            and s.seconds > 0
            and (major is None or s.major is None or s.major == major)
            and size / self.size_ratio <= s.bytes <= size * self.size_ratio
        ]

    def predict(self, kind: WorkKind, size: float, major: int | None) -> Estimate | None:
        """The mean and 95% interval of the similar runs scaled to ``size``, or None."""
        alike = self.similar(kind, size, major)
        if len(alike) < self.min_samples:
            return None
        predictions = [s.rate * size for s in alike]
        n = len(predictions)
        mean = statistics.fmean(predictions)
        logs = [math.log(p) for p in predictions]
        centre = statistics.fmean(logs)
        spread = statistics.stdev(logs) if n > 1 else 0.0
        half = t95(n - 1) * spread * math.sqrt(1 + 1 / n)
        low = min(math.exp(centre - half), mean / 1.1)
        high = max(math.exp(centre + half), mean * 1.1)
        smallest = min(s.bytes for s in alike)
        largest = max(s.bytes for s in alike)
        return Estimate(
            low=low,
            mean=mean,
            high=high,
            method="learned",
            basis=(
                f"{n} recorded {kind.value.replace('_', ' ')} runs on tables of "
                f"{smallest / 1e6:.1f}-{largest / 1e6:.1f} MB, scaled to {size / 1e6:.1f} MB: "
                "mean and 95% interval"
            ),
            samples=n,
        )
