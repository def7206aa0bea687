"""SLO burn-rate alerts raised by plimsoll itself, through the alert engine.

:class:`BurnRateSource` is a rule source of :class:`~plimsoll.runtime.alerts.engine.AlertEngine`
(``plimsoll runtime watch`` adds it when objectives are configured). Each burn alert of
``runtime.slo.burn_alerts`` becomes one alert rule, named as in the exported Prometheus rules
(``fast-burn`` -> ``SLOFastBurn``); every cycle, for each objective, the source counts the
objective's events over the alert's two windows (:mod:`.storage`: recorded SLO events or
sampled counters) and observes, per objective, the smaller of the two burn rates against the
alert's factor: the condition holds when both windows burn faster than the factor, exactly when
the exported rule would fire. The alerts then live the life of any alert (pending, firing,
acknowledged, resolved in the store; grouping, silences, maintenance, inhibition, escalation,
delivery through ``core.notify``), and resolve once the short window stops burning.

An alert's labels: the objective's ``labels``, ``slo`` (its name), ``burn`` (the burn alert's
name), ``window`` (``1h/5m``), ``alertname`` and ``severity`` (the burn alert's: ``page`` or
``ticket``). Its summary gives both burn rates and what is left of the period's budget. An
objective's ``channels`` route its burn alerts there (ahead of ``runtime.alerts.routes``);
without them the alert routes decide as for any alert.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from plimsoll.core.config import unknown_channels
from plimsoll.core.errors import ConfigError
from plimsoll.core.rules import Severity
from plimsoll.core.store import Store
from plimsoll.runtime.alerts.config import Route
from plimsoll.runtime.alerts.rule import AlertRule, Observation
from plimsoll.runtime.alerts.samples import Labels, freeze_labels
from plimsoll.runtime.config_loader import config_key, located
from plimsoll.runtime.slo import storage
from plimsoll.runtime.slo.budget import budget
from plimsoll.runtime.slo.burn import AlertResult, evaluate
from plimsoll.runtime.slo.model import BurnAlert, Objective, SloConfig

if TYPE_CHECKING:
    from plimsoll.runtime.alerts.state import Alert

__all__ = [
    "BURN_METRIC",
    "BurnRateSource",
    "BurnRule",
    "active_alerts",
    "burn_labels",
    "burn_rule",
    "summary",
]

BURN_METRIC = "slo_burn_rate"
"""What a burn rule observes: the smaller of its two windows' burn rates (in its messages)."""


class BurnRule(AlertRule):
    """A burn alert as an alert rule: fires while both windows burn faster than ``value``."""

    burn: BurnAlert

    @property
    def severity_label(self) -> str:
        """The burn alert's own severity (``page``, ``ticket``), as its alerts' label."""
        return self.burn.severity

    @property
    def windows(self) -> tuple[float, float]:
        """The long and the short window, in seconds."""
        return self.burn.long_seconds, self.burn.short_seconds


def burn_rule(alert: BurnAlert) -> BurnRule:
    """The alert rule of one burn alert (no ``for``: the short window already debounces)."""
    return BurnRule.model_validate(
        {
            "name": alert.alertname,
            "metric": BURN_METRIC,
            "op": ">",
            "value": alert.factor,
            "severity": Severity.CRITICAL if alert.pages else Severity.WARNING,
            "escalation": alert.escalation,
            "description": (
                f"An SLO's error budget burns faster than {alert.factor:g}x over both"
                f" {alert.long} and {alert.short}"
            ),
            "burn": alert,
        }
    )


def burn_labels(objective: Objective, alert: BurnAlert) -> dict[str, str]:
    """The labels of ``objective``'s alert for ``alert`` (``alertname`` and ``severity`` aside)."""
    return {**objective.labels, "slo": objective.name, "burn": alert.name, "window": alert.window}


def _rate(value: float) -> str:
    return f"{value:.3g}x"


def summary(objective: Objective, result: AlertResult, left: float | None) -> str:
    """What a firing burn alert says: both burn rates, the threshold, the budget left."""
    alert = result.alert
    text = (
        f"SLO {objective.name} burns its error budget at {_rate(result.long_rate)} over"
        f" {alert.long} and {_rate(result.short_rate)} over {alert.short}"
        f" (alert above {alert.factor:g}x)"
    )
    if left is None:
        return text
    if left < 0:
        return f"{text}; the {objective.period} budget is overspent by {-left:.1%}"
    return f"{text}; {left:.1%} of the {objective.period} budget left"


class BurnRateSource:
    """The burn alerts of every configured objective, as a rule source of the alert engine.

    ``channels`` are the configured notification channels and ``policies`` the escalation
    policies of ``runtime.alerts`` (an objective or burn alert naming another is a ConfigError
    naming its key; None checks nothing); ``where`` is what such errors name the section.
    """

    def __init__(
        self,
        config: SloConfig,
        store: Store,
        *,
        channels: Collection[str] | None = None,
        policies: Collection[str] | None = None,
        where: str = "runtime.slo",
        source: str | None = None,
    ) -> None:
        self.config = config
        self.store = store
        for index, alert in enumerate(config.burn_alerts):
            if policies is not None and alert.escalation not in (None, *policies):
                raise ConfigError(
                    located(
                        source,
                        f"{config_key(where, f'burn_alerts[{index}].escalation')}: unknown"
                        f" escalation policy {alert.escalation!r} (runtime.alerts.escalation"
                        f" has: {', '.join(sorted(policies)) or 'none'})",
                    )
                )
        rules: dict[str, BurnRule] = {}
        plans: list[tuple[Objective, tuple[tuple[BurnRule, Labels], ...]]] = []
        routes: list[Route] = []
        for index, objective in enumerate(config.objectives):
            entries = []
            for alert in config.alerts_for(objective):
                rule = rules.get(alert.name)
                if rule is None:
                    rule = rules[alert.name] = burn_rule(alert)
                entries.append((rule, freeze_labels(burn_labels(objective, alert))))
            if entries:
                plans.append((objective, tuple(entries)))
            if objective.channels:
                key = config_key(where, f"objectives[{index}].channels")
                problem = (
                    unknown_channels(key, objective.channels, channels)
                    if channels is not None
                    else None
                )
                if problem is not None:
                    raise ConfigError(located(source, problem))
                # Only this objective's burn alerts: `burn` is a label no other alert sets.
                routes.append(
                    Route(
                        matchers=[f'slo="{objective.name}"', 'burn=~".+"'],
                        channels=list(objective.channels),
                    )
                )
        self._rules = tuple(rules.values())
        self._routes = tuple(routes)
        self._plans = tuple(plans)

    @property
    def rules(self) -> Sequence[AlertRule]:
        """One rule per burn alert some objective uses."""
        return self._rules

    @property
    def routes(self) -> Sequence[Route]:
        """A route per objective with ``channels``."""
        return self._routes

    def observe(self, at: float) -> list[tuple[AlertRule, Observation]]:
        """Every objective's burn alerts at ``at``, from the events in the store.

        An objective whose events cannot be counted (a latency threshold that is no bucket
        bound) is observed as "no data": its alerts stay as they were, with the reason.
        """
        out: list[tuple[AlertRule, Observation]] = []
        for objective, entries in self._plans:
            try:
                lengths = {s for rule, _ in entries for s in rule.windows}
                counts_for = storage.window_counts(self.store, objective, at, lengths)
                results = evaluate(counts_for, objective.target, [r.burn for r, _ in entries])
                left = None
                if any(r.firing for r in results):
                    counts = counts_for(objective.period_seconds)
                    left = budget(counts, objective.target).remaining_fraction
            except ConfigError as exc:
                reason = str(exc)  # it names the objective and what is wrong
                out += [(rule, Observation(rule.name, labels, None, None, reason))
                        for rule, labels in entries]  # fmt: skip
                continue
            for (rule, labels), result in zip(entries, results, strict=True):
                # Said when it fires, and when it resolves (the rates then, with no budget).
                message = summary(objective, result, left)
                value = min(result.long_rate, result.short_rate)
                out.append((rule, Observation(rule.name, labels, value, result.firing, message)))
        return out


def active_alerts(store: Store, at: float | None = None) -> dict[str, list[Alert]]:
    """The burn alerts not resolved in ``store`` (raised by ``runtime watch``), by objective.

    With ``at``, those that were not resolved then, from the alerts' recorded changes (as far
    back as the store keeps resolved alerts: ``runtime.alerts.resolved_retention``).
    """
    from plimsoll.runtime.alerts.state import AlertState, AlertStore

    alerts = AlertStore(store)
    if at is None:
        candidates = alerts.alerts([s for s in AlertState if s.active])
    else:
        candidates = [a for a in alerts.alerts_at(at) if a.state.active]
    found: dict[str, list[Alert]] = {}
    for alert in candidates:
        # `burn` marks the alerts of this module (see burn_labels); other rules never set it.
        if "burn" in alert.labels and "slo" in alert.labels:
            found.setdefault(alert.labels["slo"], []).append(alert)
    return found
