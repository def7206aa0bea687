"""Grouping and timing of notifications, as in Alertmanager (pure logic, no I/O).

Alerts are routed (first matching route, or more with ``continue``; else the default route) and
grouped by the route's ``group_by`` labels. A new group waits ``group_wait`` before its first
notification, so alerts firing together arrive together; a group whose alerts changed (one more
firing, one resolved) is notified again at most every ``group_interval``; an unchanged group
that still fires is reminded every ``repeat_interval`` (not when all its alerts are
acknowledged). When the last alert of a group resolves, a resolve notification is sent (with
``send_resolved``) and the group is forgotten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from plimsoll.core.notifiers.base import Message, Severity
from plimsoll.core.rules import parse_duration
from plimsoll.runtime.alerts.config import AlertsConfig
from plimsoll.runtime.alerts.silences import Matcher, matches_all, parse_matchers
from plimsoll.runtime.alerts.state import Alert, AlertState, GroupState

# `group_by = ["..."]` groups by every label: one group per alert (Alertmanager's spelling).
ALL_LABELS = "..."

# The SLO burn alerts' ``page`` and ``ticket`` read as critical and warning.
_SEVERITY = {
    "info": Severity.INFO,
    "warning": Severity.WARNING,
    "ticket": Severity.WARNING,
    "error": Severity.ERROR,
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
}
_RANK = {"info": 0, "warning": 1, "ticket": 1, "error": 2, "critical": 3, "page": 3}


def message_severity(severity: str) -> Severity:
    """The `core.notify` severity of an alert's ``severity`` label (warning when unknown)."""
    return _SEVERITY.get(severity, Severity.WARNING)


@dataclass(frozen=True)
class RouteSpec:
    """A route with every inherited setting resolved, timings in seconds."""

    index: int
    matchers: tuple[Matcher, ...]
    channels: tuple[str, ...]
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float
    send_resolved: bool
    continue_: bool = False


def resolve_routes(config: AlertsConfig) -> list[RouteSpec]:
    """The configured routes then the default one (last, index ``len(routes)``)."""
    found = []
    for index, route in enumerate(config.routes):
        found.append(
            RouteSpec(
                index=index,
                matchers=parse_matchers(route.matchers),
                channels=tuple(route.channels or config.channels),
                group_by=tuple(route.group_by if route.group_by is not None else config.group_by),
                group_wait=parse_duration(route.group_wait or config.group_wait),
                group_interval=parse_duration(route.group_interval or config.group_interval),
                repeat_interval=parse_duration(route.repeat_interval or config.repeat_interval),
                send_resolved=(
                    config.send_resolved if route.send_resolved is None else route.send_resolved
                ),
                continue_=route.continue_,
            )
        )
    found.append(
        RouteSpec(
            index=len(config.routes),
            matchers=(),
            channels=tuple(config.channels),
            group_by=tuple(config.group_by),
            group_wait=parse_duration(config.group_wait),
            group_interval=parse_duration(config.group_interval),
            repeat_interval=parse_duration(config.repeat_interval),
            send_resolved=config.send_resolved,
        )
    )
    return found


def routes_for(routes: Sequence[RouteSpec], labels: Mapping[str, str]) -> list[RouteSpec]:
    """The routes an alert with ``labels`` takes (the default one when no other matches)."""
    taken = []
    for route in routes[:-1]:
        if matches_all(route.matchers, labels):
            taken.append(route)
            if not route.continue_:
                return taken
    return taken or [routes[-1]]


def group_of(route: RouteSpec, labels: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The key and the labels of the group an alert joins on ``route``."""
    if ALL_LABELS in route.group_by:
        chosen = dict(labels)
    else:
        chosen = {name: labels.get(name, "") for name in route.group_by}
    text = json.dumps(sorted(chosen.items()), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16], chosen


@dataclass(frozen=True)
class Notification:
    """One message a group sends: its alerts still firing and those resolved since the last."""

    route: int
    group_key: str
    group_labels: Mapping[str, str]
    channels: tuple[str, ...]
    firing: tuple[Alert, ...]
    resolved: tuple[Alert, ...]
    repeat: bool = False

    @property
    def status(self) -> str:
        """``firing`` while any alert fires, else ``resolved``."""
        return "firing" if self.firing else "resolved"

    def message(self) -> Message:
        """The notification as a `core.notify` message."""
        shown = self.firing or self.resolved
        names = sorted({a.rule for a in shown})
        group = ", ".join(f"{k}={v}" for k, v in sorted(self.group_labels.items()) if v)
        count = f":{len(self.firing)}" if self.firing else ""
        title = f"[{self.status.upper()}{count}] {', '.join(names)}"
        if group:
            title += f" ({group})"
        worst = max((a.severity for a in self.firing), key=lambda s: _RANK.get(s, 0), default="")
        severity = message_severity(worst) if self.firing else Severity.SUCCESS
        lines = []
        if self.firing:
            lines.append("**Firing**")
            lines += [_line(a) for a in self.firing]
        if self.resolved:
            lines.append("**Resolved**")
            lines += [_line(a) for a in self.resolved]
        return Message(
            title=title,
            body="\n".join(lines),
            severity=severity,
            fields={
                "status": self.status,
                "firing": len(self.firing),
                "resolved": len(self.resolved),
                "repeat": self.repeat,
                **{f"group.{k}": v for k, v in sorted(self.group_labels.items())},
                "fingerprints": ",".join(a.fingerprint for a in (*self.firing, *self.resolved)),
            },
            tags=("alert", self.status),
        )


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _line(alert: Alert) -> str:
    labels = ", ".join(
        f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in ("alertname",)
    )
    state = alert.state.value
    since = alert.resolved_at if alert.state is AlertState.RESOLVED else alert.fired_at
    return f"- {alert.rule} [{state} {_when(since)}] {{{labels}}}: {alert.summary}"


@dataclass(frozen=True)
class Member:
    """An alert to notify on one route, with the group it joins there."""

    route: RouteSpec
    key: str
    group_labels: Mapping[str, str]
    alert: Alert


def plan(
    groups: Mapping[tuple[int, str], GroupState],
    members: Iterable[Member],
    resolved: Mapping[str, Alert],
    routes: Sequence[RouteSpec],
    now: float,
) -> tuple[list[Notification], list[GroupState], list[tuple[int, str]]]:
    """Decide what every group sends at ``now``.

    ``members`` are the alerts to notify (firing or acknowledged, not muted), each on its
    route; ``resolved`` holds the stored alerts resolved since, by fingerprint. Returns the
    notifications, the group states to save and the group keys to forget.
    """
    by_group: dict[tuple[int, str], list[Member]] = {}
    for member in members:
        by_group.setdefault((member.route.index, member.key), []).append(member)
    notifications: list[Notification] = []
    changed: list[GroupState] = []
    removed: list[tuple[int, str]] = []
    for gid in sorted(set(groups) | set(by_group)):
        inside = by_group.get(gid, [])
        route = routes[gid[0]] if gid[0] < len(routes) else None
        state = groups.get(gid)
        if route is None:  # the route went away with a configuration change
            removed.append(gid)
            continue
        if state is None:
            if not inside:
                continue
            state = GroupState(gid[0], gid[1], dict(inside[0].group_labels), created_at=now)
            changed.append(state)
        firing = tuple(sorted((m.alert for m in inside), key=lambda a: a.fingerprint))
        current = {a.fingerprint for a in firing}
        gone = tuple(resolved[fp] for fp in state.sent if fp not in current and fp in resolved)
        send, repeat = _due(state, route, current, firing, now)
        if send:
            shown = gone if route.send_resolved else ()
            if firing or shown:
                notifications.append(
                    Notification(
                        gid[0], gid[1], dict(state.labels), route.channels, firing, shown, repeat
                    )
                )
            if not firing:
                removed.append(gid)
                changed = [g for g in changed if (g.route, g.key) != gid]
                continue
            changed = [g for g in changed if (g.route, g.key) != gid]
            changed.append(
                replace(
                    state,
                    last_sent_at=now,
                    sent=tuple(sorted(current)),
                    sends=state.sends + 1,
                )
            )
        elif not firing and state.last_sent_at is None:
            removed.append(gid)  # resolved before anything was said: nothing to tell
            changed = [g for g in changed if (g.route, g.key) != gid]
    return notifications, changed, removed


def _due(
    state: GroupState,
    route: RouteSpec,
    current: set[str],
    firing: Sequence[Alert],
    now: float,
) -> tuple[bool, bool]:
    """Whether the group sends now, and whether that is a repeat of the same content."""
    if state.last_sent_at is None:
        return bool(firing) and now >= state.created_at + route.group_wait, False
    if current != set(state.sent):
        return now >= state.last_sent_at + route.group_interval, False
    unacknowledged = any(a.state is AlertState.FIRING for a in firing)
    if firing and unacknowledged and now >= state.last_sent_at + route.repeat_interval:
        return True, True
    return False, False
