"""The line every message about a failed gate carries: the rules that failed it."""

from __future__ import annotations

from plimsoll.code.delivery import deciding_rules, gate_line
from plimsoll.code.thresholds import evaluate_thresholds
from plimsoll.core.rules import RuleSpec

METRICS = {"stats": {"loc": 10}}


def _rule(value: int, action: str = "fail") -> RuleSpec:
    fields = {"metric": "stats.loc", "op": "<=", "value": value, "action": action}
    return RuleSpec.model_validate({**fields, "name": f"{action} at {value}"})


def test_a_gate_that_holds_has_no_line() -> None:
    report = evaluate_thresholds([_rule(100), _rule(1, "warn")], METRICS)
    assert report.ok and gate_line(report) is None and deciding_rules(report) == []


def test_the_line_names_the_failed_fail_rules_only_and_counts_past_five() -> None:
    specs = [_rule(1, "warn"), *(_rule(n) for n in range(7))]
    report = evaluate_thresholds(specs, METRICS)
    deciding = deciding_rules(report)
    assert [r.spec for r in deciding] == specs[1:]
    line = gate_line(report)
    assert line is not None
    assert line.startswith(f"**gate failed because:** `{specs[1].label}` ({deciding[0].message}); ")
    assert line.endswith("; and 2 more")
    assert specs[0].label not in line.split("`")[1::2]  # the warn rule decides nothing
    assert line.count("`") == 10
