"""The alerting configuration: rules, routes, timings, maintenance windows, inhibition, escalation.

Example (``plimsoll.toml``, or a rules file given with ``--rules``)::

    [runtime.alerts]
    evaluation_interval = "15s"
    channels = ["ops-webhook"]           # the default route's channels
    group_by = ["alertname", "service"]
    group_wait = "30s"
    group_interval = "5m"
    repeat_interval = "4h"

    [[runtime.alerts.rules]]
    name = "HighCPU"
    metric = "system.cpu_percent"
    op = ">"
    value = 90
    for = "5m"
    severity = "critical"
    labels = { team = "ops" }
    summary = "CPU at {actual}% on {instance}"
    resolved_summary = "CPU back to {actual}% on {instance}"   # else the summary + "(no longer > 90)"
    escalation = "ops"

    [[runtime.alerts.routes]]
    matchers = ["severity=critical"]
    channels = ["pager"]

    [runtime.alerts.escalation.ops]
    levels = [{ delay = "0m", channels = ["ops-webhook"] }, { delay = "15m", channels = ["pager"] }]
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plimsoll.core.rules import parse_duration
from plimsoll.runtime.alerts.rule import AlertRule
from plimsoll.runtime.alerts.silences import parse_matcher

__all__ = [
    "AlertRule",
    "AlertsConfig",
    "EscalationLevel",
    "EscalationPolicy",
    "InhibitRule",
    "MaintenanceWindow",
    "Route",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _duration(value: Any) -> Any:
    if value is not None:
        parse_duration(value)
    return value


def _positive(value: Any) -> Any:
    # Zero (or less) would evaluate without pause: one process spinning a CPU on the store.
    if parse_duration(value) <= 0:
        raise ValueError("must be longer than zero")
    return value


def _matchers(values: list[str]) -> list[str]:
    for text in values:
        parse_matcher(text)
    return values


class Route(_Model):
    """A route: alerts matching ``matchers`` go to ``channels``, grouped and timed as said.

    Unset timings and grouping are inherited from the top of ``runtime.alerts``. The first
    matching route wins unless it sets ``continue``; alerts no route takes use the default route.
    """

    matchers: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    group_by: list[str] | None = None
    group_wait: str | float | None = None
    group_interval: str | float | None = None
    repeat_interval: str | float | None = None
    send_resolved: bool | None = None
    continue_: bool = Field(default=False, alias="continue")

    _m = field_validator("matchers")(_matchers)
    _d = field_validator("group_wait", "group_interval", "repeat_interval")(_duration)


class MaintenanceWindow(_Model):
    """A time during which matching alerts are not notified: once, or every week.

    One-off: ``starts_at`` and ``ends_at`` (ISO 8601). Weekly: ``weekdays`` (``mon``..``sun``),
    ``start`` and ``end`` as ``HH:MM`` in ``timezone`` (an end before the start runs past
    midnight). ``matchers`` empty means every alert.
    """

    name: str
    matchers: list[str] = Field(default_factory=list)
    starts_at: str | None = None
    ends_at: str | None = None
    weekdays: list[str] = Field(default_factory=list)
    start: str | None = None
    end: str | None = None
    timezone: str = "UTC"

    _m = field_validator("matchers")(_matchers)

    @model_validator(mode="after")
    def _complete(self) -> MaintenanceWindow:
        from plimsoll.runtime.alerts.silences import check_window

        check_window(self)
        return self


class InhibitRule(_Model):
    """While an alert matching ``source_matchers`` fires, alerts matching ``target_matchers``
    with the same values of the ``equal`` labels are not notified."""

    source_matchers: list[str]
    target_matchers: list[str]
    equal: list[str] = Field(default_factory=list)

    _m = field_validator("source_matchers", "target_matchers")(_matchers)


class EscalationLevel(_Model):
    """One level of an escalation policy: notify ``channels`` once the alert fired ``delay`` ago."""

    delay: str | float = 0
    channels: list[str] = Field(min_length=1)

    _d = field_validator("delay")(_duration)

    @property
    def delay_seconds(self) -> float:
        """The delay in seconds."""
        return parse_duration(self.delay)


class EscalationPolicy(_Model):
    """Levels notified in turn while an alert fires unacknowledged; an acknowledgement stops it."""

    levels: list[EscalationLevel] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> EscalationPolicy:
        delays = [level.delay_seconds for level in self.levels]
        if delays != sorted(delays):
            raise ValueError("levels must be in order of increasing delay")
        return self


class AlertsConfig(_Model):
    """``runtime.alerts``: the rules, the default route and its timings, and the rest."""

    evaluation_interval: str | float = "15s"
    rules: list[AlertRule] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    group_by: list[str] = Field(default_factory=lambda: ["alertname"])
    group_wait: str | float = "30s"
    group_interval: str | float = "5m"
    repeat_interval: str | float = "4h"
    send_resolved: bool = True
    routes: list[Route] = Field(default_factory=list)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    inhibit: list[InhibitRule] = Field(default_factory=list)
    escalation: dict[str, EscalationPolicy] = Field(default_factory=dict)
    resolved_retention: str | float = "7d"

    _d = field_validator(
        "evaluation_interval",
        "group_wait",
        "group_interval",
        "repeat_interval",
        "resolved_retention",
    )(_duration)
    _p = field_validator("evaluation_interval")(_positive)

    @model_validator(mode="after")
    def _consistent(self) -> AlertsConfig:
        names = [rule.name for rule in self.rules]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ValueError(f"two rules are named {duplicate!r}")
        for rule in self.rules:
            if rule.escalation is not None and rule.escalation not in self.escalation:
                raise ValueError(
                    f"rule {rule.name!r}: unknown escalation policy {rule.escalation!r}"
                )
        return self

    def rule(self, name: str) -> AlertRule | None:
        """The rule called ``name``, or None."""
        return next((r for r in self.rules if r.name == name), None)
