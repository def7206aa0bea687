"""The ``alert_only`` strategy's message: a failed hook reported through a notifier.

The sink is a ``core.notify.Dispatcher`` (anything with ``send(message, channels)``) or a plain
callable taking the same two arguments. A failure to alert is logged, never raised: alerting
must not break the run it reports on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from plimsoll.core.hooks.model import Hook
from plimsoll.core.hooks.trace import HookResult
from plimsoll.core.log import get_logger

if TYPE_CHECKING:
    from plimsoll.core.config import NotifyConfig
    from plimsoll.core.notifiers.base import Message
    from plimsoll.core.notify import Dispatcher
    from plimsoll.core.store import Store

log = get_logger(__name__)

# The body quotes the end of the traceback: the part that names the failing line.
TRACEBACK_LINES = 12


class AlertSink(Protocol):
    """Something that sends a message to channels, like ``core.notify.Dispatcher``."""

    def send(self, message: Message, channels: list[str] | None = None) -> object:
        """Send ``message`` to ``channels`` (None: the sink's defaults)."""
        ...


AlertTarget = AlertSink | Callable[["Message", list[str] | None], object]


class NotifyAlerts:
    """An :class:`AlertSink` delivering through a ``core.notify.Dispatcher`` built on first use.

    Building the dispatcher loads the notifier plugins, so a run whose hooks never fail pays
    nothing for it. ``store`` keeps the channels' breakers and the outbox (what could not be
    delivered is sent by a later flush); without one the dispatcher keeps them in memory. A
    message delivered to no channel raises, so the caller logs it as not sent.
    """

    def __init__(self, config: NotifyConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = store
        self._lock = threading.Lock()
        self._dispatcher: Dispatcher | None = None

    def send(self, message: Message, channels: list[str] | None = None) -> list[Any]:
        """Send ``message`` to ``channels`` (None: notify's default channels, else all)."""
        from plimsoll.core.notifiers.base import DeliveryError

        # Hooks of a parallel phase may alert at once: one dispatcher, one send at a time.
        with self._lock:
            if self._dispatcher is None:
                from plimsoll.core.notify import Dispatcher

                self._dispatcher = Dispatcher(self.config, self.store)
            results = self._dispatcher.send(message, channels)
        if not results:
            raise DeliveryError("no notify channel is configured")
        if not any(result.delivered for result in results):
            reasons = "; ".join(f"{r.channel}: {r.status.value} ({r.error})" for r in results)
            raise DeliveryError(f"not delivered: {reasons}")
        return results

    def close(self) -> None:
        """Close the dispatcher (and the store it opened itself)."""
        with self._lock:
            if self._dispatcher is not None:
                self._dispatcher.close()
                self._dispatcher = None


def build_message(hook: Hook, result: HookResult, run_id: str) -> Message:
    """Return the alert for a failed hook."""
    # Imported here: core.notifiers pulls in core.config, which embeds HookSpec from this package.
    from plimsoll.core.notifiers.base import Message, Severity

    outcome = result.outcome.value.replace("_", " ")
    body = f"Hook `{hook.name}` {outcome} in phase `{hook.phase}`: {result.error or 'no message'}"
    if result.traceback:
        tail = "\n".join(result.traceback.rstrip().splitlines()[-TRACEBACK_LINES:])
        body += f"\n\n```\n{tail}\n```"
    return Message(
        title=f"plimsoll hook {hook.name} {outcome} ({hook.phase})",
        body=body,
        severity=Severity.WARNING,
        fields={
            "hook": hook.name,
            "phase": hook.phase,
            "outcome": result.outcome.value,
            "attempts": result.attempts,
            "run_id": run_id,
        },
        tags=("plimsoll", "hooks"),
        key=hook.key,
    )


def send_alert(target: AlertTarget | None, hook: Hook, result: HookResult, run_id: str) -> bool:
    """Send the alert for ``result``; return True when the sink accepted it."""
    fields = {"event": "hook_alert", "phase": hook.phase, "hook": hook.name, "run_id": run_id}
    if target is None:
        log.warning(
            "hook %s failed under alert_only but no notifier was given to the executor",
            hook.name,
            extra={**fields, "outcome": "not_sent"},
        )
        return False
    channels = list(hook.channels) or None
    message = build_message(hook, result, run_id)
    try:
        if callable(target):
            target(message, channels)
        else:
            target.send(message, channels)
    except Exception as exc:  # alerting must never break the run it reports on
        log.warning(
            "hook %s: alert could not be sent: %s",
            hook.name,
            exc,
            extra={**fields, "outcome": "not_sent"},
        )
        return False
    log.info("hook %s: alert sent", hook.name, extra={**fields, "outcome": "sent"})
    return True
