"""Complete count maps: a code absent from them reads 0 when their collector ran."""

from __future__ import annotations

from typing import Any

from plimsoll.code import lookup
from plimsoll.code.thresholds import evaluate_thresholds
from plimsoll.code.trendindex import index_leaves
from plimsoll.core.rules import Action, MetricMissing, Operator, Outcome, RuleSpec

METRICS: dict[str, Any] = {
    "ruff": {"total": 0, "by_code": {}},
    "bandit": {"total": 1, "by_test": {"B602": 1}},
    "mypy": {"total_errors": 2, "by_code": {"arg-type": 2}},
    "pylint": {"score": 9.5, "top_symbols": {"fixme": 1}},  # a record from before by_symbol
    "complexity": {"ranks": {"A": 3}},
}


def test_the_built_in_collectors_declare_their_complete_count_maps() -> None:
    maps = lookup.complete_maps()
    assert {("ruff", "by_code"), ("bandit", "by_test"), ("mypy", "by_code")} <= maps
    assert ("pylint", "by_symbol") in maps
    # A top-N list is not complete: a symbol absent from it may well have been reported.
    assert ("pylint", "top_symbols") not in maps


def test_an_absent_code_of_a_collector_that_ran_is_zero() -> None:
    assert lookup.resolve_metric(METRICS, "ruff.by_code.F401") == 0
    assert lookup.resolve_metric(METRICS, "bandit.by_test.B608") == 0
    assert lookup.resolve_metric(METRICS, "mypy.by_code.attr-defined") == 0
    assert lookup.resolve_metric(METRICS, "mypy.by_code.arg-type") == 2


def test_still_missing_when_the_collector_did_not_run_or_wrote_no_such_map() -> None:
    assert isinstance(lookup.resolve_metric({}, "ruff.by_code.F401"), MetricMissing)
    # The record predates pylint's by_symbol: nothing says the symbol was counted.
    assert isinstance(lookup.resolve_metric(METRICS, "pylint.by_symbol.fixme"), MetricMissing)
    assert isinstance(lookup.resolve_metric(METRICS, "pylint.top_symbols.x"), MetricMissing)
    # Only maps declared complete: a misspelt rank stays missing.
    assert isinstance(lookup.resolve_metric(METRICS, "complexity.ranks.G"), MetricMissing)


def test_with_counts_fills_only_absent_counts_and_leaves_the_input_alone() -> None:
    filled = lookup.with_counts(METRICS, ["ruff.by_code.F401", "complexity.ranks.G"])
    assert filled["ruff"]["by_code"] == {"F401": 0}
    assert "G" not in filled["complexity"]["ranks"]
    assert METRICS["ruff"]["by_code"] == {}
    assert lookup.with_counts(METRICS, ["ruff.total"]) is METRICS


def test_the_trend_index_keeps_empty_maps_so_an_absent_code_reads_zero() -> None:
    flat = index_leaves(METRICS)
    assert flat["ruff.by_code"] == {}
    assert lookup.flat_counted_zero(flat, "ruff.by_code.F401")
    assert lookup.flat_counted_zero(flat, "bandit.by_test.B101")
    assert not lookup.flat_counted_zero(flat, "bandit.by_test.B602")  # present: its own value
    assert not lookup.flat_counted_zero(flat, "pylint.by_symbol.fixme")
    assert not lookup.flat_counted_zero({"stats.file_count": 1}, "ruff.by_code.F401")


def test_a_gate_on_a_fixed_code_passes_and_one_on_a_collector_that_did_not_run_errors() -> None:
    specs = [
        RuleSpec(metric="ruff.by_code.F401", op=Operator.LE, value=0, action=Action.FAIL),
        RuleSpec(metric="bandit.by_test.B608", op=Operator.EQ, value=0, action=Action.FAIL),
        RuleSpec(metric="mypy.by_code.attr-defined", op=Operator.EQ, value=0, action=Action.FAIL),
    ]
    report = evaluate_thresholds(specs, METRICS)
    assert [r.outcome for r in report.results] == [Outcome.PASSED] * 3
    assert report.exit_code == 0
    missing = evaluate_thresholds(specs[:1], {"stats": {}})
    assert missing.results[0].outcome is Outcome.ERROR
    assert "missing" in missing.results[0].message
    assert missing.exit_code == 1
