"""Notifiers: one module per channel kind, found through the ``plimsoll.notifiers`` entry points.

Built-ins register through the same entry-point group as third-party notifiers; they are also
known here directly so a source checkout without installed metadata still delivers.
"""

from __future__ import annotations

from typing import Any

from plimsoll.core import plugins
from plimsoll.core.log import get_logger
from plimsoll.core.notifiers.apprise import AppriseNotifier
from plimsoll.core.notifiers.base import DeliveryError, Message, Notifier, Severity
from plimsoll.core.notifiers.github_comment import GitHubCommentNotifier
from plimsoll.core.notifiers.github_summary import GitHubSummaryNotifier
from plimsoll.core.notifiers.smtp import SmtpNotifier
from plimsoll.core.notifiers.webhook import WebhookNotifier

__all__ = [
    "BUILTIN_NOTIFIERS",
    "DeliveryError",
    "Message",
    "Notifier",
    "Severity",
    "load_notifiers",
]

log = get_logger(__name__)

BUILTIN_NOTIFIERS: dict[str, type[Notifier[Any]]] = {
    cls.kind: cls
    for cls in (
        WebhookNotifier,
        AppriseNotifier,
        SmtpNotifier,
        GitHubCommentNotifier,
        GitHubSummaryNotifier,
    )
}


def load_notifiers() -> dict[str, type[Notifier[Any]]]:
    """Return the notifier classes by kind: the entry points, over the built-ins."""
    found: dict[str, type[Notifier[Any]]] = dict(BUILTIN_NOTIFIERS)
    for name, obj in plugins.discover(plugins.NOTIFIERS).loaded.items():
        if isinstance(obj, type) and issubclass(obj, Notifier):
            found[name] = obj
        else:
            log.warning(
                "notifier plugin %s is not a Notifier subclass; skipped",
                name,
                extra={"event": "plugin.invalid", "plugin": name, "group": plugins.NOTIFIERS},
            )
    return found
