"""The statistics and the verdict rules, as pure functions."""

from __future__ import annotations

import math
import statistics

import pytest

from plimsoll.core.rules import Operator, RuleSpec, Severity
from plimsoll.db.profiling.baselines import (
    BaselineStats,
    Status,
    Verdict,
    apply_rules,
    broken,
    judge,
    verdict_metrics,
)
from plimsoll.db.profiling.explain import Metric
from plimsoll.db.profiling.profiler import Overhead
from plimsoll.db.profiling.queries import Query
from plimsoll.db.profiling.stats import Summary, percentile, sum_noise, summarize, t975

# Student's t 0.975 quantiles from published tables.
KNOWN_T = {1: 12.706, 4: 2.776, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980, 1000: 1.962}


@pytest.mark.parametrize(("degrees", "expected"), sorted(KNOWN_T.items()))
def test_t_quantiles_match_the_tables(degrees: int, expected: float) -> None:
    assert t975(degrees) == pytest.approx(expected, abs=6e-4)


def test_t_needs_a_degree_of_freedom() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        t975(0)


def test_summary_agrees_with_the_statistics_module() -> None:
    values = [10.2, 9.8, 10.5, 10.1, 9.9, 10.4]
    s = summarize(values)
    assert s.count == 6
    assert s.mean == pytest.approx(statistics.fmean(values))
    assert s.stddev == pytest.approx(statistics.stdev(values))
    half = 2.5706 * statistics.stdev(values) * math.sqrt(1 + 1 / 6)
    assert (s.low, s.high) == pytest.approx((s.mean - half, s.mean + half))


def test_summary_edge_cases() -> None:
    assert summarize([3.0]) == Summary(1, 3.0, 0.0, 3.0, 3.0)
    # A time is never negative, nor is the low end of its interval.
    assert summarize([0.01, 0.05, 0.02]).low == 0.0
    assert summarize([-1.0, 1.0]).low < 0
    with pytest.raises(ValueError, match="no samples"):
        summarize([])


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 99, 100])
def test_percentile_is_the_inclusive_definition(q: int) -> None:
    values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0]
    expected = (
        min(values)
        if q == 0
        else max(values)
        if q == 100
        else statistics.quantiles(values, n=100, method="inclusive")[q - 1]
    )
    assert percentile(values, q) == pytest.approx(expected)


BASE = Summary(count=5, mean=10.0, stddev=0.4, low=9.2, high=10.8)


@pytest.mark.parametrize(
    ("current", "status", "improved"),
    [
        (10.5, Status.OK, False),  # within the interval
        (13.0, Status.ERROR, False),  # above it and 30% slower
        (11.5, Status.WARNING, False),  # above it, 15% slower: at least half the threshold
        (10.9, Status.OK, False),  # above it but only 9% slower
        (7.0, Status.OK, True),  # below it and 30% faster: an improvement
        (8.5, Status.OK, False),  # below it but only 15% faster
    ],
)
def test_verdicts(current: float, status: Status, improved: bool) -> None:
    judged = judge(BASE, current, threshold=0.2)
    assert (judged.status, judged.improved) == (status, improved)
    assert judged.change == pytest.approx((current - 10.0) / 10.0)


def test_a_noisy_baseline_only_warns() -> None:
    noisy = Summary(count=5, mean=10.0, stddev=5.0, low=0.0, high=25.0)
    assert judge(noisy, 14.0, threshold=0.2).status is Status.WARNING


def test_an_interval_reaching_zero_leaves_the_improvement_to_the_change() -> None:
    # Five seq scans on a busy machine: one slow run widens the interval down to zero, and
    # no time is below zero. A query a hundred times faster is still an improvement.
    noisy = summarize([9.0, 9.5, 10.0, 9.2, 40.0])
    assert noisy.low == 0.0
    assert judge(noisy, 0.1, threshold=0.2).improved
    assert not judge(noisy, 14.0, threshold=0.2).improved  # faster, but not by 20%
    assert not judge(noisy, 0.1, threshold=0.2, min_delta=100.0).improved  # below the floor


def test_the_floor_hides_jitter_of_tiny_queries() -> None:
    tiny = Summary(count=5, mean=0.02, stddev=0.001, low=0.018, high=0.022)
    assert judge(tiny, 0.05, threshold=0.2, min_delta=0.1).status is Status.OK
    assert judge(tiny, 0.05, threshold=0.2).status is Status.ERROR
    assert judge(tiny, 5.0, threshold=0.2, min_delta=0.1).status is Status.ERROR


def test_a_zero_mean_and_a_bad_threshold() -> None:
    zero = Summary(count=3, mean=0.0, stddev=0.0, low=0.0, high=0.0)
    judged = judge(zero, 1.0, threshold=0.2)
    assert judged.change is None and judged.status is Status.ERROR
    with pytest.raises(ValueError, match="threshold"):
        judge(BASE, 1.0, threshold=0)


def _verdict(current: float, plan: tuple[str, ...]) -> Verdict:
    baseline = BaselineStats(
        baseline_id=1,
        query_key="q",
        name="q",
        query="SELECT 1",
        metric=Metric.EXECUTION_MS,
        summary=BASE,
        created_at=0.0,
        updated_at=0.0,
        age_seconds=86400.0,
        stale=False,
        plan=("Index Scan using i on t",),
    )
    judged = judge(BASE, current, threshold=0.2)
    return Verdict(Query("q", "SELECT 1", "q"), baseline, current, judged, plan, "m", judged.status)


def test_extra_rules_in_the_condition_language_raise_a_verdict() -> None:
    same_plan = ("Index Scan using i on t",)
    plan_rule = RuleSpec.model_validate(
        {"metric": "plan_changed", "op": "==", "value": False, "severity": "warning"}
    )
    pct_rule = RuleSpec(metric="change_pct", op=Operator.LE, value=5)
    quiet = apply_rules(_verdict(10.2, same_plan), [plan_rule, pct_rule])
    assert quiet.status is Status.OK and [r.passed for r in quiet.rules] == [True, True]
    seq = apply_rules(_verdict(10.2, ("Seq Scan on t",)), [plan_rule])
    assert seq.status is Status.WARNING and "rule plan_changed == false" in seq.message
    slower = apply_rules(_verdict(10.7, same_plan), [pct_rule, plan_rule])
    assert slower.status is Status.ERROR
    assert "change_pct is 7, expected <= 5" in slower.message
    info = RuleSpec(metric="change_pct", op=Operator.LE, value=1, severity=Severity.INFO)
    assert apply_rules(_verdict(10.2, same_plan), [info]).status is Status.OK
    missing = apply_rules(_verdict(10.2, same_plan), [RuleSpec(metric="nope", op=">", value=1)])
    assert missing.status is Status.OK and "not evaluated" in missing.message
    assert verdict_metrics(slower)["samples"] == 5


def test_the_noise_of_a_difference_is_welchs_half_width() -> None:
    timed = [10.2, 9.8, 10.5, 10.1, 9.9]
    untimed = [9.0, 9.6, 9.1, 9.3, 9.2, 9.4, 9.0]
    va = statistics.variance(timed) / 5
    vb = statistics.variance(untimed) / 7
    degrees = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 6)
    assert math.floor(degrees) == 7  # 7.5, rounded down: the wider interval
    # 2.365: Student's t 0.975 quantile for 7 degrees of freedom, from published tables.
    assert sum_noise([timed, untimed]) == pytest.approx(2.365 * math.sqrt(va + vb), rel=1e-3)
    # A sum of several differences: the variances add, the half-widths do not.
    both = sum_noise([timed, untimed, timed, untimed])
    assert both is not None and both < 2 * (sum_noise([timed, untimed]) or 0)
    assert sum_noise([[1.0, 1.0], [2.0, 2.0]]) == 0.0
    assert sum_noise([[1.0], [2.0, 3.0]]) is None and sum_noise([]) is None


def _overhead(ms: float | None, noise: float | None) -> Overhead:
    return Overhead(100.0, 50.0, 20.0, ms, 40.0, noise)


@pytest.mark.parametrize(
    ("ms", "noise", "within"),
    [
        (-31.094, 45.0, True),  # below zero: no instrument makes a query faster
        (-0.5, None, True),  # below zero, even with one run and no noise measured
        (3.0, 4.0, True),  # positive, but chance moves it that far
        (5.0, 4.0, False),  # beyond the noise: a measured overhead
        (5.0, None, False),  # one run: positive, but the noise is unknown
        (None, None, False),  # not measured at all
    ],
)
def test_an_overhead_within_its_noise_is_no_overhead(
    ms: float | None, noise: float | None, within: bool
) -> None:
    overhead = _overhead(ms, noise)
    assert overhead.instrumentation_within_noise is within
    assert overhead.to_dict()["instrumentation_within_noise"] is within


def test_a_broken_verdict_is_an_error_no_rule_changes() -> None:
    judged = broken('column "note" does not exist')
    assert (judged.status, judged.change, judged.improved) == (Status.ERROR, None, False)
    baseline = _verdict(10.0, ()).baseline
    verdict = Verdict(Query("q", "SELECT 1", "q"), baseline, None, judged, (), "m", judged.status)
    rule = RuleSpec(metric="change_pct", op=Operator.LE, value=5, severity=Severity.INFO)
    assert apply_rules(verdict, [rule]) is verdict
    metrics = verdict_metrics(verdict)
    assert metrics["broken"] is True and metrics["current"] is None
    assert verdict.to_dict()["current"] is None
    assert verdict.to_dict()["broken"] == 'column "note" does not exist'
