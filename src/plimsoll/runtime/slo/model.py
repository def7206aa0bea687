"""Service level objectives and the ``runtime.slo`` configuration section.

An objective says which fraction of events must be good (``target``, e.g. 99.9%) over a
rolling ``period`` (30 days by default). Events are counted one of three ways:

- ``ratio``: two counters the monitor samples, good and total events
  (``http_requests_ok_total`` over ``http_requests_total``);
- ``latency``: a histogram the monitor samples; an event is good when it took at most
  ``threshold`` seconds (the ``le`` bucket of that bound over ``_count``);
- neither: events recorded by the application with
  :func:`plimsoll.runtime.slo.storage.record`.

Example (``plimsoll.toml``)::

    [runtime.slo]
    openslo = ["slo/checkout.yaml"]      # OpenSLO v1 files, relative to the project root

    [[runtime.slo.objectives]]
    name = "api-availability"
    target = "99.9%"
    period = "30d"
    ratio = { good = "http_requests_ok_total", total = "http_requests_total" }

    [[runtime.slo.objectives]]
    name = "api-latency"
    target = 0.99
    latency = { metric = "http_request_duration_seconds", threshold = 0.3 }
    alerts = ["fast-burn", "medium-burn"]  # which burn alerts ``runtime watch`` raises (default all)
    channels = ["pager"]                   # where they go (default: the runtime.alerts routes)

``plimsoll runtime watch`` evaluates every objective's burn alerts each cycle and raises them
as alerts (``SLOFastBurn``, ...: see :mod:`plimsoll.runtime.slo.alerting`). SLO events older
than ``retention`` (default: the longest period plus a day) are purged by the monitor's
retention pass.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plimsoll.core.rules import parse_duration

__all__ = [
    "BurnAlert",
    "DEFAULT_BURN_ALERTS",
    "DEFAULT_PERIOD",
    "RETENTION_MARGIN",
    "LatencyIndicator",
    "Objective",
    "RatioIndicator",
    "SloConfig",
    "parse_target",
]

DEFAULT_PERIOD = "30d"
# Kept past the longest period: a compliance report ending "now" a little after the evaluation
# (or a clock a little behind) still finds the oldest events of its period.
RETENTION_MARGIN = "1d"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$")
_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def parse_target(value: Any) -> float:
    """A target as a fraction: ``0.999``, or a percentage written ``"99.9%"``.

    Raises ``ValueError`` unless the fraction is strictly between 0 and 1 (a target of 100%
    leaves no error budget, so no burn rate can be computed).
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid target {value!r}: expected e.g. 0.999 or '99.9%'")
    if isinstance(value, str):
        text = value.strip()
        try:
            fraction = round(float(text[:-1]) / 100.0, 12) if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"invalid target {value!r}: expected e.g. 0.999 or '99.9%'") from None
    elif isinstance(value, int | float):
        fraction = float(value)
    else:
        raise ValueError(f"invalid target {value!r}: expected e.g. 0.999 or '99.9%'")
    if not 0.0 < fraction < 1.0:
        raise ValueError(
            f"target {value!r} must be between 0 and 1 exclusive (a fraction such as 0.999, "
            "or a percentage such as '99.9%')"
        )
    return fraction


def _metric(value: str) -> str:
    if not _METRIC.match(value):
        raise ValueError(f"{value!r} is not a Prometheus metric name")
    return value


class RatioIndicator(_Model):
    """Good and total events from two sampled counters (with labels selecting the series)."""

    good: str
    total: str
    labels: dict[str, str] = Field(default_factory=dict)

    _names = field_validator("good", "total")(_metric)


class LatencyIndicator(_Model):
    """Events from a sampled histogram: good when at most ``threshold`` seconds (a bucket bound)."""

    metric: str
    threshold: float = Field(gt=0)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("metric")
    @classmethod
    def _base_name(cls, value: str) -> str:
        _metric(value)
        for suffix in ("_bucket", "_count", "_sum"):
            if value.endswith(suffix):
                raise ValueError(
                    f"give the histogram's base name, without {suffix} "
                    f"({value.removesuffix(suffix)!r})"
                )
        return value


class Objective(_Model):
    """One service level objective: a target fraction of good events over a rolling period."""

    name: str
    target: float
    period: str = DEFAULT_PERIOD
    description: str = ""
    ratio: RatioIndicator | None = None
    latency: LatencyIndicator | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    # The burn alerts (names of ``burn_alerts``) raised for this objective; None: all of them.
    alerts: list[str] | None = None
    # The notification channels of this objective's burn alerts; empty: the alert routes decide.
    channels: list[str] = Field(default_factory=list)
    # Where the objective was defined (an OpenSLO file), for messages; not configurable.
    source: str = Field(default="", exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"invalid name {value!r}: letters, digits, '_', '-', '.' and '/', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> float:
        return parse_target(value)

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError("the period must be longer than zero")
        return value

    @model_validator(mode="after")
    def _one_indicator(self) -> Objective:
        if self.ratio is not None and self.latency is not None:
            raise ValueError("an objective has one indicator: ratio or latency, not both")
        return self

    @property
    def period_seconds(self) -> float:
        """The period in seconds."""
        return parse_duration(self.period)

    @property
    def error_budget(self) -> float:
        """The fraction of events allowed to be bad (``1 - target``)."""
        return 1.0 - self.target

    @property
    def kind(self) -> str:
        """How events are counted: ``ratio``, ``latency`` or ``events`` (recorded by the app)."""
        if self.ratio is not None:
            return "ratio"
        if self.latency is not None:
            return "latency"
        return "events"


class BurnAlert(_Model):
    """A multi-window burn-rate alert: fires when both windows burn faster than ``factor``."""

    name: str
    severity: str
    factor: float = Field(gt=0)
    long: str
    short: str
    # An escalation policy of ``runtime.alerts.escalation`` for the alerts ``runtime watch`` raises.
    escalation: str | None = None

    @field_validator("long", "short")
    @classmethod
    def _window(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError("a window must be longer than zero")
        return value

    @model_validator(mode="after")
    def _short_is_shorter(self) -> BurnAlert:
        if parse_duration(self.short) >= parse_duration(self.long):
            raise ValueError(f"short window {self.short} must be shorter than long {self.long}")
        return self

    @property
    def long_seconds(self) -> float:
        """The long window in seconds."""
        return parse_duration(self.long)

    @property
    def short_seconds(self) -> float:
        """The short window in seconds."""
        return parse_duration(self.short)

    @property
    def pages(self) -> bool:
        """Whether the alert wakes someone up (severity ``page`` or ``critical``)."""
        return self.severity in ("page", "critical")

    @property
    def alertname(self) -> str:
        """The name its alerts go by, here and in Prometheus (``fast-burn`` -> ``SLOFastBurn``)."""
        words = "".join(c if c.isalnum() else " " for c in self.name).split()
        return "SLO" + "".join(w[:1].upper() + w[1:] for w in words)

    @property
    def window(self) -> str:
        """Both windows as the ``window`` label writes them (``1h/5m``)."""
        return f"{self.long}/{self.short}"


# The Google SRE workbook's alerts for a 30-day budget ("Alerting on SLOs", table 5-8): 2% of the
# budget in an hour, 5% in six hours, 10% in three days.
DEFAULT_BURN_ALERTS: tuple[BurnAlert, ...] = (
    BurnAlert(name="fast-burn", severity="page", factor=14.4, long="1h", short="5m"),
    BurnAlert(name="medium-burn", severity="page", factor=6.0, long="6h", short="30m"),
    BurnAlert(name="slow-burn", severity="ticket", factor=1.0, long="3d", short="6h"),
)


class SloConfig(_Model):
    """The ``runtime.slo`` section: objectives, OpenSLO files, the burn-rate alerts, retention."""

    objectives: list[Objective] = Field(default_factory=list)
    openslo: list[str] = Field(default_factory=list)
    burn_alerts: list[BurnAlert] = Field(default_factory=lambda: list(DEFAULT_BURN_ALERTS))
    # How long SLO events are kept; None: the longest period plus RETENTION_MARGIN.
    retention: str | None = None

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) <= 0:
            raise ValueError("retention must be longer than zero")
        return value

    @model_validator(mode="after")
    def _unique(self) -> SloConfig:
        seen: set[str] = set()
        for objective in self.objectives:
            if objective.name in seen:
                raise ValueError(f"objective {objective.name!r} is defined twice")
            seen.add(objective.name)
        names = [a.name for a in self.burn_alerts]
        if len(set(names)) != len(names):
            raise ValueError("burn alert names must be unique")
        alertnames = [a.alertname for a in self.burn_alerts]
        clash = next((n for n in alertnames if alertnames.count(n) > 1), None)
        if clash is not None:
            raise ValueError(f"two burn alerts would both be named {clash}: rename one")
        longest = max(self.burn_alerts, key=lambda a: a.long_seconds, default=None)
        if (
            self.retention is not None
            and longest is not None
            and parse_duration(self.retention) < longest.long_seconds
        ):
            raise ValueError(
                f"retention {self.retention} is shorter than the longest burn-alert window"
                f" ({longest.long}, {longest.name}): that alert could never fire"
            )
        for index, objective in enumerate(self.objectives):
            unknown = [n for n in objective.alerts or () if n not in names]
            if unknown:
                raise ValueError(
                    f"objectives[{index}].alerts: unknown burn alert {unknown[0]!r}"
                    f" (burn_alerts has: {', '.join(names) or 'none'})"
                )
        return self

    def alerts_for(self, objective: Objective) -> list[BurnAlert]:
        """The burn alerts evaluated for ``objective`` (all unless it names some), in order."""
        if objective.alerts is None:
            return list(self.burn_alerts)
        wanted = set(objective.alerts)
        return [a for a in self.burn_alerts if a.name in wanted]

    @property
    def retention_seconds(self) -> float:
        """How long SLO events are kept: ``retention``, else the longest period and a margin.

        The default is never less than the longest burn-alert window, which the alerts read.
        """
        if self.retention is not None:
            return parse_duration(self.retention)
        longest_window = max((a.long_seconds for a in self.burn_alerts), default=0.0)
        longest = max(
            (o.period_seconds for o in self.objectives), default=parse_duration(DEFAULT_PERIOD)
        )
        return max(longest + parse_duration(RETENTION_MARGIN), longest_window)
