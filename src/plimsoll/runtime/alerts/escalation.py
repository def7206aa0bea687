"""Escalation policies: levels notified in turn while an alert fires unacknowledged (pure logic).

Level ``i`` is due once the alert has fired for its ``delay``; each level is notified once per
firing episode (the store keeps how many were sent). An acknowledgement or a resolution stops
the escalation; a new episode starts again from the first level.
"""

from __future__ import annotations

from dataclasses import dataclass

from plimsoll.core.notifiers.base import Message
from plimsoll.runtime.alerts.config import EscalationPolicy
from plimsoll.runtime.alerts.grouping import message_severity
from plimsoll.runtime.alerts.state import Alert, AlertState


@dataclass(frozen=True)
class Escalation:
    """One escalation level to notify for one alert."""

    alert: Alert
    policy: str
    level: int
    channels: tuple[str, ...]

    def message(self) -> Message:
        """The escalation as a `core.notify` message."""
        labels = ", ".join(f"{k}={v}" for k, v in sorted(self.alert.labels.items()))
        return Message(
            title=f"[ESCALATION {self.level + 1}] {self.alert.rule}",
            body=f"{self.alert.summary}\n\nUnacknowledged since it fired; labels: {labels}",
            severity=message_severity(self.alert.severity),
            fields={
                "policy": self.policy,
                "level": self.level + 1,
                "fingerprint": self.alert.fingerprint,
                "fired_at": self.alert.fired_at,
            },
            tags=("alert", "escalation"),
        )


def due_levels(policy: EscalationPolicy, alert: Alert, now: float) -> list[int]:
    """The levels of ``policy`` to notify for ``alert`` at ``now`` (none once acknowledged)."""
    if alert.state is not AlertState.FIRING or alert.fired_at is None:
        return []
    elapsed = now - alert.fired_at
    return [
        index
        for index, level in enumerate(policy.levels)
        if index >= alert.escalation_level and elapsed >= level.delay_seconds
    ]


def escalate(name: str, policy: EscalationPolicy, alert: Alert, now: float) -> list[Escalation]:
    """The escalations due for ``alert`` under the policy called ``name``."""
    return [
        Escalation(alert, name, index, tuple(policy.levels[index].channels))
        for index in due_levels(policy, alert, now)
    ]
