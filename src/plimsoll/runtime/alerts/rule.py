"""An alert rule: a `plimsoll.core.rules` condition over sampled metrics, held for a while.

A rule reads one metric (optionally narrowed by label ``matchers``) and computes, per series,
the value its ``function`` says:

- ``threshold``: the series' ``aggregate`` (``last``, ``avg``, ``min``, ``max``, ``sum``,
  ``count``) over the last ``window``;
- ``rate``: the per-second increase of a counter over ``window`` (counter resets counted as
  in Prometheus' ``rate``);
- ``absent``: the number of points of every matching series in ``window``; the alert fires
  when there are none (one alert for the rule, like ``absent_over_time``).

The condition ``value op threshold`` is a `RuleSpec` evaluated by `core.rules.evaluate`. As in
Prometheus, the alert's condition is what *fires*: ``op = ">"``, ``value = 90`` alerts while the
metric is above 90. It then has to hold for ``for`` (`core.rules.ForTracker`) before firing.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plimsoll.core.rules import (
    IncomparableError,
    Operator,
    RuleSpec,
    Severity,
    compare,
    parse_duration,
)
from plimsoll.runtime.alerts.samples import Labels, Series
from plimsoll.runtime.alerts.silences import Matcher, matches_all, parse_matcher


class Function(StrEnum):
    """What a rule computes from a series."""

    THRESHOLD = "threshold"
    RATE = "rate"
    ABSENT = "absent"


class Aggregate(StrEnum):
    """How a threshold rule reduces the points of its window."""

    LAST = "last"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    SUM = "sum"
    COUNT = "count"


class AlertRule(BaseModel):
    """An alert rule as written in configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_:.\-]*$")
    metric: str = Field(min_length=1)
    function: Function = Function.THRESHOLD
    aggregate: Aggregate = Aggregate.LAST
    window: str | float = "5m"
    matchers: list[str] = Field(default_factory=list)
    op: Operator | None = None
    value: float | None = None
    for_: str | float | None = Field(default=None, alias="for")
    severity: Severity = Severity.WARNING
    labels: dict[str, str] = Field(default_factory=dict)
    summary: str | None = None
    resolved_summary: str | None = None
    description: str | None = None
    escalation: str | None = None

    @field_validator("window", "for_")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, values: list[str]) -> list[str]:
        for text in values:
            parse_matcher(text)
        return values

    @model_validator(mode="after")
    def _complete(self) -> AlertRule:
        if self.function is Function.ABSENT:
            if self.op is not None or self.value is not None:
                raise ValueError("an absent rule takes no op or value: it fires on no data")
        elif self.op is None or self.value is None:
            raise ValueError(f"a {self.function.value} rule needs op and value")
        if parse_duration(self.window) <= 0:
            raise ValueError("window must be longer than zero")
        reserved = {"alertname", "severity"} & set(self.labels)
        if reserved:
            raise ValueError(f"labels: {sorted(reserved)[0]!r} is set by plimsoll itself")
        return self

    @cached_property
    def spec(self) -> RuleSpec:
        """The condition as a core `RuleSpec` over this rule's observed value."""
        # `for` is RuleSpec's alias, hence model_validate rather than keyword arguments.
        op, value = (
            (Operator.EQ, 0.0) if self.function is Function.ABSENT else (self.op, self.value)
        )
        return RuleSpec.model_validate(
            {
                "name": self.name,
                "metric": self.observed_key,
                "op": op,
                "value": value,
                "severity": self.severity,
                "for": self.for_,
            }
        )

    @property
    def observed_key(self) -> str:
        """The name the observed value goes by in the condition (and its messages)."""
        if self.function is Function.RATE:
            return f"rate({self.metric})"
        if self.function is Function.ABSENT:
            return f"count({self.metric})"
        if self.aggregate is Aggregate.LAST:
            return self.metric
        return f"{self.aggregate.value}({self.metric})"

    @property
    def severity_label(self) -> str:
        """The ``severity`` label of this rule's alerts: its severity's name.

        Rules made by plimsoll itself may carry another scheme (the SLO burn alerts' ``page`` and
        ``ticket``), as Alertmanager users expect of SLO alerts.
        """
        return self.severity.value

    @cached_property
    def parsed_matchers(self) -> tuple[Matcher, ...]:
        """The label matchers, parsed."""
        return tuple(parse_matcher(m) for m in self.matchers)

    @cached_property
    def window_seconds(self) -> float:
        """The window in seconds."""
        return parse_duration(self.window)

    @cached_property
    def hold_seconds(self) -> float:
        """The ``for`` duration in seconds."""
        return self.spec.hold_seconds


@dataclass(frozen=True)
class Observation:
    """One series' verdict in one evaluation: its labels, value and whether the condition holds.

    ``holds`` is None when the value could not be computed (too few points, stale data).
    """

    rule: str
    labels: Labels
    value: float | None
    holds: bool | None
    message: str


def _rate(points: Sequence[tuple[float, float]]) -> float | None:
    if len(points) < 2:
        return None
    elapsed = points[-1][0] - points[0][0]
    if elapsed <= 0:
        return None
    increase = 0.0
    previous = points[0][1]
    for _, value in points[1:]:
        # A counter that went down was reset: what it counted since starts again from zero.
        increase += value - previous if value >= previous else value
        previous = value
    return increase / elapsed


def _aggregate(kind: Aggregate, values: Sequence[float]) -> float:
    if kind is Aggregate.LAST:
        return values[-1]
    if kind is Aggregate.AVG:
        return math.fsum(values) / len(values)
    if kind is Aggregate.MIN:
        return min(values)
    if kind is Aggregate.MAX:
        return max(values)
    if kind is Aggregate.SUM:
        return math.fsum(values)
    return float(len(values))


def observed_value(rule: AlertRule, series: Series, now: float) -> float | None:
    """The value ``rule`` computes from ``series`` at ``now`` (None when there is too little data)."""
    since = now - rule.window_seconds
    # The points are oldest first: the window is found by bisection, not a scan of them all.
    every = series.points
    points = every[bisect_left(every, (since, -math.inf)) : bisect_right(every, (now, math.inf))]
    if not points:
        return None
    if rule.function is Function.RATE:
        return _rate(points)
    if rule.function is Function.ABSENT:
        return float(len(points))
    return _aggregate(rule.aggregate, [v for _, v in points])


def _fill(template: str, rule: AlertRule, labels: dict[str, str], value: float | None) -> str:
    """``template`` with ``{value}``, ``{threshold}``, ``{metric}``, ``{rule}`` and
    ``{<label>}`` filled in (unknown names stay as written)."""
    shown = "null" if value is None else f"{value:g}"
    threshold = "" if rule.value is None else f"{rule.value:g}"
    names = {
        **labels, "value": shown, "actual": shown, "threshold": threshold,
        "expected": threshold, "metric": rule.metric, "rule": rule.name,
    }  # fmt: skip
    return re.sub(
        r"\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: names.get(m.group(1), m.group(0)), template
    )


def render_summary(rule: AlertRule, labels: dict[str, str], value: float | None) -> str:
    """The rule's ``summary`` with ``{value}``, ``{threshold}``, ``{metric}``, ``{rule}`` and
    ``{<label>}`` filled in (unknown names stay as written); a generated line without one."""
    if rule.summary:
        return _fill(rule.summary, rule, labels, value)
    if rule.function is Function.ABSENT:
        return f"no {rule.metric} samples in the last {rule.window}"
    shown = "null" if value is None else f"{value:g}"
    threshold = "" if rule.value is None else f"{rule.value:g}"
    return f"{rule.observed_key} is {shown} ({rule.op} {threshold})"


def render_resolved(rule: AlertRule, labels: dict[str, str], value: float) -> str:
    """What a resolved alert says: the value now, against the condition that fired.

    The rule's ``resolved_summary`` when set (filled in as ``summary`` is); else its
    ``summary`` with the value now, then "(no longer > 10)": the condition is what fires, so
    a resolve must never read "expected > 10", which would call the firing state healthy.
    """
    if rule.resolved_summary:
        return _fill(rule.resolved_summary, rule, labels, value)
    if rule.function is Function.ABSENT:
        return f"{rule.metric} samples are back ({value:g} in the last {rule.window})"
    condition = f"no longer {rule.op} {'' if rule.value is None else f'{rule.value:g}'}"
    if rule.summary:
        return f"{_fill(rule.summary, rule, labels, value)} ({condition})"
    return f"{rule.observed_key} is {value:g} ({condition})"


def evaluate_rule(rule: AlertRule, series: Sequence[Series], now: float) -> list[Observation]:
    """Observe every series of the rule's metric that its matchers select, at ``now``."""
    chosen = [s for s in series if matches_all(rule.parsed_matchers, s.label_dict)]
    if rule.function is Function.ABSENT:
        count = sum(observed_value(rule, s, now) or 0.0 for s in chosen)
        labels = tuple(sorted((m.name, m.value) for m in rule.parsed_matchers if m.op.value == "="))
        return [_observe(rule, labels, count)]
    return [_observe(rule, s.labels, observed_value(rule, s, now)) for s in chosen]


def _observe(rule: AlertRule, labels: Labels, value: float | None) -> Observation:
    if value is None:
        return Observation(rule.name, labels, None, None, f"{rule.observed_key}: no recent data")
    spec = rule.spec
    assert spec.op is not None
    # The RuleSpec's comparison is the alert's firing condition: "passed" means it holds.
    # `compare` is the comparison `evaluate` applies; calling it directly skips building a
    # result and its message for the thousands of series that are fine.
    try:
        holds = compare(spec.op, value, spec.value)
    except IncomparableError as exc:
        return Observation(rule.name, labels, value, None, f"{rule.observed_key}: {exc}")
    if holds:
        return Observation(
            rule.name, labels, value, True, render_summary(rule, dict(labels), value)
        )
    return Observation(rule.name, labels, value, False, "")
