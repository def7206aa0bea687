"""Tests of the rule language: paths, comparisons, durations, evaluation, validators, `for`."""

from __future__ import annotations

import operator
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from plimsoll.core import plugins, rules
from plimsoll.core.rules import (
    Action,
    ForTracker,
    HeldCondition,
    HoldState,
    IncomparableError,
    MetricMissing,
    Operator,
    Outcome,
    RuleSpec,
    Severity,
    compare,
    evaluate,
    parse_duration,
    resolve,
)

METRICS: dict[str, Any] = {
    "coverage": {"line_coverage": 72.5, "branch_coverage": 60},
    "complexity": {"ranks": {"A": 10, "F": 0}, "top_functions": [{"name": "f", "cc": 12}]},
    "stats": {"per_file": {"app.py": {"lines": 40}}},
    "mypy": {"ok": True, "status": "clean", "type_coverage": None},
}


def spec(**fields: Any) -> RuleSpec:
    return RuleSpec.model_validate(fields)


# --- resolve ----------------------------------------------------------------------------------


def test_resolve_nested_path() -> None:
    assert resolve(METRICS, "coverage.line_coverage") == 72.5
    assert resolve(METRICS, "complexity.ranks.F") == 0


def test_resolve_list_index() -> None:
    assert resolve(METRICS, "complexity.top_functions.0.cc") == 12


def test_resolve_key_containing_dots() -> None:
    assert resolve(METRICS, "stats.per_file.app.py.lines") == 40


def test_resolve_null_value_is_present() -> None:
    assert resolve(METRICS, "mypy.type_coverage") is None


@pytest.mark.parametrize(
    ("path", "at", "reason_part"),
    [
        ("coverage.nope", "coverage.nope", "no key 'nope'"),
        ("bandit.high", "bandit", "no key 'bandit'"),
        ("complexity.top_functions.5.cc", "complexity.top_functions.5", "out of range"),
        ("complexity.top_functions.x", "complexity.top_functions.x", "not a list index"),
        ("coverage.line_coverage.x", "coverage.line_coverage", "is a float"),
        ("coverage..x", "coverage..x", "empty segment"),
    ],
)
def test_resolve_missing(path: str, at: str, reason_part: str) -> None:
    missing = resolve(METRICS, path)
    assert isinstance(missing, MetricMissing)
    assert missing.path == path
    assert missing.at == at
    assert reason_part in missing.reason
    assert str(missing).startswith(f"metric {path} missing")


# --- compare ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "actual", "expected", "result"),
    [
        (">=", 80, 80, True),
        (">=", 79.999, 80, False),
        ("<=", 80, 80, True),
        ("<=", 80.001, 80, False),
        (">", 80, 80, False),
        (">", 80.001, 80, True),
        ("<", 80, 80, False),
        ("<", 79.999, 80, True),
        ("==", 80, 80.0, True),
        ("==", 80, 81, False),
        ("!=", 80, 80.0, False),
        ("!=", 80, 81, True),
        (">=", "90", 80, True),
        (">=", 90, "80", True),
        ("==", 0, -0.0, True),
    ],
)
def test_compare_numbers(op: str, actual: Any, expected: Any, result: bool) -> None:
    assert compare(op, actual, expected) is result


@pytest.mark.parametrize(
    ("op", "actual", "expected", "result"),
    [
        ("==", True, True, True),
        ("==", True, False, False),
        ("==", True, "true", True),
        ("!=", False, "true", True),
        ("==", True, 1, False),
        ("==", "clean", "clean", True),
        ("!=", "clean", "dirty", True),
        ("==", "1.0", "1", False),
        ("==", None, "x", False),
        ("==", "abc", 3, False),
    ],
)
def test_compare_equality_of_non_numbers(op: str, actual: Any, expected: Any, result: bool) -> None:
    assert compare(op, actual, expected) is result


@pytest.mark.parametrize(
    ("actual", "expected"), [("a", "b"), ("abc", 3), (None, 80), (True, 1), ([1], 2)]
)
def test_compare_ordering_non_numbers_is_an_error(actual: Any, expected: Any) -> None:
    with pytest.raises(IncomparableError, match="ordering needs numbers"):
        compare(Operator.GE, actual, expected)


_PY_OPS = {
    Operator.GE: operator.ge,
    Operator.LE: operator.le,
    Operator.EQ: operator.eq,
    Operator.NE: operator.ne,
    Operator.GT: operator.gt,
    Operator.LT: operator.lt,
}


@given(
    op=st.sampled_from(list(Operator)),
    a=st.floats(allow_nan=True, allow_infinity=True),
    b=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers()),
)
def test_compare_agrees_with_python_on_numbers(op: Operator, a: float, b: float) -> None:
    assert compare(op, a, b) is _PY_OPS[op](a, float(b))


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("2d", 172800),
        ("1w", 604800),
        ("1.5h", 5400),
        ("250ms", 0.25),
        ("1m30s500ms", 90.5),
        ("90", 90),
        (" 0 ", 0),
        ("5M", 300),
        (45, 45),
        (2.5, 2.5),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "m5", "30m1h", "5m5m", "-5m", -1, "1h 30", True, "nan"])
def test_parse_duration_rejects(text: Any) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_spec_rejects_bad_for_at_config_time() -> None:
    with pytest.raises(ValidationError, match="invalid duration"):
        spec(metric="a.b", op=">=", value=1, **{"for": "five minutes"})
    assert spec(metric="a.b", op=">=", value=1, **{"for": "5m"}).hold_seconds == 300


# --- evaluate ---------------------------------------------------------------------------------


def test_evaluate_pass_and_generated_message() -> None:
    result = evaluate(spec(metric="coverage.line_coverage", op=">=", value=70), METRICS)
    assert result.passed is True
    assert result.outcome is Outcome.PASSED
    assert result.actual == 72.5
    assert result.expected == 70
    assert result.message == "coverage.line_coverage is 72.5, expected >= 70"


def test_evaluate_fail_carries_severity_action_and_message() -> None:
    rule = spec(
        metric="coverage.line_coverage",
        op=">=",
        value=80,
        severity="warning",
        action="warn",
    )
    result = evaluate(rule, METRICS)
    assert result.passed is False
    assert result.violated
    assert result.message == "coverage.line_coverage is 72.5, expected >= 80"
    assert result.severity is Severity.WARNING
    assert result.action is Action.WARN


def test_evaluate_custom_message_with_placeholders_on_failure_only() -> None:
    rule = spec(
        metric="coverage.line_coverage",
        op=">=",
        value=80,
        message="coverage {actual} below {expected} {unknown}",
    )
    assert evaluate(rule, METRICS).message == "coverage 72.5 below 80 {unknown}"
    ok = evaluate(rule, {"coverage": {"line_coverage": 90}})
    assert ok.message == "coverage.line_coverage is 90, expected >= 80"


def test_evaluate_missing_metric_is_an_error_result() -> None:
    result = evaluate(spec(metric="bandit.high", op="==", value=0), METRICS)
    assert result.passed is None
    assert result.outcome is Outcome.ERROR
    assert result.message == "metric bandit.high missing (no key 'bandit' at bandit)"


@pytest.mark.parametrize("op", ["==", "!=", "<=", ">"])
def test_evaluate_a_group_of_metrics_is_an_error_whatever_the_operator(op: str) -> None:
    # Compared as a whole, a group failed `== 0` and passed `!= 0` forever.
    result = evaluate(spec(metric="complexity.ranks", op=op, value=0), METRICS)
    assert result.outcome is Outcome.ERROR and result.passed is None
    assert result.message == (
        "complexity.ranks is a group of metrics, not one value: name one of its keys "
        "(complexity.ranks.A, complexity.ranks.F)"
    )
    listed = evaluate(spec(metric="complexity.top_functions", op=op, value=0), METRICS)
    assert listed.outcome is Outcome.ERROR
    assert listed.message == "complexity.top_functions is a list of 1 item, not one value"


def test_evaluate_a_delta_on_a_group_is_an_error() -> None:
    rule = spec(metric="complexity.ranks", op="<=", value=0, delta=True)
    result = evaluate(rule, METRICS, METRICS)
    assert result.outcome is Outcome.ERROR
    assert "is a group of metrics" in result.message


def test_evaluate_ordering_on_text_is_an_error_result() -> None:
    result = evaluate(spec(metric="mypy.status", op=">", value=3), METRICS)
    assert result.passed is None
    assert result.outcome is Outcome.ERROR
    assert "cannot order 'clean' (str) > 3: ordering needs numbers" in result.message


def test_evaluate_equality_on_bool_and_text() -> None:
    assert evaluate(spec(metric="mypy.ok", op="==", value=True), METRICS).passed is True
    assert evaluate(spec(metric="mypy.status", op="!=", value="clean"), METRICS).passed is False


PREVIOUS = {"coverage": {"line_coverage": 75.0, "branch_coverage": 58}}


def test_delta_decrease_fails() -> None:
    rule = spec(metric="coverage.line_coverage", op=">=", value=-1, delta=True)
    result = evaluate(rule, METRICS, PREVIOUS)
    assert result.passed is False
    assert result.actual == -2.5
    assert (result.previous, result.current) == (75.0, 72.5)
    assert result.message == (
        "coverage.line_coverage changed by -2.5 (75 -> 72.5), expected change >= -1"
    )


def test_delta_increase_passes() -> None:
    rule = spec(metric="coverage.branch_coverage", op=">=", value=0, delta=True)
    result = evaluate(rule, METRICS, PREVIOUS)
    assert result.passed is True
    assert result.actual == 2
    assert "changed by +2 (58 -> 60)" in result.message


def test_delta_message_placeholders() -> None:
    rule = spec(
        metric="coverage.line_coverage",
        op=">=",
        value=0,
        delta=True,
        message="coverage went from {previous} to {current} ({delta})",
    )
    assert evaluate(rule, METRICS, PREVIOUS).message == "coverage went from 75 to 72.5 (-2.5)"


def test_delta_without_baseline_is_skipped() -> None:
    rule = spec(metric="coverage.line_coverage", op=">=", value=0, delta=True)
    result = evaluate(rule, METRICS, None)
    assert result.passed is None
    assert result.outcome is Outcome.SKIPPED
    assert "no baseline record" in result.message
    assert result.current == 72.5


def test_delta_metric_new_since_baseline_is_skipped() -> None:
    rule = spec(metric="complexity.ranks.A", op="<=", value=0, delta=True)
    result = evaluate(rule, METRICS, PREVIOUS)
    assert result.outcome is Outcome.SKIPPED
    assert "not in the baseline record" in result.message


def test_delta_on_non_numbers_is_an_error() -> None:
    rule = spec(metric="mypy.status", op="==", value=0, delta=True)
    result = evaluate(rule, METRICS, {"mypy": {"status": "dirty"}})
    assert result.outcome is Outcome.ERROR
    assert "a delta needs numbers" in result.message


def test_result_to_dict_is_json_ready() -> None:
    import json

    result = evaluate(spec(metric="coverage.line_coverage", op=">=", value=80), METRICS)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["outcome"] == "failed"
    assert data["spec"] == {
        "metric": "coverage.line_coverage",
        "op": ">=",
        "value": 80.0,
        "delta": False,
        "severity": "error",
        "action": "fail",
        "channels": [],
    }


def test_spec_validation() -> None:
    with pytest.raises(ValidationError, match="missing op, value"):
        spec(metric="a.b")
    with pytest.raises(ValidationError, match="import path"):
        spec(validator="not a path!")
    assert spec(validator="builtin_name").validator == "builtin_name"


# --- validators -------------------------------------------------------------------------------


@pytest.fixture
def validators_module(tmp_path: Path) -> Iterator[str]:
    """A real module on sys.path with validators of every shape."""
    name = f"plimsoll_test_validators_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            def coverage_not_lower(metrics, previous):
                now = metrics["coverage"]["line_coverage"]
                if previous is None:
                    return True, "no baseline"
                before = previous["coverage"]["line_coverage"]
                return now >= before, f"coverage {before} -> {now}"

            def at_least(metrics, previous, spec):
                now = metrics["coverage"]["line_coverage"]
                return now >= spec.value, f"coverage {now} vs {spec.value}"

            def explodes(metrics, previous):
                raise RuntimeError("boom\\nsecond line")

            def returns_bool(metrics, previous):
                return True

            def returns_wrong_tuple(metrics, previous):
                return ("yes", 1)

            def no_arguments():
                return True, "never called"

            class Checks:
                @staticmethod
                def always(metrics, previous):
                    return True, ""

            NOT_CALLABLE = 3
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield name
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


def test_validator_two_arguments(validators_module: str) -> None:
    rule = spec(validator=f"{validators_module}:coverage_not_lower")
    result = evaluate(rule, METRICS, PREVIOUS)
    assert result.passed is False
    assert result.message == "coverage 75.0 -> 72.5"
    assert evaluate(rule, METRICS, None).passed is True


def test_validator_receives_spec(validators_module: str) -> None:
    rule = spec(
        validator=f"{validators_module}:at_least", value=70, metric="coverage.line_coverage"
    )
    result = evaluate(rule, METRICS)
    assert result.passed is True
    assert result.message == "coverage 72.5 vs 70.0"
    assert result.actual == 72.5


def test_validator_dotted_attribute_and_default_message(validators_module: str) -> None:
    result = evaluate(spec(validator=f"{validators_module}:Checks.always"), METRICS)
    assert result.passed is True
    assert result.message == f"{validators_module}:Checks.always passed"


def test_validator_that_raises(validators_module: str) -> None:
    result = evaluate(spec(validator=f"{validators_module}:explodes"), METRICS)
    assert result.passed is None
    assert result.outcome is Outcome.ERROR
    assert result.message == f"validator '{validators_module}:explodes' raised RuntimeError: boom"


@pytest.mark.parametrize(
    ("function", "shape"),
    [("returns_bool", "returned bool"), ("returns_wrong_tuple", "returned tuple(str, int)")],
)
def test_validator_bad_return(validators_module: str, function: str, shape: str) -> None:
    result = evaluate(spec(validator=f"{validators_module}:{function}"), METRICS)
    assert result.passed is None
    assert shape in result.message
    assert "expected a (bool, str) tuple" in result.message


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        ("no_such_package_plimsoll.checks:fn", "could not be imported: ModuleNotFoundError"),
        ("{mod}:missing", "has no attribute 'missing'"),
        ("{mod}:NOT_CALLABLE", "is a int, not a function"),
        ("{mod}:no_arguments", "must accept (metrics, previous)"),
    ],
)
def test_validator_cannot_be_used(validators_module: str, ref: str, fragment: str) -> None:
    result = evaluate(spec(validator=ref.format(mod=validators_module)), METRICS)
    assert result.passed is None
    assert result.outcome is Outcome.ERROR
    assert fragment in result.message
    assert "\n" not in result.message


def test_validator_module_with_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "plimsoll_broken_validator.py").write_text("def f(:\n")
    sys.path.insert(0, str(tmp_path))
    try:
        result = evaluate(spec(validator="plimsoll_broken_validator:f"), METRICS)
    finally:
        sys.path.remove(str(tmp_path))
    assert result.outcome is Outcome.ERROR
    assert "could not be imported: SyntaxError" in result.message
    assert "\n" not in result.message


def test_validator_from_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_regressions(metrics: Any, previous: Any) -> tuple[bool, str]:
        return False, "regressed"

    found = plugins.Discovered(
        plugins.VALIDATORS,
        {"no-regressions": no_regressions},
        (plugins.LoadFailure(plugins.VALIDATORS, "broken", "x:y", "ImportError: nope"),),
    )
    monkeypatch.setattr(rules.plugins, "discover", lambda group: found)
    result = evaluate(spec(validator="no-regressions"), METRICS)
    assert (result.passed, result.message) == (False, "regressed")
    broken = evaluate(spec(validator="broken"), METRICS)
    assert broken.message == "validator 'broken' failed to load: ImportError: nope"
    unknown = evaluate(spec(validator="unknown"), METRICS)
    assert "no validator named 'unknown'" in unknown.message


# --- ForTracker -------------------------------------------------------------------------------


def test_for_tracker_pending_then_firing_then_resolved() -> None:
    tracker = ForTracker()
    assert tracker.observe("r", 0, False, 300).state is HoldState.PENDING
    assert tracker.observe("r", 299, False, 300).state is HoldState.PENDING
    firing = tracker.observe("r", 300, False, 300)
    assert firing.firing
    assert firing.since == 0
    assert firing.held_seconds == 300
    resolved = tracker.observe("r", 301, True, 300)
    assert resolved.state is HoldState.INACTIVE
    assert resolved.held_seconds == 0
    assert tracker.observe("r", 400, False, 300).since == 400


def test_for_tracker_zero_hold_fires_at_once() -> None:
    assert ForTracker().observe("r", 10, False, 0).firing


def test_for_tracker_unknown_keeps_state_without_promoting() -> None:
    tracker = ForTracker()
    tracker.observe("r", 0, False, 60)
    held = tracker.observe("r", 120, None, 60)
    assert held.state is HoldState.PENDING
    assert held.since == 0
    assert tracker.observe("r", 121, False, 60).firing


def test_for_tracker_keys_are_independent_and_resumable() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    tracker = ForTracker()
    tracker.observe("a", start, False, 60)
    tracker.observe("b", start, True, 60)
    resumed = ForTracker.resume(tracker.states.values())
    assert resumed.observe("a", start + timedelta(minutes=1), False, 60).firing
    assert resumed.get("b").state is HoldState.INACTIVE
    assert resumed.get("never").state is HoldState.INACTIVE
    resumed.forget("a")
    assert "a" not in resumed.states


def test_for_tracker_rejects_time_going_backwards() -> None:
    tracker = ForTracker()
    tracker.observe("r", 100, False, 60)
    with pytest.raises(ValueError, match="earlier than the last one"):
        tracker.observe("r", 99, False, 60)


def test_for_tracker_from_results_uses_rule_for() -> None:
    rule = spec(name="low-coverage", metric="coverage.line_coverage", op=">=", value=80)
    held = spec(metric="coverage.line_coverage", op=">=", value=80, **{"for": "1m"})
    tracker = ForTracker()
    assert tracker.observe_result(evaluate(rule, METRICS), 0).firing
    assert tracker.observe_result(evaluate(held, METRICS), 0).state is HoldState.PENDING
    assert tracker.observe_result(evaluate(held, METRICS), 60).firing
    assert set(tracker.states) == {"low-coverage", rules.rule_key(held)}


def test_held_condition_is_frozen_value() -> None:
    condition = HeldCondition("r")
    assert condition.step(5, False, 10) == HeldCondition("r", HoldState.PENDING, 5, 5, 10)
    assert condition.state is HoldState.INACTIVE
