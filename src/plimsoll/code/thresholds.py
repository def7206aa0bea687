"""Code thresholds: evaluate a record's metrics against the configured rules.

Each rule is evaluated with `plimsoll.core.rules`; its action then decides what a
violation means: ``fail`` makes the run exit 1, ``warn`` only reports, ``notify`` and
``comment`` are collected for the caller to deliver through ``core.notify`` (this module
delivers nothing). A rule that cannot be evaluated (a missing metric, a broken validator)
counts as errored, and exits 1 when its action is ``fail``, so a typo or a crashed
collector never lets a gate pass silently. A delta rule without a baseline is skipped.

A code absent from a complete count map (``ruff.by_code.F401`` once the last F401 is fixed)
reads 0 when its collector ran, as :mod:`plimsoll.code.lookup` says.

Before anything is evaluated, every rule's metric is checked against what the collectors
declare (:mod:`plimsoll.code.metric_names`): a collector that is not installed, a key it does
not record, a group of metrics instead of one, or a code its tool cannot report is a
configuration error (exit 2) naming ``code.thresholds[N].metric``, with a suggestion, rather
than a rule that errors, passes or fails forever.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from plimsoll.code.lookup import CountMaps, with_counts
from plimsoll.code.metric_names import MetricNames
from plimsoll.core.errors import ConfigError, ExitCode
from plimsoll.core.rules import (
    Action,
    MetricMissing,
    Outcome,
    RuleResult,
    RuleSpec,
    evaluate,
    format_delta,
    format_value,
    resolve,
)


@dataclass(frozen=True)
class ThresholdReport:
    """The results of every threshold rule, their counts, and what the caller must deliver."""

    results: tuple[RuleResult, ...]
    passed: int
    failed: int
    warned: int
    errored: int
    skipped: int
    exit_code: int
    to_notify: tuple[RuleResult, ...]
    to_comment: tuple[RuleResult, ...]

    @property
    def ok(self) -> bool:
        """Whether the gate holds (exit code 0)."""
        return self.exit_code == ExitCode.OK

    @property
    def violations(self) -> tuple[RuleResult, ...]:
        """Results that failed or could not be evaluated."""
        return tuple(r for r in self.results if r.outcome in (Outcome.FAILED, Outcome.ERROR))


def where(source: Path | str | None) -> str:
    """How a configuration error names the file the thresholds came from."""
    if source is None:
        return "configuration"
    path = Path(source)
    # As core.config names it: the table inside a pyproject.toml.
    return f"{path} [tool.plimsoll]" if path.name == "pyproject.toml" else str(path)


def check_metric_names(
    specs: Sequence[RuleSpec],
    names: MetricNames | None = None,
    *,
    source: Path | str | None = None,
    records: Sequence[Mapping[str, Any] | None] = (),
) -> None:
    """ConfigError (exit 2) naming ``code.thresholds[N].metric`` for the first rule whose
    metric no collector records (see :mod:`plimsoll.code.metric_names`).

    ``specs`` are ``code.thresholds`` in order; ``source`` the configuration file they came
    from; ``records`` the metrics they are about to be read from (a value held there needs no
    tool asked). A rule with a validator is its validator's business.
    """
    checker = names if names is not None else MetricNames()
    for index, spec in enumerate(specs):
        if spec.metric is None or spec.validator is not None:
            continue
        problem = checker.problem(spec.metric, records)
        if problem is not None:
            raise ConfigError(f"{where(source)}: code.thresholds[{index}].metric: {problem}")


def evaluate_thresholds(
    specs: Sequence[RuleSpec],
    current: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
    *,
    collector_errors: Mapping[str, str] | None = None,
    complete: CountMaps | None = None,
    names: MetricNames | None = None,
    source: Path | str | None = None,
) -> ThresholdReport:
    """Evaluate ``specs`` against a record's ``current`` metrics (``previous`` for deltas).

    ``collector_errors`` maps a collector name to its error; a rule whose metric is
    missing because its collector (the path's first segment) failed says so. ``complete``:
    the complete count maps (default: the registered collectors' declarations).

    First every metric is checked (:func:`check_metric_names`, with ``names`` and
    ``source``): a metric no collector records raises ConfigError before anything is judged.
    """
    check_metric_names(specs, names, source=source, records=(current, previous))
    errors = collector_errors or {}
    paths = [spec.metric for spec in specs if spec.metric is not None]
    current = with_counts(current, paths, complete)
    if previous is not None:
        previous = with_counts(previous, paths, complete)
    results = tuple(_explain(evaluate(spec, current, previous), current, errors) for spec in specs)
    passed = failed = warned = errored = skipped = 0
    exit_code = ExitCode.OK
    for result in results:
        match result.outcome:
            case Outcome.PASSED:
                passed += 1
            case Outcome.SKIPPED:
                skipped += 1
            case Outcome.ERROR:
                errored += 1
            case Outcome.FAILED:
                if result.action is Action.FAIL:
                    failed += 1
                else:
                    warned += 1
        if result.action is Action.FAIL and result.outcome in (Outcome.FAILED, Outcome.ERROR):
            exit_code = ExitCode.FINDINGS
    # Errors are delivered too: a notify rule that could not be checked is news as well.
    deliver = (Outcome.FAILED, Outcome.ERROR)
    return ThresholdReport(
        results=results,
        passed=passed,
        failed=failed,
        warned=warned,
        errored=errored,
        skipped=skipped,
        exit_code=int(exit_code),
        to_notify=tuple(r for r in results if r.action is Action.NOTIFY and r.outcome in deliver),
        to_comment=tuple(r for r in results if r.action is Action.COMMENT and r.outcome in deliver),
    )


def _explain(
    result: RuleResult, current: Mapping[str, Any], collector_errors: Mapping[str, str]
) -> RuleResult:
    """Name the failed collector behind a missing metric, rather than only the path."""
    metric = result.spec.metric
    if result.outcome is not Outcome.ERROR or metric is None or result.spec.validator:
        return result
    collector = metric.split(".", 1)[0]
    error = collector_errors.get(collector)
    if error is None or not isinstance(resolve(current, metric), MetricMissing):
        return result
    first_line = error.strip().splitlines()[0] if error.strip() else "unknown error"
    return replace(
        result, message=f"metric {metric} missing (collector {collector} failed: {first_line})"
    )


# --- rendering --------------------------------------------------------------------------------

_WORDS = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "error": "ERROR", "skip": "SKIP"}
# An error has a symbol of its own: a rule that could not be checked is neither a crossed
# warning nor a crossed fail rule (the action column says whether it fails the gate).
_ICONS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "error": "❓", "skip": "➖"}


def status(result: RuleResult) -> str:
    """The display status of a result: pass, fail, warn, error or skip.

    ``fail`` is a crossed ``fail`` rule, ``warn`` a crossed rule of any other action, and
    ``error`` a rule that could not be evaluated (whatever its action, as the ``errored``
    count has it; it fails the gate only under ``fail``).
    """
    match result.outcome:
        case Outcome.PASSED:
            return "pass"
        case Outcome.SKIPPED:
            return "skip"
        case Outcome.FAILED:
            return "fail" if result.action is Action.FAIL else "warn"
        case Outcome.ERROR:
            return "error"


def _actual(result: RuleResult) -> str:
    if result.actual is None and (result.spec.validator or result.outcome is not Outcome.PASSED):
        # A validator returns a verdict, not a value; an error or a skip may have none either.
        return "-" if result.current is None else format_value(result.current)
    if result.spec.delta:
        return (
            f"{format_delta(result.actual)} "
            f"({format_value(result.previous)} → {format_value(result.current)})"
        )
    return format_value(result.actual)


def _expected(result: RuleResult) -> str:
    spec = result.spec
    if spec.op is None:
        return "-"
    prefix = "Δ " if spec.delta else ""
    return f"{prefix}{spec.op.value} {format_value(spec.value)}"


def summary_line(report: ThresholdReport) -> str:
    """One line of counts, e.g. ``3 passed, 1 failed, 0 warned, 0 errored, 1 skipped``."""
    parts = [
        f"{report.passed} passed",
        f"{report.failed} failed",
        f"{report.warned} warned",
        f"{report.errored} errored",
    ]
    if report.skipped:
        parts.append(f"{report.skipped} skipped")
    return ", ".join(parts)


def render_text(report: ThresholdReport, violations_only: bool = False) -> str:
    """The report as plain text lines: a status word, the rule, its message; then the counts."""
    shown = report.violations if violations_only else report.results
    lines = [f"{_WORDS[status(r)]:<5}  {r.label}: {r.message}" for r in shown]
    if not report.results:
        lines.append("no thresholds configured")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    # A pipe or newline would break the table row.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(results: Sequence[RuleResult]) -> list[str]:
    lines = ["| | Rule | Actual | Expected | Action | Message |", "|---|---|---|---|---|---|"]
    for r in results:
        cells = [
            _ICONS[status(r)],
            f"`{r.label}`",
            _actual(r),
            _expected(r),
            r.action.value,
            r.message,
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def crossed_heading(results: Sequence[RuleResult]) -> str:
    """What a notification about ``results`` says, e.g. ``2 code thresholds crossed``.

    Counts the rules crossed and those that could not be checked, so a message's title
    and heading describe exactly the rules it lists.
    """
    crossed = sum(r.outcome is Outcome.FAILED for r in results)
    errored = sum(r.outcome is Outcome.ERROR for r in results)
    parts = []
    if crossed:
        parts.append(f"{crossed} code threshold{'s' if crossed != 1 else ''} crossed")
    if errored:
        noun = f"code threshold{'s' if errored != 1 else ''} " if not crossed else ""
        parts.append(f"{errored} {noun}could not be checked")
    return ", ".join(parts) or "no code threshold crossed"


def notification_icon(results: Sequence[RuleResult]) -> str:
    """The icon of the worst status among ``results`` (❌, ⚠️, ❓; ✅ when none is bad)."""
    worst = {status(r) for r in results}
    return next((_ICONS[s] for s in ("fail", "warn", "error") if s in worst), _ICONS["pass"])


def render_notification(results: Sequence[RuleResult], commit: str, heading: bool = True) -> str:
    """Markdown for a notification or comment about ``results`` only, under a matching heading.

    Without ``heading``, the table alone: a channel that shows the message's title as its
    heading (a pull-request comment, an email subject) would otherwise say it twice.
    """
    lines = [f"### {notification_icon(results)} {crossed_heading(results)} at {commit[:7]}", ""]
    if not heading:
        lines = []
    lines += _table(results) if results else ["No violations."]
    return "\n".join(lines) + "\n"


def render_markdown(report: ThresholdReport, violations_only: bool = False) -> str:
    """The report as a Markdown table with ✅/❌/⚠️, fit for a PR comment or step summary."""
    verdict = "✅ thresholds passed" if report.ok else "❌ thresholds failed"
    lines = [f"### {verdict}", "", summary_line(report), ""]
    shown = report.violations if violations_only else report.results
    if not report.results:
        lines.append("No thresholds configured.")
    elif not shown:
        lines.append("No violations.")
    else:
        lines += _table(shown)
    return "\n".join(lines) + "\n"


def to_json(report: ThresholdReport, violations_only: bool = False) -> dict[str, Any]:
    """The report as a JSON-ready dict: counts, exit code and one entry per rule.

    With ``violations_only``, ``results`` holds only the rules that did not pass (failed,
    warned or errored), as the text and Markdown reports do; the counts stay complete.
    """
    shown = report.violations if violations_only else report.results
    return {
        "ok": report.ok,
        "exit_code": report.exit_code,
        "counts": {
            "passed": report.passed,
            "failed": report.failed,
            "warned": report.warned,
            "errored": report.errored,
            "skipped": report.skipped,
        },
        "violations_only": violations_only,
        "results": [{**r.to_dict(), "status": status(r)} for r in shown],
    }
