"""Prometheus alerting rules and an Alertmanager configuration from the same alert definitions.

For a fleet scraped by Prometheus, the rules plimsoll evaluates itself become a rule file
(``promtool check rules`` accepts it) and the routes, timings and inhibition rules an
Alertmanager configuration. Metric names are the sample names the monitor stores (Prometheus
exposition names), so the expressions select the same series.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from plimsoll.core.config import NotifyConfig, SmtpChannel, WebhookChannel
from plimsoll.core.rules import parse_duration
from plimsoll.runtime.alerts.config import AlertsConfig
from plimsoll.runtime.alerts.grouping import resolve_routes
from plimsoll.runtime.alerts.rule import Aggregate, AlertRule, Function
from plimsoll.runtime.alerts.silences import Matcher, parse_matcher

_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_FUNCTIONS = {
    Aggregate.AVG: "avg_over_time",
    Aggregate.MIN: "min_over_time",
    Aggregate.MAX: "max_over_time",
    Aggregate.SUM: "sum_over_time",
    Aggregate.COUNT: "count_over_time",
}


def metric_name(name: str) -> str:
    """A valid Prometheus metric name for ``name`` (dots and dashes become underscores)."""
    cleaned = _NAME.sub("_", name)
    return cleaned if re.match(r"[a-zA-Z_:]", cleaned) else f"_{cleaned}"


def duration(value: str | float) -> str:
    """A duration in Prometheus' notation (``90s`` -> ``1m30s``)."""
    seconds = parse_duration(value)
    millis = round(seconds * 1000)
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    if millis:
        parts.append(f"{millis}ms")
    return "".join(parts) or "0s"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def selector(metric: str, matchers: tuple[Matcher, ...]) -> str:
    """A vector selector: ``metric{label="value",...}``."""
    inside = ",".join(f"{m.name}{m.op.value}{_quote(m.value)}" for m in matchers)
    return f"{metric_name(metric)}{{{inside}}}" if inside else metric_name(metric)


def expression(rule: AlertRule) -> str:
    """The PromQL expression that is non-empty exactly when ``rule``'s condition holds."""
    chosen = selector(rule.metric, rule.parsed_matchers)
    window = duration(rule.window)
    if rule.function is Function.ABSENT:
        return f"absent_over_time({chosen}[{window}])"
    if rule.function is Function.RATE:
        base = f"rate({chosen}[{window}])"
    elif rule.aggregate is Aggregate.LAST:
        base = chosen
    else:
        base = f"{_FUNCTIONS[rule.aggregate]}({chosen}[{window}])"
    assert rule.op is not None and rule.value is not None
    return f"{base} {rule.op.value} {rule.value:g}"


def _template(text: str) -> str:
    # plimsoll's {value} and {label} become Prometheus' template variables.
    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("value", "actual"):
            return "{{ $value }}"
        if name in ("threshold", "expected", "metric", "rule"):
            return match.group(0)
        return "{{ $labels." + name + " }}"

    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", repl, text)


def alerting_rule(rule: AlertRule) -> dict[str, Any]:
    """One Prometheus alerting rule."""
    out: dict[str, Any] = {"alert": rule.name, "expr": expression(rule)}
    if rule.for_ is not None:
        out["for"] = duration(rule.for_)
    out["labels"] = {**rule.labels, "severity": rule.severity.value}
    annotations: dict[str, str] = {}
    if rule.summary:
        summary = rule.summary
        for name, value in (
            ("threshold", "" if rule.value is None else f"{rule.value:g}"),
            ("expected", "" if rule.value is None else f"{rule.value:g}"),
            ("metric", rule.metric),
            ("rule", rule.name),
        ):
            summary = summary.replace("{" + name + "}", value)
        annotations["summary"] = _template(summary)
    if rule.description:
        annotations["description"] = _template(rule.description)
    if annotations:
        out["annotations"] = annotations
    return out


def rule_file(config: AlertsConfig, group: str = "plimsoll") -> dict[str, Any]:
    """A Prometheus rule file holding every alert rule in one group."""
    return {
        "groups": [
            {
                "name": group,
                "interval": duration(config.evaluation_interval),
                "rules": [alerting_rule(rule) for rule in config.rules],
            }
        ]
    }


def _receiver(name: str, channel: Any) -> tuple[dict[str, Any], str | None]:
    """An Alertmanager receiver for a channel, or a note on why it has none."""
    receiver: dict[str, Any] = {"name": name}
    if isinstance(channel, WebhookChannel):
        receiver["webhook_configs"] = [
            {"url": channel.url.get_secret_value(), "send_resolved": True}
        ]
        return receiver, None
    if isinstance(channel, SmtpChannel):
        receiver["email_configs"] = [
            {
                "to": ", ".join(channel.to),
                "from": channel.sender,
                "smarthost": f"{channel.host}:{channel.port}",
                "require_tls": channel.starttls or channel.ssl,
                "send_resolved": True,
            }
        ]
        return receiver, None
    kind = getattr(channel, "kind", type(channel).__name__)
    return (
        receiver,
        f"channel {name} ({kind}) has no Alertmanager equivalent: its receiver is empty",
    )


def _receiver_name(channels: tuple[str, ...]) -> str:
    return "+".join(channels) if channels else "blackhole"


def alertmanager_config(
    config: AlertsConfig, notify: NotifyConfig
) -> tuple[dict[str, Any], list[str]]:
    """An Alertmanager configuration (route tree, receivers, inhibit rules) and notes.

    A route with several channels gets one receiver holding each channel's configuration.
    """
    routes = resolve_routes(config)
    receivers: dict[str, dict[str, Any]] = {}
    notes: list[str] = []

    def receiver(channels: tuple[str, ...]) -> str:
        name = _receiver_name(channels)
        if name not in receivers:
            merged: dict[str, Any] = {"name": name}
            for channel in channels:
                part, note = _receiver(channel, notify.channels[channel])
                if note and note not in notes:
                    notes.append(note)
                for key, value in part.items():
                    if key != "name":
                        merged.setdefault(key, []).extend(value)
            receivers[name] = merged
        return name

    default = routes[-1]
    tree: dict[str, Any] = {
        "receiver": receiver(default.channels),
        "group_by": list(default.group_by),
        "group_wait": duration(default.group_wait),
        "group_interval": duration(default.group_interval),
        "repeat_interval": duration(default.repeat_interval),
    }
    children = []
    for route in routes[:-1]:
        child: dict[str, Any] = {
            "receiver": receiver(route.channels),
            "matchers": [str(m) for m in route.matchers],
            "group_by": list(route.group_by),
            "group_wait": duration(route.group_wait),
            "group_interval": duration(route.group_interval),
            "repeat_interval": duration(route.repeat_interval),
        }
        if route.continue_:
            child["continue"] = True
        children.append(child)
    if children:
        tree["routes"] = children
    if config.maintenance:
        notes.append(
            "maintenance windows are not exported: use Alertmanager time_intervals or silences"
        )
    document: dict[str, Any] = {"route": tree, "receivers": list(receivers.values())}
    if config.inhibit:
        document["inhibit_rules"] = [
            {
                "source_matchers": [str(parse_matcher(m)) for m in rule.source_matchers],
                "target_matchers": [str(parse_matcher(m)) for m in rule.target_matchers],
                **({"equal": list(rule.equal)} if rule.equal else {}),
            }
            for rule in config.inhibit
        ]
    return document, notes


def to_yaml(document: Mapping[str, Any]) -> str:
    """YAML text of a document, keys in the order given."""
    import yaml

    class _NoAliases(yaml.SafeDumper):
        # A mapping used twice (shared labels) would be written as &id001 / *id001: valid
        # YAML, but not what anyone expects in a Prometheus rule file.
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return yaml.dump(dict(document), Dumper=_NoAliases, sort_keys=False, default_flow_style=False)
