"""One evaluation cycle over every alert rule: observe, move the lifecycle, queue notifications.

The cycle reads every rule's samples in one call, evaluates the conditions with
`core.rules`, feeds the results to a `core.rules.ForTracker` (resumed from the store at start, so
a restart keeps each alert's pending time), then, in one store transaction, writes the state
changes and queues in the `core.notify` outbox the notifications that grouping and escalation
call for. Delivery happens apart (`Dispatcher.flush_outbox`, run by ``plimsoll runtime watch``
in its own thread): a channel that is down never slows the cycle, and what it missed is
delivered in order once it is back.

Besides the configured rules, a :class:`RuleSource` may bring rules whose observations it makes
itself (the SLO burn-rate alerts of :mod:`plimsoll.runtime.slo.alerting`, computed from SLO
events): their alerts then go through the same lifecycle, routing, grouping, silences,
inhibition and escalation. Without a source the cycle does nothing more than before.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from plimsoll.core.config import unknown_channels
from plimsoll.core.errors import ConfigError
from plimsoll.core.log import get_logger
from plimsoll.core.rules import ForTracker, HeldCondition, HoldState, parse_duration
from plimsoll.core.store import Store
from plimsoll.runtime.alerts.config import AlertsConfig, Route
from plimsoll.runtime.alerts.escalation import escalate
from plimsoll.runtime.alerts.grouping import (
    Member,
    group_of,
    plan,
    resolve_routes,
    routes_for,
)
from plimsoll.runtime.alerts.rule import AlertRule, Observation, evaluate_rule, render_resolved
from plimsoll.runtime.alerts.samples import SampleReader, freeze_labels
from plimsoll.runtime.alerts.silences import Muting
from plimsoll.runtime.alerts.state import Alert, AlertState, AlertStore, fingerprint
from plimsoll.runtime.config_loader import config_key, located

log = get_logger(__name__)

# An active alert whose state did not change is rewritten whole at least this often (its last
# evaluation too, read at a restart). In between only a value (and summary) that moved is
# written, with a narrow update: upserting thousands of rows every cycle would cost more than
# the evaluation itself, and readers (``alerts list``, ``slo``) want the current value.
REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class Transition:
    """One alert's change of state in a cycle."""

    fingerprint: str
    rule: str
    from_state: str | None
    to_state: str


@dataclass(frozen=True)
class CycleResult:
    """What one evaluation cycle did."""

    at: float
    rules: int
    observations: int
    transitions: tuple[Transition, ...] = ()
    notifications: int = 0
    escalations: int = 0
    seconds: float = 0.0
    no_data: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "at": self.at,
            "rules": self.rules,
            "observations": self.observations,
            "transitions": [t.__dict__ for t in self.transitions],
            "notifications": self.notifications,
            "escalations": self.escalations,
            "seconds": self.seconds,
        }


class RuleSource(Protocol):
    """Rules the engine evaluates alike, whose observations come from the source itself.

    ``rules`` are fixed for the source's life; ``routes`` go before the configured ones (so what
    the source routes takes precedence); ``observe`` returns, for one cycle at ``at``, each
    rule's observations (an observation whose ``holds`` is None keeps its alert as it was).
    """

    @property
    def rules(self) -> Sequence[AlertRule]:
        """The rules whose observations the source makes."""
        ...

    @property
    def routes(self) -> Sequence[Route]:
        """Routes for the source's alerts, tried before the configured ones."""
        ...

    def observe(self, at: float) -> Iterable[tuple[AlertRule, Observation]]:
        """Every observation of the source's rules at ``at``."""
        ...


def check_channels(
    config: AlertsConfig, known: Collection[str], where: str, source: str | None = None
) -> None:
    """Raise ConfigError naming the file (``source``) and key of the first channel that is
    not configured."""
    places: list[tuple[str, list[str]]] = [(config_key(where, "channels"), config.channels)]
    places += [
        (config_key(where, f"routes[{i}].channels"), r.channels)
        for i, r in enumerate(config.routes)
    ]
    for name, policy in config.escalation.items():
        places += [
            (config_key(where, f"escalation.{name}.levels[{i}].channels"), level.channels)
            for i, level in enumerate(policy.levels)
        ]
    for key, channels in places:
        problem = unknown_channels(key, channels, known)
        if problem is not None:
            raise ConfigError(located(source, problem))


def alert_labels(rule: AlertRule, series_labels: Mapping[str, str]) -> dict[str, str]:
    """An alert's labels: the series', the rule's, then ``alertname`` and ``severity``."""
    return {
        **series_labels,
        **rule.labels,
        "alertname": rule.name,
        "severity": rule.severity_label,
    }


class AlertEngine:
    """Evaluates the configured rules over a sample reader and keeps alerts in the store."""

    def __init__(
        self,
        config: AlertsConfig,
        store: Store,
        reader: SampleReader,
        *,
        channels: Collection[str] | None = None,
        where: str = "runtime.alerts",
        source: str | None = None,
        clock: Callable[[], float] = time.time,
        sources: Sequence[RuleSource] = (),
    ) -> None:
        if channels is not None:
            check_channels(config, channels, where, source)
        self._sources = tuple(sources)
        self._rules = {rule.name: rule for rule in config.rules}
        extra_routes: list[Route] = []
        for made in self._sources:
            for rule in made.rules:
                if rule.name in self._rules:
                    raise ConfigError(
                        located(
                            source,
                            f"{config_key(where, 'rules')}: the name {rule.name} is taken by a"
                            " rule plimsoll makes (an SLO burn alert): rename the configured rule",
                        )
                    )
                if rule.escalation is not None and rule.escalation not in config.escalation:
                    policies = ", ".join(config.escalation) or "none"
                    raise ConfigError(
                        located(
                            source,
                            f"rule {rule.name}: unknown escalation policy {rule.escalation!r}"
                            f" ({config_key(where, 'escalation')} has: {policies})",
                        )
                    )
                self._rules[rule.name] = rule
            extra_routes += made.routes
        if extra_routes:
            config = config.model_copy(update={"routes": [*extra_routes, *config.routes]})
        self.config = config
        self.store = store
        self.reader = reader
        self.alerts = AlertStore(store)
        self.routes = resolve_routes(config)
        self._clock = clock
        self._metrics = sorted({rule.metric for rule in config.rules})
        self._lookback = max((rule.window_seconds for rule in config.rules), default=0.0)
        self._retention = parse_duration(config.resolved_retention)
        # The active alerts as last written: the store is read in full at start, and again
        # when another engine (a second watcher on this store) wrote alerts since this one.
        self._writer = uuid.uuid4().hex
        self._last_writer = ""
        self._active: dict[str, Alert] = self.alerts.active()
        self._written: dict[str, float] = {fp: a.last_eval for fp, a in self._active.items()}
        self._shown: dict[str, tuple[float | None, str]] = {
            fp: (a.value, a.summary) for fp, a in self._active.items()
        }
        self._identities: dict[
            tuple[str, tuple[tuple[str, str], ...]], tuple[str, dict[str, str]]
        ] = {}
        # Where each alert is routed and grouped depends on its labels only: computed once.
        self._groups: dict[str, list[tuple[Any, str, dict[str, str]]]] = {}
        self._tracker, self._last = self._resume()
        # Pending alerts carried over a restart, with their last evaluation: see _after_outage.
        self._carried: dict[str, float] = {
            fp: a.last_eval for fp, a in self._active.items() if a.state is AlertState.PENDING
        }

    def _resume(self) -> tuple[ForTracker, float]:
        """A tracker continuing from the alerts the store says are active."""
        held = []
        last = 0.0
        for alert in self._active.values():
            rule = self._rules.get(alert.rule)
            hold = rule.hold_seconds if rule is not None else 0.0
            state = HoldState.PENDING if alert.state is AlertState.PENDING else HoldState.FIRING
            held.append(
                HeldCondition(alert.fingerprint, state, alert.active_since, alert.last_eval, hold)
            )
            last = max(last, alert.last_eval)
        return ForTracker.resume(held), last

    def _after_outage(self, at: float) -> None:
        """Restart the ``for`` countdown of pending alerts not evaluated for a while.

        A pending alert resumed after a stop longer than two evaluation intervals must hold for
        its whole ``for`` again, as Prometheus's ``for`` grace period has it: the first
        samples after an outage may be the stale ones from before it, and an alert must not
        fire on them the moment the engine is back. A short restart continues the countdown.
        """
        gap = 2 * parse_duration(self.config.evaluation_interval)
        for fp, last_eval in self._carried.items():
            if at - last_eval > gap:
                self._tracker.forget(fp)
        self._carried = {}

    # --- the cycle --------------------------------------------------------------------------

    def cycle(self, now: float | None = None) -> CycleResult:
        """Run one evaluation cycle at ``now`` (the clock by default)."""
        started = time.perf_counter()
        # Never earlier than the last observation: a clock step back must not break `for`.
        at = max(self._clock() if now is None else now, self._last)
        self._last = at
        if self._carried:
            self._after_outage(at)
        data = self.reader.series(self._metrics, at - self._lookback, at)
        seen: dict[str, tuple[AlertRule, dict[str, str], Observation, HeldCondition]] = {}
        count = 0
        for rule in self.config.rules:
            for obs in evaluate_rule(rule, data.get(rule.metric, ()), at):
                count += 1
                fp, labels = self._identity(rule, obs.labels)
                violated = None if obs.holds is None else not obs.holds
                held = self._tracker.observe(fp, at, violated, rule.hold_seconds)
                seen[fp] = (rule, labels, obs, held)
        for source in self._sources:
            for rule, obs in source.observe(at):
                count += 1
                fp, labels = self._identity(rule, obs.labels)
                violated = None if obs.holds is None else not obs.holds
                held = self._tracker.observe(fp, at, violated, rule.hold_seconds)
                seen[fp] = (rule, labels, obs, held)
        with self.alerts.db.transaction() as conn:
            stored = self._stored(conn)
            updates, events, transitions = self._lifecycle(stored, seen, at)
            active = {**stored, **{a.fingerprint: a for a in updates}}
            active = {fp: a for fp, a in active.items() if a.state.active}
            sent, escalations, escalated = self._notify(conn, active, updates, at)
            updates = _merge(updates, escalated)
            changed = {t.fingerprint for t in transitions} | {a.fingerprint for a in escalated}
            due: list[Alert] = []
            moved: list[Alert] = []
            for alert in updates:
                fp = alert.fingerprint
                if fp in changed or at - self._written.get(fp, 0.0) >= REFRESH_SECONDS:
                    due.append(alert)
                elif self._shown.get(fp) != (alert.value, alert.summary):
                    moved.append(alert)
            self.alerts.write(conn, due, events)
            self.alerts.refresh(conn, moved)
            if due or moved or events:
                self._claim_writes(conn)
            self.alerts.purge_resolved(conn, at - self._retention)
        for alert in (*due, *moved):
            self._written[alert.fingerprint] = at
            self._shown[alert.fingerprint] = (alert.value, alert.summary)
        self._active = {**active, **{a.fingerprint: a for a in escalated}}
        for fp in list(self._written):
            if fp not in self._active:
                del self._written[fp]
                self._shown.pop(fp, None)
        return CycleResult(
            at=at,
            rules=len(self._rules),
            observations=count,
            transitions=tuple(transitions),
            notifications=sent,
            escalations=escalations,
            seconds=time.perf_counter() - started,
        )

    def _identity(
        self, rule: AlertRule, series: tuple[tuple[str, str], ...]
    ) -> tuple[str, dict[str, str]]:
        """The fingerprint and labels of the alert of ``rule`` on a series (cached)."""
        key = (rule.name, series)
        found = self._identities.get(key)
        if found is None:
            if len(self._identities) > 100_000:  # series come and go: keep the cache bounded
                self._identities.clear()
            labels = alert_labels(rule, dict(series))
            found = self._identities[key] = (fingerprint(rule.name, freeze_labels(labels)), labels)
        return found

    def _stored(self, conn: Any) -> dict[str, Alert]:
        """The active alerts, with what other processes wrote since: acknowledgements, and
        every alert when another engine wrote (read again, so no change is made twice)."""
        acknowledged = self.alerts.acknowledgements(conn)  # first: it locks the alerts
        self._last_writer = self.alerts.last_writer(conn)
        if self._last_writer != self._writer:
            self._active = self.alerts.active(conn)
            self._written = {fp: a.last_eval for fp, a in self._active.items()}
            self._shown = {fp: (a.value, a.summary) for fp, a in self._active.items()}
        stored = dict(self._active)
        for fp, (acked_at, acked_by) in acknowledged.items():
            alert = stored.get(fp)
            if alert is not None and alert.state is AlertState.FIRING:
                stored[fp] = replace(
                    alert, state=AlertState.ACKNOWLEDGED, acked_at=acked_at, acked_by=acked_by
                )
        return stored

    def _claim_writes(self, conn: Any) -> None:
        """Mark this engine as the last to write alerts (once, not every cycle)."""
        if self._last_writer != self._writer:
            self.alerts.set_writer(conn, self._writer)
            self._last_writer = self._writer

    def _lifecycle(
        self,
        stored: Mapping[str, Alert],
        seen: Mapping[str, tuple[AlertRule, dict[str, str], Observation, HeldCondition]],
        at: float,
    ) -> tuple[list[Alert], list[tuple[str, float, str | None, str, str]], list[Transition]]:
        updates: list[Alert] = []
        events: list[tuple[str, float, str | None, str, str]] = []
        transitions: list[Transition] = []

        def move(alert: Alert, before: Alert | None, detail: str) -> None:
            updates.append(alert)
            if before is None or before.state is not alert.state:
                old = before.state.value if before is not None else None
                events.append((alert.fingerprint, at, old, alert.state.value, detail))
                transitions.append(Transition(alert.fingerprint, alert.rule, old, alert.state))

        for fp, (rule, labels, obs, held) in seen.items():
            before = stored.get(fp)
            if held.state is HoldState.INACTIVE:
                if before is not None:
                    # The resolve notification says what is observed now, not the last
                    # firing value (which would read as if the problem were still there).
                    detail = obs.message or (
                        render_resolved(rule, dict(obs.labels), obs.value)
                        if obs.value is not None
                        else before.summary
                    )
                    move(replace(_resolved(before, at, obs), summary=detail), before, detail)
                continue
            if before is None:
                alert = Alert(
                    fingerprint=fp,
                    rule=rule.name,
                    labels=labels,
                    severity=rule.severity_label,
                    state=AlertState.PENDING,
                    last_eval=at,
                    value=obs.value,
                    summary=obs.message,
                    active_since=held.since,
                )
            elif obs.holds is None:
                updates.append(replace(before, last_eval=at))
                continue
            else:
                alert = replace(
                    before,
                    last_eval=at,
                    value=obs.value,
                    summary=obs.message,
                    # A countdown restarted after an outage starts its pending time again.
                    active_since=held.since if held.since is not None else before.active_since,
                )
            if held.state is HoldState.FIRING and alert.state is AlertState.PENDING:
                alert = replace(alert, state=AlertState.FIRING, fired_at=at, escalation_level=0)
            move(alert, before, obs.message)
        for fp, before in stored.items():
            if fp in seen:
                continue
            # The series is gone (or the rule was removed): as in Prometheus, the alert resolves.
            self._tracker.forget(fp)
            gone = replace(before, summary=f"{before.summary} (no longer observed)")
            move(_resolved(gone, at, None), before, "series no longer observed")
        return updates, events, transitions

    def _notify(
        self, conn: Any, active: Mapping[str, Alert], updates: list[Alert], at: float
    ) -> tuple[int, int, list[Alert]]:
        """Plan grouping and escalation; queue the messages in the outbox."""
        notifiable = [
            a for a in active.values() if a.state in (AlertState.FIRING, AlertState.ACKNOWLEDGED)
        ]
        muting = Muting(
            self.alerts.silences(active_at=at), self.config.maintenance, self.config.inhibit
        )
        firing_labels = [a.labels for a in notifiable]
        members: list[Member] = []
        unmuted: list[Alert] = []
        for alert in notifiable:
            if muting.reason(alert.labels, at, firing_labels) is not None:
                continue
            unmuted.append(alert)
            found = self._groups.get(alert.fingerprint)
            if found is None:
                if len(self._groups) > 100_000:
                    self._groups.clear()
                found = self._groups[alert.fingerprint] = [
                    (route, *group_of(route, alert.labels))
                    for route in routes_for(self.routes, alert.labels)
                ]
            members += [Member(route, key, labels, alert) for route, key, labels in found]
        groups = self.alerts.groups(conn)
        sent_fps = sorted({fp for g in groups.values() for fp in g.sent if fp not in active})
        # This cycle's changes are not written yet: they take precedence over the stored rows.
        latest = {
            **self.alerts.by_fingerprints(conn, sent_fps),
            **{a.fingerprint: a for a in updates},
        }
        resolved = {fp: a for fp, a in latest.items() if a.state is AlertState.RESOLVED}
        notes, changed, removed = plan(groups, members, resolved, self.routes, at)
        self.alerts.save_groups(conn, changed, removed)
        queued = 0
        for note in notes:
            queued += self._queue(note.message().to_dict(), note.channels, at)
        escalated: list[Alert] = []
        count = 0
        for alert in unmuted:
            rule = self._rules.get(alert.rule)
            if rule is None or rule.escalation is None:
                continue
            due = escalate(rule.escalation, self.config.escalation[rule.escalation], alert, at)
            for step in due:
                count += self._queue(step.message().to_dict(), step.channels, at)
            if due:
                escalated.append(replace(alert, escalation_level=due[-1].level + 1))
        return queued, count, escalated

    def _queue(self, payload: dict[str, Any], channels: Collection[str], at: float) -> int:
        # Joined to the cycle's transaction: the state change and its message commit together.
        for channel in channels:
            self.store.outbox_add(channel, payload, now=at, next_attempt_at=at)
        return len(channels)


def _resolved(alert: Alert, at: float, obs: Observation | None) -> Alert:
    return replace(
        alert,
        state=AlertState.RESOLVED,
        resolved_at=at,
        last_eval=at,
        value=obs.value if obs is not None else alert.value,
    )


def _merge(updates: list[Alert], later: list[Alert]) -> list[Alert]:
    """``updates`` with the alerts of ``later`` replacing those of the same fingerprint."""
    if not later:
        return updates
    newer = {a.fingerprint: a for a in later}
    merged = [newer.pop(a.fingerprint, a) for a in updates]
    return merged + list(newer.values())
