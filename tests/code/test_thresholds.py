"""Tests of code thresholds: counts, exit codes, deliveries, collector errors, renderers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from plimsoll.code.thresholds import (
    crossed_heading,
    evaluate_thresholds,
    render_markdown,
    render_notification,
    render_text,
    status,
    to_json,
)
from plimsoll.core.rules import Outcome, RuleSpec

CURRENT: dict[str, Any] = {
    "coverage": {"line_coverage": 72.5},
    "complexity": {"average": 3.25, "max": 14},
    "pylint": {"score": 9.1},
}
PREVIOUS: dict[str, Any] = {"coverage": {"line_coverage": 75.0}}


def rule(metric: str, op: str, value: Any, action: str = "fail", **extra: Any) -> RuleSpec:
    return RuleSpec.model_validate(
        {"metric": metric, "op": op, "value": value, "action": action, **extra}
    )


@pytest.mark.parametrize(
    ("action", "exit_code", "failed", "warned"),
    [("fail", 1, 1, 0), ("warn", 0, 0, 1), ("notify", 0, 0, 1), ("comment", 0, 0, 1)],
)
def test_exit_code_per_action_on_violation(
    action: str, exit_code: int, failed: int, warned: int
) -> None:
    report = evaluate_thresholds([rule("coverage.line_coverage", ">=", 80, action)], CURRENT, None)
    assert report.exit_code == exit_code
    assert (report.failed, report.warned, report.passed) == (failed, warned, 0)


@pytest.mark.parametrize(("action", "exit_code"), [("fail", 1), ("warn", 0), ("notify", 0)])
def test_exit_code_per_action_on_error(action: str, exit_code: int) -> None:
    report = evaluate_thresholds([rule("bandit.total", "==", 0, action)], CURRENT, None)
    assert report.errored == 1
    assert report.exit_code == exit_code


def test_all_passing_exits_zero() -> None:
    report = evaluate_thresholds(
        [rule("coverage.line_coverage", ">=", 70), rule("complexity.max", "<=", 15)], CURRENT
    )
    assert report.ok
    assert report.exit_code == 0
    assert report.passed == 2
    assert report.violations == ()


def test_missing_baseline_skips_without_failing() -> None:
    report = evaluate_thresholds(
        [rule("coverage.line_coverage", ">=", 0, delta=True)], CURRENT, None
    )
    assert report.skipped == 1
    assert report.exit_code == 0
    assert report.results[0].outcome is Outcome.SKIPPED


def test_delta_regression_fails() -> None:
    report = evaluate_thresholds(
        [rule("coverage.line_coverage", ">=", -1, delta=True)], CURRENT, PREVIOUS
    )
    assert report.exit_code == 1
    assert report.results[0].actual == -2.5


def test_notify_and_comment_are_collected_not_delivered() -> None:
    specs = [
        rule("coverage.line_coverage", ">=", 80, "notify", channels=["slack"]),
        rule("coverage.line_coverage", ">=", 70, "notify"),
        rule("pylint.score", ">=", 9.5, "comment"),
        rule("bandit.total", "==", 0, "notify"),
        rule("complexity.max", "<=", 10, "warn"),
    ]
    report = evaluate_thresholds(specs, CURRENT)
    assert [r.spec for r in report.to_notify] == [specs[0], specs[3]]
    assert report.to_notify[0].spec.channels == ["slack"]
    assert [r.spec for r in report.to_comment] == [specs[2]]
    assert report.exit_code == 0


def test_missing_metric_of_failed_collector_names_the_collector() -> None:
    report = evaluate_thresholds(
        [rule("bandit.total", "==", 0), rule("bandit.loc", "==", 0, "warn")],
        CURRENT,
        collector_errors={"bandit": "bandit: command not found\nTraceback (most recent call)"},
    )
    assert report.exit_code == 1
    assert report.results[0].message == (
        "metric bandit.total missing (collector bandit failed: bandit: command not found)"
    )
    assert report.results[1].outcome is Outcome.ERROR
    assert status(report.results[1]) == "error"


def test_collector_error_does_not_touch_present_metrics() -> None:
    report = evaluate_thresholds(
        [rule("coverage.line_coverage", ">=", 70)],
        CURRENT,
        collector_errors={"coverage": "partial failure"},
    )
    assert report.passed == 1


def test_missing_metric_without_collector_error() -> None:
    report = evaluate_thresholds(
        [rule("coverage.branch_coverage", ">=", 1)], CURRENT, collector_errors={}
    )
    assert report.results[0].message.startswith("metric coverage.branch_coverage missing (no key")


def _mixed_report() -> Any:
    return evaluate_thresholds(
        [
            rule("coverage.line_coverage", ">=", 70),
            rule("coverage.line_coverage", ">=", -1, delta=True),
            rule("complexity.average", "<=", 3, "warn", message="avg | too high: {actual}"),
            rule("bandit.total", "==", 0),
            rule("pylint.score", ">=", 9, delta=True, name="pylint-no-drop"),
        ],
        CURRENT,
        PREVIOUS,
        collector_errors={"bandit": "timed out after 600s"},
    )


GOLDEN_MARKDOWN = """\
### ❌ thresholds failed

1 passed, 1 failed, 1 warned, 1 errored, 1 skipped

| | Rule | Actual | Expected | Action | Message |
|---|---|---|---|---|---|
| ✅ | `coverage.line_coverage >= 70` | 72.5 | >= 70 | fail | coverage.line_coverage is 72.5, expected >= 70 |
| ❌ | `Δ coverage.line_coverage >= -1` | -2.5 (75 → 72.5) | Δ >= -1 | fail | coverage.line_coverage changed by -2.5 (75 -> 72.5), expected change >= -1 |
| ⚠️ | `complexity.average <= 3` | 3.25 | <= 3 | warn | avg \\| too high: 3.25 |
| ❓ | `bandit.total == 0` | - | == 0 | fail | metric bandit.total missing (collector bandit failed: timed out after 600s) |
| ➖ | `pylint-no-drop` | 9.1 | Δ >= 9 | fail | pylint.score: not in the baseline record |
"""  # noqa: E501


def test_render_markdown_golden() -> None:
    assert render_markdown(_mixed_report()) == GOLDEN_MARKDOWN


def test_render_markdown_violations_only() -> None:
    text = render_markdown(_mixed_report(), violations_only=True)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "Rule" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| ❌", "| ⚠️", "| ❓"]


def test_errored_and_warned_rows_have_their_own_symbols() -> None:
    report = evaluate_thresholds(
        [rule("complexity.average", "<=", 1, "warn"), rule("bandit.total", "<=", 1, "notify")],
        CURRENT,
    )
    assert [status(r) for r in report.results] == ["warn", "error"]
    assert (report.warned, report.errored) == (1, 1)
    rows = [ln for ln in render_markdown(report).splitlines() if ln.startswith("| ") and "`" in ln]
    assert [row.split(" | ")[0] for row in rows] == ["| ⚠️", "| ❓"]


def test_violations_only_json_lists_only_violations() -> None:
    data = to_json(_mixed_report(), violations_only=True)
    assert [r["status"] for r in data["results"]] == ["fail", "warn", "error"]
    assert data["counts"]["passed"] == 1 and data["violations_only"] is True
    assert len(to_json(_mixed_report())["results"]) == 5


def test_a_validator_rule_shows_no_null_in_the_actual_column(tmp_path: Path) -> None:
    (tmp_path / "checks_mod.py").write_text(
        "def ok(metrics, spec):\n    return True, 'fine'\n", encoding="utf-8"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        spec = RuleSpec.model_validate({"validator": "checks_mod:ok", "name": "custom"})
        report = evaluate_thresholds([spec], CURRENT)
    finally:
        sys.path.remove(str(tmp_path))
    [row] = [ln for ln in render_markdown(report).splitlines() if "`custom`" in ln]
    assert row.split(" | ")[2] == "-" and "null" not in row


def test_a_notification_lists_only_its_own_results_under_a_matching_heading() -> None:
    report = evaluate_thresholds(
        [
            rule("complexity.average", "<=", 1, "notify"),
            rule("complexity.max", "<=", 1, "comment"),
            rule("coverage.line_coverage", ">=", 0),
        ],
        CURRENT,
    )
    assert report.ok  # a passed gate: the old body began "### ✅ thresholds passed"
    text = render_notification(report.to_notify, "abcdef1234")
    assert text.startswith("### ⚠️ 1 code threshold crossed at abcdef1\n")
    assert "complexity.average" in text
    assert "complexity.max" not in text and "coverage" not in text
    assert "passed" not in text
    assert crossed_heading(report.to_notify) == "1 code threshold crossed"
    broken = evaluate_thresholds([rule("bandit.total", "<=", 1, "notify")], CURRENT)
    assert crossed_heading(broken.to_notify) == "1 code threshold could not be checked"


def test_render_markdown_no_violations_and_no_rules() -> None:
    passing = evaluate_thresholds([rule("complexity.max", "<=", 20)], CURRENT)
    assert render_markdown(passing, violations_only=True) == (
        "### ✅ thresholds passed\n\n1 passed, 0 failed, 0 warned, 0 errored\n\nNo violations.\n"
    )
    assert "No thresholds configured." in render_markdown(evaluate_thresholds([], CURRENT))


def test_render_text() -> None:
    text = render_text(_mixed_report())
    lines = text.splitlines()
    assert lines[0] == (
        "PASS   coverage.line_coverage >= 70: coverage.line_coverage is 72.5, expected >= 70"
    )
    assert lines[2].startswith("WARN   complexity.average <= 3: avg | too high")
    assert lines[3].startswith("ERROR  bandit.total == 0: metric bandit.total missing")
    assert lines[4].startswith("SKIP   pylint-no-drop:")
    assert lines[-1] == "1 passed, 1 failed, 1 warned, 1 errored, 1 skipped"
    assert len(render_text(_mixed_report(), violations_only=True).splitlines()) == 4


def test_to_json_round_trips() -> None:
    data = json.loads(json.dumps(to_json(_mixed_report())))
    assert data["exit_code"] == 1
    assert data["ok"] is False
    assert data["counts"] == {"passed": 1, "failed": 1, "warned": 1, "errored": 1, "skipped": 1}
    assert [r["status"] for r in data["results"]] == ["pass", "fail", "warn", "error", "skip"]
    assert data["results"][1]["actual"] == -2.5
    assert data["results"][1]["previous"] == 75.0


# --- impossible rules are configuration errors ------------------------------------------------


def _load(tmp_path: Path, thresholds: str) -> Any:
    from plimsoll.core.config import load

    (tmp_path / "pyproject.toml").write_text(f"[tool.plimsoll.code]\nthresholds = {thresholds}\n")
    return load(start=tmp_path)


@pytest.mark.parametrize("op", [">=", "<=", ">", "<"])
def test_an_ordering_on_text_is_a_config_error(tmp_path: Path, op: str) -> None:
    from plimsoll.core.errors import ConfigError, ExitCode

    rules = (
        '[{metric = "pylint.score", op = ">=", value = 8}, '
        f'{{metric = "coverage.line_coverage", op = "{op}", value = "high"}}]'
    )
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, rules)
    assert "code.thresholds[1].value: " in str(info.value)
    assert "needs a number" in str(info.value)
    assert "high" not in str(info.value)  # values are never shown (one may be a secret)
    assert info.value.exit_code == ExitCode.USAGE == 2


def test_an_ordering_on_a_boolean_is_a_config_error(tmp_path: Path) -> None:
    from plimsoll.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"code\.thresholds\[0\]\.value: "):
        _load(tmp_path, '[{metric = "a.b", op = "<", value = true}]')


@pytest.mark.parametrize(
    "rules",
    [
        # ${VAR} interpolation yields text: a numeric string is a number.
        '[{metric = "coverage.line_coverage", op = ">=", value = "80.5"}]',
        '[{metric = "ruff.total", op = "<=", value = 0, delta = true}]',
        # Equality compares text and booleans as they are.
        '[{metric = "coverage.source", op = "==", value = "sqlite:.coverage"}]',
        '[{metric = "record.dirty", op = "!=", value = true}]',
        # A validator's value is its own parameter.
        '[{validator = "pkg.mod:check", op = ">=", value = "strict"}]',
    ],
)
def test_possible_rules_load(tmp_path: Path, rules: str) -> None:
    assert len(_load(tmp_path, rules).config.code.thresholds) == 1


def test_an_interpolated_number_compares_as_a_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIN_COVERAGE", "70")
    loaded = _load(
        tmp_path, '[{metric = "coverage.line_coverage", op = ">=", value = "${MIN_COVERAGE}"}]'
    )
    report = evaluate_thresholds(loaded.config.code.thresholds, CURRENT)
    assert report.passed == 1


def test_a_delta_on_text_is_a_config_error(tmp_path: Path) -> None:
    from plimsoll.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"code\.thresholds\[0\]\.value: a delta rule needs"):
        _load(tmp_path, '[{metric = "a.b", op = "==", value = "same", delta = true}]')


def test_for_is_refused_on_a_code_threshold(tmp_path: Path) -> None:
    # `for` is how long an alert's condition must hold; a record is checked once, so a code
    # threshold with it would silently behave as without it.
    from plimsoll.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"code\.thresholds\[0\]\.for: a code threshold is"):
        _load(tmp_path, '[{metric = "stats.totals.loc", op = "<=", value = 5, for = "5m"}]')


def test_rules_built_in_python_are_checked_too() -> None:
    from pydantic import ValidationError

    from plimsoll.core.config import CodeConfig

    config = CodeConfig(thresholds=[rule("coverage.line_coverage", ">=", 80)])
    assert evaluate_thresholds(config.thresholds, CURRENT).failed == 1
    with pytest.raises(ValidationError, match="needs a number"):
        CodeConfig(thresholds=[rule("coverage.line_coverage", ">=", "high")])


# --- metric names are checked before anything is judged ----------------------------------------

RUFF_RECORD: dict[str, Any] = {
    "ruff": {"total": 1, "by_code": {"F841": 1}},
    "pylint": {"score": 9.0, "by_symbol": {"unused-import": 2}},
    "stats": {"file_count": 2, "totals": {"sloc": 10, "loc": 12}},
    "complexity": {"max": 4},
}


@pytest.mark.parametrize(
    ("metric", "action", "expected"),
    [
        # A misspelt code read 0: `== 0` passed forever while the record held F841: 1.
        (
            "ruff.by_code.f841",
            "fail",
            "reports no rule code 'f841' (did you mean ruff.by_code.F841?)",
        ),
        ("ruff.by_code.NOTACODE", "fail", "reports no rule code 'NOTACODE'"),
        (
            "pylint.by_symbol.unused-imprt",
            "fail",
            "reports no message symbol 'unused-imprt' (did you mean pylint.by_symbol.unused-import",
        ),
        # A typo of a collector was a `?` row under warn (exit 0).
        (
            "complexty.max",
            "warn",
            "no collector 'complexty' is installed (did you mean complexity.max?)",
        ),
        (
            "stats.totals",
            "fail",
            "stats.totals is a group of metrics: name one of its keys (stats.totals.loc, ",
        ),
        ("complexity.maximum", "warn", "collector complexity records no metric 'maximum'"),
        ("acme.score", "fail", "no collector 'acme' is installed"),
    ],
)
def test_a_metric_no_collector_records_is_a_config_error(
    tmp_path: Path, metric: str, action: str, expected: str
) -> None:
    from plimsoll.core.errors import ConfigError, ExitCode

    loaded = _load(
        tmp_path,
        '[{metric = "ruff.total", op = ">=", value = 0}, '
        f'{{metric = "{metric}", op = "==", value = 0, action = "{action}"}}]',
    )
    with pytest.raises(ConfigError) as info:
        evaluate_thresholds(loaded.config.code.thresholds, RUFF_RECORD, source=loaded.source)
    message = str(info.value)
    assert message.startswith(
        f"{tmp_path / 'pyproject.toml'} [tool.plimsoll]: code.thresholds[1].metric: "
    ), message
    assert expected in message
    assert "\n" not in message
    assert info.value.exit_code == ExitCode.USAGE == 2


def test_the_right_spelling_reads_the_recorded_count() -> None:
    report = evaluate_thresholds([rule("ruff.by_code.F841", "==", 0)], RUFF_RECORD)
    assert report.failed == 1 and report.results[0].actual == 1
    # A code the tool can report and did not is still 0.
    fixed = evaluate_thresholds([rule("ruff.by_code.F401", "==", 0)], RUFF_RECORD)
    assert fixed.passed == 1 and fixed.results[0].actual == 0


def test_a_code_in_the_baseline_only_is_taken_as_it_is() -> None:
    # A code an older tool version reported (in the baseline) is compared, not refused.
    previous = {"ruff": {"total": 3, "by_code": {"OLD1": 3}}}
    report = evaluate_thresholds(
        [rule("ruff.by_code.OLD1", "<=", 0, delta=True)], {"ruff": {"by_code": {}}}, previous
    )
    assert report.passed == 1 and report.results[0].actual == -3


def test_without_a_source_the_error_still_names_the_key() -> None:
    from plimsoll.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^configuration: code\.thresholds\[0\]\.metric: "):
        evaluate_thresholds([rule("stats.totals", "!=", 0)], RUFF_RECORD)


def test_a_validator_rule_is_not_checked_by_name(tmp_path: Path) -> None:
    (tmp_path / "named_mod.py").write_text(
        "def ok(metrics, spec):\n    return True, 'fine'\n", encoding="utf-8"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        spec = RuleSpec.model_validate({"validator": "named_mod:ok", "metric": "anything.at.all"})
        assert evaluate_thresholds([spec], CURRENT).passed == 1
    finally:
        sys.path.remove(str(tmp_path))
