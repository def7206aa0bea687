"""Objectives as Prometheus recording rules (error ratios) and multi-burn-rate alerting rules.

Per objective, one rule group records ``slo:sli_error:ratio_rate<window>{slo="<name>"}`` for
every window the burn alerts use (5m, 30m, 1h, 6h and 3d by default), and one alerting rule
per burn alert fires when both its windows' error ratios exceed ``factor * (1 - target)``, as
in the SRE workbook. Objectives over events the application records (no sampled metric) have
no Prometheus equivalent: they are skipped with a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from plimsoll.runtime.alerts.prometheus import duration, metric_name, to_yaml
from plimsoll.runtime.slo.burn import windows
from plimsoll.runtime.slo.model import DEFAULT_BURN_ALERTS, BurnAlert, Objective, SloConfig

__all__ = ["alert_name", "error_ratio", "record_name", "rule_file", "rule_groups", "to_yaml"]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _selector(metric: str, labels: Mapping[str, str]) -> str:
    inside = ",".join(f"{k}={_quote(v)}" for k, v in labels.items())
    return f"{metric_name(metric)}{{{inside}}}" if inside else metric_name(metric)


def record_name(window: str) -> str:
    """The recorded error ratio's name for a window (``slo:sli_error:ratio_rate1h``)."""
    return f"slo:sli_error:ratio_rate{duration(window)}"


def alert_name(alert: BurnAlert) -> str:
    """The alerting rule's name for a burn alert (``fast-burn`` -> ``SLOFastBurn``).

    The same name ``plimsoll runtime watch`` gives the alerts it raises itself, so routes and
    silences written for one work for the other.
    """
    return alert.alertname


def _le(threshold: float) -> str:
    # The bound as prometheus_client writes it in the le label ("0.3", "1.0", "+Inf").
    from prometheus_client.utils import floatToGoString

    return str(floatToGoString(threshold))


def error_ratio(objective: Objective, window: str) -> str:
    """The PromQL error ratio of ``objective`` over ``window``; ValueError for recorded events."""
    span = duration(window)
    if objective.ratio is not None:
        ratio = objective.ratio
        good = f"sum(rate({_selector(ratio.good, ratio.labels)}[{span}]))"
        total = f"sum(rate({_selector(ratio.total, ratio.labels)}[{span}]))"
    elif objective.latency is not None:
        latency = objective.latency
        bucket = {**latency.labels, "le": _le(latency.threshold)}
        good = f"sum(rate({_selector(latency.metric + '_bucket', bucket)}[{span}]))"
        total = f"sum(rate({_selector(latency.metric + '_count', latency.labels)}[{span}]))"
    else:
        raise ValueError(
            f"objective {objective.name} counts events recorded by the application:"
            " Prometheus cannot compute it"
        )
    return f"1 - ({good} / {total})"


def _threshold(alert: BurnAlert, objective: Objective) -> str:
    return f"({alert.factor:g} * {objective.error_budget:.10g})"


def rule_groups(
    objective: Objective, alerts: Sequence[BurnAlert] = DEFAULT_BURN_ALERTS
) -> list[dict[str, Any]]:
    """The recording group and the alerting group of one objective."""
    labels = {**objective.labels, "slo": objective.name}
    recording = [
        {"record": record_name(window), "expr": error_ratio(objective, window), "labels": labels}
        for window in windows(alerts)
    ]
    match = "{slo=" + _quote(objective.name) + "}"
    alerting = []
    for alert in alerts:
        threshold = _threshold(alert, objective)
        long_expr = f"{record_name(alert.long)}{match} > {threshold}"
        short_expr = f"{record_name(alert.short)}{match} > {threshold}"
        alerting.append(
            {
                "alert": alert_name(alert),
                "expr": f"{long_expr}\nand\n{short_expr}",
                "labels": {
                    **labels,
                    "severity": alert.severity,
                    "burn": alert.name,
                    "window": alert.window,
                },
                "annotations": {
                    "summary": (
                        f"SLO {objective.name} burns its error budget over {alert.factor:g}x"
                        f" ({alert.long} and {alert.short} windows)"
                    ),
                    "description": (
                        f"Target {objective.target:.10g} over {objective.period}: at this rate"
                        f" the budget lasts {objective.period_seconds / alert.factor / 3600:.1f}h."
                    ),
                },
            }
        )
    return [
        {"name": f"slo:{objective.name}:recording", "rules": recording},
        {"name": f"slo:{objective.name}:alerting", "rules": alerting},
    ]


def rule_file(config: SloConfig) -> tuple[dict[str, Any], list[str]]:
    """A Prometheus rule file for every objective that Prometheus can compute, and notes."""
    groups: list[dict[str, Any]] = []
    notes: list[str] = []
    for objective in config.objectives:
        if objective.kind == "events":
            notes.append(
                f"objective {objective.name} counts events recorded by the application:"
                " not exported"
            )
            continue
        alerts = config.alerts_for(objective)
        if not alerts:
            notes.append(f"objective {objective.name} has no burn alert: not exported")
            continue
        groups.extend(rule_groups(objective, alerts))
    return {"groups": groups}, notes
