"""Prometheus alerting rules and an Alertmanager configuration from the same alert definitions.

For a fleet scraped by Prometheus, the rules plimsoll evaluates itself become a rule file
(``promtool check rules`` accepts it) and the routes, timings and inhibition rules an
Alertmanager configuration. Metric names are the sample names the monitor stores (Prometheus
exposition names), so the expressions select the same series.

Some series exist only in plimsoll's store (:data:`STORE_ONLY_METRICS`): the statuses of the
health checks ``runtime watch`` runs, and the machine and process readings of plimsoll's
monitor. A service's ``/metrics`` exposes none of them, so a Prometheus rule over one could
never fire: such rules are left out of the rule file, each named in a note. Text written by
the user (a summary, a description) is escaped for Go's templates: a literal ``{{`` in it
stays literal text instead of breaking the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from plimsoll.core.config import AppriseChannel, NotifyConfig, SmtpChannel, WebhookChannel
from plimsoll.core.rules import parse_duration
from plimsoll.runtime.alerts.config import AlertsConfig
from plimsoll.runtime.alerts.grouping import resolve_routes
from plimsoll.runtime.alerts.rule import Aggregate, AlertRule, Function
from plimsoll.runtime.alerts.silences import Matcher, parse_matcher

_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Series only plimsoll's store holds: what `runtime watch` records of its health checks
# (plimsoll.runtime.watch.HEALTH_METRIC) and what the monitor reads with psutil
# (plimsoll.runtime.monitor; its process_resident_memory_bytes is also what prometheus_client's
# process collector exposes, so it is not here). Prometheus scraping a service never sees them.
STORE_ONLY_METRICS: dict[str, str] = {
    "health_check_status": "written by `plimsoll runtime watch` from its health checks",
    "system_cpu_percent": "sampled by plimsoll's monitor",
    "system_memory_percent": "sampled by plimsoll's monitor",
    "system_memory_available_bytes": "sampled by plimsoll's monitor",
    "system_disk_percent": "sampled by plimsoll's monitor",
    "process_cpu_percent": "sampled by plimsoll's monitor",
    "process_open_files": "sampled by plimsoll's monitor",
    "process_threads": "sampled by plimsoll's monitor",
}
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


def _escaped(literal: str, before_action: bool) -> str:
    """``literal`` as Go template text: ``{{`` written as an action printing it.

    A ``{`` right before an action would make ``{{{``, which Go reads as an action
    starting one brace early: it is written as an action too.
    """
    text = literal.replace("{{", '{{ "{{" }}')
    if before_action and text.endswith("{"):
        text = text[:-1] + '{{ "{" }}'
    return text


def _template(text: str, fixed: Mapping[str, str]) -> str:
    """plimsoll's ``{value}`` and ``{label}`` as Prometheus' template variables; the names in
    ``fixed`` (threshold, metric, rule) as their text; everything else literal."""
    pieces: list[tuple[bool, str]] = []  # (is an action, text)
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name in fixed:
            literal = text[position : match.start()] + fixed[name]
            pieces.append((False, literal))
        else:
            action = "{{ $value }}" if name in ("value", "actual") else f"{{{{ $labels.{name} }}}}"
            pieces += [(False, text[position : match.start()]), (True, action)]
        position = match.end()
    pieces.append((False, text[position:]))
    merged: list[tuple[bool, str]] = []
    for is_action, piece in pieces:
        if merged and not is_action and not merged[-1][0]:
            merged[-1] = (False, merged[-1][1] + piece)
        else:
            merged.append((is_action, piece))
    out = []
    for index, (is_action, piece) in enumerate(merged):
        followed = index + 1 < len(merged) and merged[index + 1][0]
        out.append(piece if is_action else _escaped(piece, followed))
    return "".join(out)


def alerting_rule(rule: AlertRule) -> dict[str, Any]:
    """One Prometheus alerting rule."""
    out: dict[str, Any] = {"alert": rule.name, "expr": expression(rule)}
    if rule.for_ is not None:
        out["for"] = duration(rule.for_)
    out["labels"] = {**rule.labels, "severity": rule.severity.value}
    threshold = "" if rule.value is None else f"{rule.value:g}"
    fixed = {"threshold": threshold, "expected": threshold, "metric": rule.metric}
    fixed["rule"] = rule.name
    annotations: dict[str, str] = {}
    if rule.summary:
        annotations["summary"] = _template(rule.summary, fixed)
    if rule.description:
        annotations["description"] = _template(rule.description, fixed)
    if annotations:
        out["annotations"] = annotations
    return out


def store_only(rule: AlertRule) -> str | None:
    """Why Prometheus could never evaluate ``rule`` (its metric is only in plimsoll's store),
    or None."""
    origin = STORE_ONLY_METRICS.get(rule.metric)
    if origin is None:
        return None
    return (
        f"rule {rule.name} left out: {rule.metric} is {origin} into plimsoll's store, and no"
        " service exposes it on /metrics, so Prometheus could never evaluate it"
        " (plimsoll runtime watch does)"
    )


def rule_file(config: AlertsConfig, group: str = "plimsoll") -> tuple[dict[str, Any], list[str]]:
    """A Prometheus rule file holding every alert rule Prometheus can evaluate, in one group,
    and a note on each rule left out."""
    notes = [note for rule in config.rules if (note := store_only(rule)) is not None]
    rules = [alerting_rule(rule) for rule in config.rules if store_only(rule) is None]
    groups = []
    if rules:
        groups.append(
            {"name": group, "interval": duration(config.evaluation_interval), "rules": rules}
        )
    return {"groups": groups}, notes


def _http_config(name: str, headers: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The ``http_config`` of a webhook's headers, and a note on each it cannot carry.

    ``Authorization: Bearer T`` (or another scheme) becomes ``authorization``; ``Basic``
    becomes ``basic_auth`` (Alertmanager refuses the Basic scheme in ``authorization``).
    """
    config: dict[str, Any] = {}
    notes = []
    for header, secret in headers.items():
        value = secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)
        if header.lower() != "authorization":
            notes.append(
                f"channel {name}: header {header} left out (an Alertmanager webhook sends"
                " no custom headers): put the value in the receiving URL, or a proxy"
            )
            continue
        scheme, _, credentials = value.strip().partition(" ")
        if scheme.lower() == "basic":
            import base64
            import binascii

            try:
                user, _, password = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                notes.append(f"channel {name}: its Basic Authorization header is not base64")
                continue
            config["basic_auth"] = {"username": user, "password": password}
        elif credentials:
            config["authorization"] = {"type": scheme, "credentials": credentials.strip()}
        else:
            config["authorization"] = {"credentials": scheme}  # a bare token: Bearer
    return config, notes


def _apprise_receiver(name: str, url: str) -> tuple[dict[str, Any], list[str]]:
    """Slack and Discord webhooks as Alertmanager receivers (parsed by apprise itself)."""
    import apprise
    from apprise.plugins.discord import NotifyDiscord
    from apprise.plugins.slack import NotifySlack

    kind = url.split(":", 1)[0].lower()
    found = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if isinstance(found, NotifySlack):
        if getattr(found, "mode", None) == "hook":
            tokens = [found.token_a, found.token_b, found.token_c]
            slack: dict[str, Any] = {
                "api_url": "/".join([found.webhook_url, *tokens]),
                "send_resolved": True,
            }
            channels = [c for c in (found.channels or []) if c]
            if channels:
                slack["channel"] = channels[0]
            notes = []
            if len(channels) > 1:
                notes.append(
                    f"channel {name}: Alertmanager posts to one Slack channel: {channels[0]}"
                    f" (not {', '.join(channels[1:])})"
                )
            return {"slack_configs": [slack]}, notes
        return {}, [
            f"channel {name} (a Slack bot token) has no Alertmanager equivalent: use a Slack"
            " webhook URL (slack://A/B/C)"
        ]
    if isinstance(found, NotifyDiscord):
        hook = f"https://discord.com/api/webhooks/{found.webhook_id}/{found.webhook_token}"
        return {"discord_configs": [{"webhook_url": hook, "send_resolved": True}]}, []
    return {}, [
        f"channel {name} (apprise {kind}://) has no Alertmanager equivalent: its receiver is empty"
    ]


def _receiver(name: str, channel: Any) -> tuple[dict[str, Any], list[str]]:
    """An Alertmanager receiver for a channel, and notes on what it could not carry."""
    receiver: dict[str, Any] = {"name": name}
    if isinstance(channel, WebhookChannel):
        webhook: dict[str, Any] = {"url": channel.url.get_secret_value(), "send_resolved": True}
        http_config, notes = _http_config(name, channel.headers)
        if http_config:
            webhook["http_config"] = http_config
        receiver["webhook_configs"] = [webhook]
        return receiver, notes
    if isinstance(channel, SmtpChannel):
        email: dict[str, Any] = {
            "to": ", ".join(channel.to),
            "from": channel.sender,
            "smarthost": f"{channel.host}:{channel.port}",
            "require_tls": channel.starttls or channel.ssl,
            "send_resolved": True,
        }
        if channel.username:
            email["auth_username"] = channel.username
        if channel.password is not None:
            email["auth_password"] = channel.password.get_secret_value()
        receiver["email_configs"] = [email]
        return receiver, []
    if isinstance(channel, AppriseChannel):
        part, notes = _apprise_receiver(name, channel.url.get_secret_value())
        return {**receiver, **part}, notes
    kind = getattr(channel, "kind", type(channel).__name__)
    return (
        receiver,
        [f"channel {name} ({kind}) has no Alertmanager equivalent: its receiver is empty"],
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
                part, found = _receiver(channel, notify.channels[channel])
                notes.extend(note for note in found if note not in notes)
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
