"""The apprise notifier: any apprise URL (Slack, Teams, Discord, Mattermost, mailto, JSON, ...)."""

from __future__ import annotations

import logging
from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

from plimsoll.core.config import AppriseChannel
from plimsoll.core.notifiers.base import DeliveryError, Message, Notifier, Severity

# apprise has four levels; an error and a critical message both read as a failure there.
_NOTIFY_TYPES = {
    Severity.INFO: "info",
    Severity.SUCCESS: "success",
    Severity.WARNING: "warning",
    Severity.ERROR: "failure",
    Severity.CRITICAL: "failure",
}


def with_timeouts(url: str, seconds: float) -> str:
    """Return ``url`` with apprise's connect and read timeouts (``cto``, ``rto``) unless set.

    URL parameters are how apprise's network services take timeouts in every supported version.
    """
    query = urlsplit(url).query
    present = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    extra = [f"{name}={seconds:g}" for name in ("cto", "rto") if name not in present]
    if not extra:
        return url
    return url + ("&" if query else "?") + "&".join(extra)


class AppriseNotifier(Notifier[AppriseChannel]):
    """Sends the message through the apprise service named by the channel's URL."""

    kind: ClassVar[str] = "apprise"

    def deliver(self, message: Message, channel: AppriseChannel) -> None:
        """Notify through ``channel.url``; raise DeliveryError when apprise reports a failure."""
        # Imported here: apprise loads its many plugins on import, which every plimsoll command
        # would otherwise pay at start-up.
        import apprise

        client = apprise.Apprise()
        if not client.add(with_timeouts(channel.url.get_secret_value(), channel.timeout_seconds)):
            raise DeliveryError(
                "apprise: the URL is not one apprise understands (check its scheme and form)",
                retryable=False,
            )
        # apprise reports why a service failed only through its logger: capture it for the error.
        with apprise.LogCapture(level=logging.WARNING) as captured:
            ok = client.notify(
                body=message.markdown() or message.title,
                title=message.title,
                notify_type=apprise.NotifyType(_NOTIFY_TYPES[message.severity]),
                body_format=apprise.NotifyFormat.MARKDOWN,
            )
            reasons = captured.getvalue().strip().splitlines()
        if not ok:
            detail = f": {reasons[-1].split(' - ', 2)[-1]}" if reasons else ""
            raise DeliveryError(f"apprise: the service did not accept the message{detail}")
