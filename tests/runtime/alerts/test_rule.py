"""AlertRule: validation, observed values (threshold, aggregates, rate, absent), the condition."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from plimsoll.runtime.alerts.rule import (
    AlertRule,
    evaluate_rule,
    observed_value,
    render_resolved,
    render_summary,
)
from plimsoll.runtime.alerts.samples import MemorySamples, Series

NOW = 1000.0


def rule(**fields: object) -> AlertRule:
    data: dict[str, object] = {"name": "R", "metric": "m", "op": ">", "value": 5}
    data.update(fields)
    return AlertRule.model_validate(data)


def one(points: list[tuple[float, float]], labels: tuple[tuple[str, str], ...] = ()) -> Series:
    return Series("m", labels, tuple(points))


def test_threshold_uses_the_last_point_in_the_window() -> None:
    r = rule(window="1m")
    assert observed_value(r, one([(900, 9), (950, 7), (990, 3)]), NOW) == 3
    # Data older than the window is stale: no value, the condition is not evaluated.
    assert observed_value(r, one([(900, 9)]), NOW) is None


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [("avg", 4.0), ("min", 1.0), ("max", 7.0), ("sum", 12.0), ("count", 3.0)],
)
def test_aggregates(aggregate: str, expected: float) -> None:
    r = rule(aggregate=aggregate, window="5m")
    assert observed_value(r, one([(800, 1), (900, 7), (950, 4)]), NOW) == expected


def test_rate_counts_resets_like_prometheus() -> None:
    r = rule(function="rate", window="10m")
    # 10 -> 30 (+20), reset to 5 (+5), 5 -> 15 (+10): 35 over 300 s.
    points = [(700, 10), (800, 30), (900, 5), (1000, 15)]
    assert observed_value(r, one(points), NOW) == pytest.approx(35 / 300)
    assert observed_value(r, one([(990, 1)]), NOW) is None  # one point has no rate


def test_absent_fires_on_no_data_and_not_otherwise() -> None:
    r = AlertRule.model_validate(
        {"name": "Gone", "metric": "m", "function": "absent", "window": "1m",
         "matchers": ["job=api"]}
    )  # fmt: skip
    [obs] = evaluate_rule(r, [one([(990, 1)], (("job", "worker"),))], NOW)
    assert obs.holds is True and obs.labels == (("job", "api"),)
    assert "no m samples" in obs.message
    [obs] = evaluate_rule(r, [one([(990, 1)], (("job", "api"),))], NOW)
    assert obs.holds is False


def test_condition_and_summary_per_series() -> None:
    r = rule(summary="m is {value} on {host} (limit {threshold})")
    data = MemorySamples()
    data.add("m", 990, 9, {"host": "a"})
    data.add("m", 990, 2, {"host": "b"})
    found = evaluate_rule(r, data.series(["m"], 0, NOW)["m"], NOW)
    by_host = {dict(o.labels)["host"]: o for o in found}
    assert by_host["a"].holds is True and by_host["a"].message == "m is 9 on a (limit 5)"
    assert by_host["b"].holds is False


def test_matchers_select_series() -> None:
    r = rule(matchers=["host=~a|c", "env!=dev"])
    series = [
        one([(990, 9)], (("env", "prod"), ("host", "a"))),
        one([(990, 9)], (("env", "dev"), ("host", "c"))),
        one([(990, 9)], (("env", "prod"), ("host", "b"))),
    ]
    assert [dict(o.labels)["host"] for o in evaluate_rule(r, series, NOW)] == ["a"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"op": None}, "needs op and value"),
        ({"function": "absent"}, "takes no op or value"),
        ({"window": "5x"}, "invalid duration"),
        ({"for": "-1"}, "non-negative"),
        ({"matchers": ["host~a"]}, "invalid matcher"),
        ({"labels": {"severity": "x"}}, "set by plimsoll"),
        ({"name": "bad name"}, "pattern"),
    ],
)
def test_bad_rules_are_rejected(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**fields)


def test_the_condition_is_a_core_rulespec() -> None:
    r = rule(**{"for": "2m"}, severity="critical")
    assert r.spec.metric == "m" and r.spec.op.value == ">" and r.spec.value == 5
    assert r.hold_seconds == 120 and r.spec.severity.value == "critical"


def test_a_resolve_says_the_value_now_against_the_condition_that_fired() -> None:
    """Issue 6, review item 7: resolves read "queue_depth is 0, expected > 10", backwards."""
    bare = AlertRule.model_validate({"name": "Q", "metric": "queue_depth", "op": ">", "value": 10})
    assert render_summary(bare, {}, 50) == "queue_depth is 50 (> 10)"
    assert render_resolved(bare, {}, 0) == "queue_depth is 0 (no longer > 10)"
    # The rule's own words, with the value now and the label of the series.
    worded = bare.model_copy(update={"summary": "queue {queue} holds {value} jobs"})
    assert render_resolved(worded, {"queue": "pdf"}, 3) == "queue pdf holds 3 jobs (no longer > 10)"
    # Or a resolve text of its own.
    own = worded.model_copy(update={"resolved_summary": "queue {queue} drained to {value}"})
    assert render_resolved(own, {"queue": "pdf"}, 0) == "queue pdf drained to 0"
    absent = AlertRule.model_validate(
        {"name": "Gone", "metric": "heartbeat", "function": "absent", "window": "5m"}
    )
    assert render_summary(absent, {}, 0) == "no heartbeat samples in the last 5m"
    assert render_resolved(absent, {}, 4) == "heartbeat samples are back (4 in the last 5m)"
    with pytest.raises(ValidationError, match="resolved_summry"):
        AlertRule.model_validate({**bare.model_dump(by_alias=True), "resolved_summry": "x"})
