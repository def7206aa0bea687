"""BaselineManager: per-query baselines in the store, and regression detection against them.

A baseline is the samples recorded for one query on one database (``plimsoll db baseline
record``): their count, mean, standard deviation and 95% interval (where one more run of the
unchanged query falls 19 times in 20; see :class:`~plimsoll.db.profiling.stats.Summary`),
and its age. A baseline older than 30 days (by default) is *stale*: still used, but reported
so it gets recorded again. Recording replaces a query's baseline (the old one stays in the
store as history) or, with ``append``, adds samples to it.

A check measures the queries again and judges each one's median against its baseline:

- **ERROR**: above the interval *and* slower than the threshold (20% by default);
- **WARNING**: slower by at least half the threshold, and either above the interval or
  slower than the threshold inside a wide (noisy) interval;
- **OK**: otherwise. A query faster by the threshold is an *improvement*, reported apart
  from the regressions, when it is below the interval, or when the interval reaches zero
  (a baseline that noisy has no value below it, as a wide interval cannot make a slower
  query an ERROR either: the change alone decides, as it does for a WARNING).

A query that has a baseline (it ran when the baseline was recorded) and now fails is
**broken**: an ERROR, whatever the threshold, with the server's error as its message (a
migration that dropped a column the query reads). A query that fails and has no baseline has
nothing to be judged against: it is listed as *failed*, not as a regression, and counts as a
WARNING for the check's status (the check is incomplete; ``--fail-on warning`` fails on it).

Changes smaller than ``min_delta_ms`` (0.1 ms by default) in absolute terms are never
regressions: the timing jitter of sub-millisecond queries is larger than 20%. Queries only
planned (generic plans from ``pg_stat_statements``) are judged on their estimated cost, which
is exact, so no floor applies to them. Every verdict is kept in the store.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from plimsoll.core.rules import RuleResult, RuleSpec, Severity, evaluate
from plimsoll.core.store import BaselineCheck, QueryBaseline, QuerySample, Store
from plimsoll.db.profiling import stats
from plimsoll.db.profiling.explain import Metric
from plimsoll.db.profiling.objectives import Operation, TimingRecorder
from plimsoll.db.profiling.profiler import ProfileReport, QueryProfile
from plimsoll.db.profiling.queries import Query

DEFAULT_THRESHOLD = 0.20
STALE_AFTER_SECONDS = 30 * 86400.0
DEFAULT_MIN_DELTA_MS = 0.1


class Status(StrEnum):
    """A query's verdict against its baseline."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """Order of seriousness (OK lowest)."""
        return (Status.OK, Status.WARNING, Status.ERROR).index(self)


@dataclass(frozen=True)
class Judgement:
    """A value judged against a summary: status, improvement and the relative change.

    ``broken`` holds the server's error when the query ran before and now fails: there is no
    value then, the status is ERROR and ``change`` is None.
    """

    status: Status
    improved: bool
    change: float | None
    above: bool
    below: bool
    broken: str | None = None


def broken(server_error: str) -> Judgement:
    """The judgement of a query that ran before and now fails with ``server_error``."""
    return Judgement(Status.ERROR, False, None, False, False, server_error)


def judge(
    summary: stats.Summary, current: float, *, threshold: float, min_delta: float = 0.0
) -> Judgement:
    """Judge ``current`` against ``summary`` (see the module docstring for the rules).

    ``change`` is relative to the baseline mean (0.25 = 25% slower, -0.5 = twice as fast); None
    when the mean is zero.
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    delta = current - summary.mean
    change = delta / summary.mean if summary.mean > 0 else None
    # With a zero mean any increase is an infinite change; any decrease is impossible.
    ratio = change if change is not None else (math.inf if delta > 0 else 0.0)
    above = current > summary.high
    below = current < summary.low
    material = abs(delta) >= min_delta
    status = Status.OK
    if material and above and ratio >= threshold:
        status = Status.ERROR
    elif material and ratio >= threshold / 2 and (above or ratio >= threshold):
        status = Status.WARNING
    improved = material and ratio <= -threshold and (below or summary.low <= 0)
    return Judgement(status, improved, change, above, below)


@dataclass(frozen=True)
class BaselineStats:
    """A stored baseline summarised: its samples' statistics and its age."""

    baseline_id: int | None
    query_key: str
    name: str | None
    query: str
    metric: Metric
    summary: stats.Summary
    created_at: float
    updated_at: float
    age_seconds: float
    stale: bool
    superseded_at: float | None = None
    plan: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The query's name when it has one, else its key."""
        return self.name or self.query_key

    def to_dict(self) -> dict[str, Any]:
        """The baseline as a JSON-ready dict."""
        s = self.summary
        return {
            "id": self.baseline_id,
            "key": self.query_key,
            "name": self.name,
            "query": self.query,
            "metric": self.metric.value,
            "samples": s.count,
            "mean": round(s.mean, 4),
            "stddev": round(s.stddev, 4),
            "low": round(s.low, 4),
            "high": round(s.high, 4),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "age_days": round(self.age_seconds / 86400, 3),
            "stale": self.stale,
            "superseded_at": self.superseded_at,
            "plan": list(self.plan),
        }


def summarize_baseline(baseline: QueryBaseline, *, now: float, stale_after: float) -> BaselineStats:
    """The statistics of a stored baseline (which has at least one sample)."""
    values = [sample.value for sample in baseline.samples]
    last_plan = baseline.samples[-1].plan if baseline.samples else {}
    age = max(now - baseline.updated_at, 0.0)
    return BaselineStats(
        baseline_id=baseline.id,
        query_key=baseline.query_key,
        name=baseline.name,
        query=baseline.query,
        metric=Metric(baseline.metric),
        summary=stats.summarize(values),
        created_at=baseline.created_at,
        updated_at=baseline.updated_at,
        age_seconds=age,
        stale=age > stale_after,
        superseded_at=baseline.superseded_at,
        plan=tuple(str(node) for node in last_plan.get("nodes", ())),
    )


@dataclass(frozen=True)
class Verdict:
    """One query checked against its baseline.

    ``status`` is the judgement's, raised by any extra rule that did not hold (``rules``).
    ``current`` is None when the query is broken (see :attr:`Judgement.broken`).
    """

    query: Query
    baseline: BaselineStats
    current: float | None
    judgement: Judgement
    plan: tuple[str, ...] = ()
    message: str = ""
    status: Status = Status.OK
    rules: tuple[RuleResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The verdict as a JSON-ready dict."""
        j = self.judgement
        return {
            "key": self.query.key,
            "name": self.query.name,
            "status": self.status.value,
            "improved": j.improved,
            "broken": j.broken,
            "stale": self.baseline.stale,
            "metric": self.baseline.metric.value,
            "current": None if self.current is None else round(self.current, 4),
            "change": None if j.change is None else round(j.change, 4),
            "change_pct": None if j.change is None else round(j.change * 100, 1),
            "baseline": self.baseline.to_dict(),
            "plan": list(self.plan),
            "plan_changed": bool(self.plan) and self.plan != self.baseline.plan,
            "message": self.message,
            "rules": [r.to_dict() for r in self.rules],
        }


@dataclass
class CheckReport:
    """A regression check: the verdicts, and the queries without baseline or that failed.

    ``verdicts`` include the broken queries (ERROR); ``failed`` holds only the queries that
    failed without a baseline to be judged against.
    """

    database: str
    checked_at: float
    threshold: float
    profile: ProfileReport
    verdicts: list[Verdict] = field(default_factory=list)
    missing: list[Query] = field(default_factory=list)
    failed: list[QueryProfile] = field(default_factory=list)

    @property
    def regressions(self) -> list[Verdict]:
        """The verdicts that are WARNING or ERROR, worst first."""
        found = [v for v in self.verdicts if v.status is not Status.OK]
        return sorted(found, key=lambda v: -v.status.rank)

    @property
    def broken(self) -> list[Verdict]:
        """The queries that ran when their baseline was recorded and now fail."""
        return [v for v in self.verdicts if v.judgement.broken is not None]

    @property
    def improvements(self) -> list[Verdict]:
        """The queries that got faster by the threshold or more."""
        return [v for v in self.verdicts if v.judgement.improved]

    @property
    def stale(self) -> list[BaselineStats]:
        """The stale baselines the check used."""
        return [v.baseline for v in self.verdicts if v.baseline.stale]

    @property
    def status(self) -> Status:
        """The worst status of the check; a failed query without baseline counts as a WARNING."""
        return worst([v.status for v in self.verdicts] + [Status.WARNING] * bool(self.failed))

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "database": self.database,
            "checked_at": self.checked_at,
            "threshold": self.threshold,
            "status": self.status.value,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "regressions": [v.query.key for v in self.regressions],
            "broken": [v.query.key for v in self.broken],
            "improvements": [v.to_dict() for v in self.improvements],
            "stale": [b.to_dict() for b in self.stale],
            "missing": [q.to_dict() for q in self.missing],
            "failed": [p.to_dict() for p in self.failed],
            "sampling": self.profile.sampling.to_dict(),
            "overhead": self.profile.overhead.to_dict(),
        }


def _fmt(value: float, metric: Metric) -> str:
    if metric is Metric.EXECUTION_MS:
        return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"
    return f"cost {value:.2f}"


def describe(query: Query, baseline: BaselineStats, current: float | None, j: Judgement) -> str:
    """A one-line account of a verdict, with the numbers it rests on."""
    s = baseline.summary
    metric = baseline.metric
    if j.broken is not None or current is None:
        return (
            f"{query.label}: broken: {j.broken} ({query.source}:{query.line}); it ran when "
            f"the baseline was recorded (mean {_fmt(s.mean, metric)}, {s.count} samples)"
        )
    change = "n/a" if j.change is None else f"{j.change * 100:+.1f}%"
    where = "above" if j.above else "below" if j.below else "within"
    text = (
        f"{query.label}: {_fmt(current, metric)} vs baseline {_fmt(s.mean, metric)} "
        f"(95% interval {_fmt(s.low, metric)} .. {_fmt(s.high, metric)}, {s.count} samples), "
        f"{change}, {where} the interval"
    )
    if baseline.stale:
        text += f"; baseline stale ({baseline.age_seconds / 86400:.0f} days old)"
    return text


class BaselineManager:
    """Baselines of one database in a store: record, look up, show, check.

    ``database`` names the database the baselines belong to (plimsoll uses the environment
    name). Lookups and checks are timed for plimsoll's own objectives and the timings written
    to the store with the results.

    ``rules`` are extra conditions in plimsoll's condition language (:mod:`plimsoll.core.rules`)
    each verdict must meet, over the metrics of :func:`verdict_metrics` (``change_pct <= 50``,
    ``plan_changed == false``...): one that does not hold raises the verdict to its severity
    (``warning``, else ERROR; ``info`` only adds its message).
    """

    def __init__(
        self,
        store: Store,
        database: str,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        stale_after: float = STALE_AFTER_SECONDS,
        min_delta_ms: float = DEFAULT_MIN_DELTA_MS,
        clock: Callable[[], float] = time.time,
        rules: Sequence[RuleSpec] = (),
    ) -> None:
        if threshold <= 0:
            raise ValueError(f"threshold must be positive, got {threshold}")
        self.store = store
        self.database = database
        self.threshold = threshold
        self.stale_after = stale_after
        self.min_delta_ms = min_delta_ms
        self.clock = clock
        self.rules = tuple(rules)
        self.timings = TimingRecorder(clock=clock)

    def record(self, report: ProfileReport, *, append: bool = False) -> list[BaselineStats]:
        """Store each profiled query's samples as its baseline; return the baselines."""
        now = self.clock()
        recorded: list[BaselineStats] = []
        for profile in report.profiles:
            if not profile.measurements:
                continue
            query = profile.query
            samples = [
                QuerySample(
                    recorded_at=now,
                    value=m.value,
                    execution_ms=m.execution_ms,
                    planning_ms=m.planning_ms,
                    total_cost=m.total_cost,
                    rows=m.actual_rows if m.analyzed else m.plan_rows,
                    shared_hit=m.shared_hit,
                    shared_read=m.shared_read,
                    plan=m.plan_summary(),
                )
                for m in profile.measurements
            ]
            stored = self.store.baseline_record(
                QueryBaseline(
                    database=self.database,
                    query_key=query.key,
                    query=query.text,
                    metric=profile.metric.value,
                    created_at=now,
                    updated_at=now,
                    name=query.name,
                ),
                samples,
                append=append,
            )
            recorded.append(self._summarize(stored, now))
        return recorded

    def _summarize(self, baseline: QueryBaseline, now: float) -> BaselineStats:
        return summarize_baseline(baseline, now=now, stale_after=self.stale_after)

    def _lookup(self, key: str, now: float) -> BaselineStats | None:
        with self.timings.time(Operation.BASELINE_LOOKUP):
            found = self.store.baseline_get(self.database, key)
            return self._summarize(found, now) if found and found.samples else None

    def lookup(self, key: str) -> BaselineStats | None:
        """The current baseline of the query with ``key``, or None (the lookup is timed)."""
        try:
            return self._lookup(key, self.clock())
        finally:
            self.timings.flush(self.store)

    def show(self, key: str | None = None) -> list[BaselineStats]:
        """The current baselines (of one query when ``key`` is given), by key."""
        now = self.clock()
        found = self.store.baselines(self.database, query_key=key)
        return [self._summarize(b, now) for b in found if b.samples]

    def history(self, key: str) -> tuple[list[BaselineStats], list[BaselineCheck]]:
        """A query's baselines, current then superseded, and its past verdicts, newest first."""
        now = self.clock()
        baselines = self.store.baselines(self.database, query_key=key, include_superseded=True)
        summaries = [self._summarize(b, now) for b in baselines if b.samples]
        return summaries, self.store.baseline_checks(self.database, query_key=key)

    def check(self, report: ProfileReport, *, keep: bool = True) -> CheckReport:
        """Judge each profiled query against its baseline; keep the verdicts unless told not."""
        now = self.clock()
        result = CheckReport(self.database, now, self.threshold, report)
        for profile in report.profiles:
            with self.timings.time(Operation.REGRESSION_CHECK):
                verdict = self._verdict(profile, now)
            if verdict is not None:
                result.verdicts.append(verdict)
            elif not profile.measurements:
                result.failed.append(profile)
            else:
                result.missing.append(profile.query)
        if keep:
            self.store.baseline_checks_add([self._record(v, now) for v in result.verdicts])
        self.timings.flush(self.store)
        return result

    def _verdict(self, profile: QueryProfile, now: float) -> Verdict | None:
        baseline = self._lookup(profile.query.key, now)
        if baseline is None:
            return None
        current = profile.median
        if current is None:
            if profile.server_error is None:
                return None
            # It ran when the baseline was recorded (a baseline holds samples) and fails now.
            judged = broken(profile.server_error)
            message = describe(profile.query, baseline, None, judged)
            return Verdict(profile.query, baseline, None, judged, (), message, judged.status)
        if baseline.metric is not profile.metric:
            # A time cannot be compared with a cost: the query is as good as unbaselined.
            return None
        floor = self.min_delta_ms if baseline.metric is Metric.EXECUTION_MS else 0.0
        judgement = judge(baseline.summary, current, threshold=self.threshold, min_delta=floor)
        plan = profile.measurements[-1].nodes
        message = describe(profile.query, baseline, current, judgement)
        if plan and baseline.plan and plan != baseline.plan:
            message += f"; plan was {' > '.join(baseline.plan)}, now {' > '.join(plan)}"
        verdict = Verdict(
            profile.query, baseline, current, judgement, plan, message, judgement.status
        )
        return apply_rules(verdict, self.rules) if self.rules else verdict

    def _record(self, verdict: Verdict, now: float) -> BaselineCheck:
        s = verdict.baseline.summary
        return BaselineCheck(
            database=self.database,
            query_key=verdict.query.key,
            checked_at=now,
            status=verdict.status.value,
            metric=verdict.baseline.metric.value,
            # The store's column holds a number: a broken query never finishes, so its time
            # is kept as infinity (read back by :func:`stored_current`), its error in message.
            current=math.inf if verdict.current is None else verdict.current,
            baseline_id=verdict.baseline.baseline_id,
            improved=verdict.judgement.improved,
            stale=verdict.baseline.stale,
            mean=s.mean,
            stddev=s.stddev,
            low=s.low,
            high=s.high,
            samples=s.count,
            change=verdict.judgement.change,
            message=verdict.message,
        )


def stored_current(check: BaselineCheck) -> float | None:
    """A stored check's current value, None for a broken query (stored as infinity)."""
    return None if math.isinf(check.current) else check.current


def verdict_metrics(verdict: Verdict) -> dict[str, Any]:
    """The metrics a verdict exposes to extra rules (times in the baseline's metric)."""
    s, j = verdict.baseline.summary, verdict.judgement
    return {
        "query": verdict.query.key,
        "current": verdict.current,
        "mean": s.mean,
        "stddev": s.stddev,
        "low": s.low,
        "high": s.high,
        "samples": s.count,
        "change": j.change,
        "change_pct": None if j.change is None else j.change * 100,
        "age_days": verdict.baseline.age_seconds / 86400,
        "stale": verdict.baseline.stale,
        "improved": j.improved,
        "broken": j.broken is not None,
        "plan_changed": bool(verdict.plan) and verdict.plan != verdict.baseline.plan,
        "status": j.status.value,
    }


_RAISES_TO = {Severity.WARNING: Status.WARNING, Severity.ERROR: Status.ERROR}


def apply_rules(verdict: Verdict, rules: Sequence[RuleSpec]) -> Verdict:
    """The verdict with ``rules`` evaluated on its metrics, its status raised by those violated.

    A broken verdict is returned as it is: it is an ERROR already, and has no value to test.
    """
    if verdict.judgement.broken is not None:
        return verdict
    metrics = verdict_metrics(verdict)
    results = tuple(evaluate(rule, metrics) for rule in rules)
    status = verdict.status
    notes = []
    for result in results:
        if result.passed is None:
            notes.append(f"rule {result.label} not evaluated: {result.message}")
        elif not result.passed:
            raised = _RAISES_TO.get(result.severity, Status.ERROR)
            if result.severity is not Severity.INFO and raised.rank > status.rank:
                status = raised
            notes.append(f"rule {result.label}: {result.message}")
    message = "; ".join([verdict.message, *notes])
    return replace(verdict, status=status, rules=results, message=message)


def compare_profiles(
    before: ProfileReport,
    after: ProfileReport,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_delta_ms: float = DEFAULT_MIN_DELTA_MS,
) -> list[tuple[QueryProfile, QueryProfile, Judgement]]:
    """Each query measured before, its after-median judged against its before-samples.

    A query measured before that fails after is broken (an ERROR, see :func:`broken`); a
    query that failed before is not compared.
    """
    pairs: list[tuple[QueryProfile, QueryProfile, Judgement]] = []
    for old in before.profiles:
        new = after.get(old.query.key)
        if new is None or not old.measurements:
            continue
        if new.server_error is not None:
            pairs.append((old, new, broken(new.server_error)))
            continue
        if new.median is None:
            continue
        if old.metric is not new.metric:
            continue
        floor = min_delta_ms if old.metric is Metric.EXECUTION_MS else 0.0
        summary = stats.summarize(old.values)
        pairs.append((old, new, judge(summary, new.median, threshold=threshold, min_delta=floor)))
    return pairs


def worst(statuses: Sequence[Status]) -> Status:
    """The most serious of ``statuses`` (OK when there are none)."""
    return max(statuses, key=lambda s: s.rank, default=Status.OK)
