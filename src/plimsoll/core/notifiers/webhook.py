"""The webhook notifier: the message as a JSON POST to a URL; any non-2xx status is a failure."""

from __future__ import annotations

from typing import ClassVar

from plimsoll.core.config import WebhookChannel
from plimsoll.core.notifiers.base import (
    Message,
    Notifier,
    display_url,
    http_request,
    status_error,
)


def webhook_payload(message: Message) -> dict[str, object]:
    """Return the JSON document a webhook receives: the message plus its rendered markdown."""
    return {"source": "plimsoll", **message.to_dict(), "markdown": message.markdown()}


class WebhookNotifier(Notifier[WebhookChannel]):
    """POSTs the message as JSON to the channel's URL, with its configured headers."""

    kind: ClassVar[str] = "webhook"

    def deliver(self, message: Message, channel: WebhookChannel) -> None:
        """POST ``message`` to ``channel.url``; raise DeliveryError on an I/O error or non-2xx."""
        url = channel.url.get_secret_value()
        headers = {name: value.get_secret_value() for name, value in channel.headers.items()}
        response = http_request(
            "POST",
            url,
            json_body=webhook_payload(message),
            headers=headers,
            timeout=channel.timeout_seconds,
        )
        if not response.ok:
            raise status_error(f"webhook {display_url(url)}", response)
