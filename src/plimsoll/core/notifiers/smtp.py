"""The SMTP notifier: one plain-text email (the markdown body) through an SMTP server."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import ClassVar

from plimsoll.core.config import SmtpChannel
from plimsoll.core.log import get_logger
from plimsoll.core.notifiers.base import DeliveryError, Message, Notifier

log = get_logger(__name__)


def build_email(message: Message, channel: SmtpChannel) -> EmailMessage:
    """Return the email for ``message``: subject with the prefix, the markdown as the text body."""
    email = EmailMessage()
    prefix = channel.subject_prefix.strip()
    email["Subject"] = f"{prefix} {message.title}" if prefix else message.title
    email["From"] = channel.sender
    email["To"] = ", ".join(channel.to)
    email["Date"] = formatdate(localtime=False, usegmt=True)
    email["Message-ID"] = make_msgid(domain="plimsoll")
    email["X-Plimsoll-Severity"] = message.severity.value
    if message.key:
        email["X-Plimsoll-Key"] = message.key
    email.set_content(message.markdown() or message.title)
    return email


class SmtpNotifier(Notifier[SmtpChannel]):
    """Sends the message as one email, with SSL, STARTTLS and login as configured."""

    kind: ClassVar[str] = "smtp"

    def deliver(self, message: Message, channel: SmtpChannel) -> None:
        """Send ``message`` to ``channel.to``; raise DeliveryError when the server refuses."""
        if not channel.to:
            raise DeliveryError("smtp: no recipients configured (to)", retryable=False)
        email = build_email(message, channel)
        # A verifying context: smtplib's own default would accept any certificate.
        context = ssl.create_default_context()
        where = f"{channel.host}:{channel.port}"
        try:
            client: smtplib.SMTP
            if channel.ssl:
                client = smtplib.SMTP_SSL(
                    channel.host, channel.port, timeout=channel.timeout_seconds, context=context
                )
            else:
                client = smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_seconds)
            with client:
                client.ehlo()
                if channel.starttls and not channel.ssl:
                    client.starttls(context=context)
                    client.ehlo()
                if channel.username:
                    password = channel.password.get_secret_value() if channel.password else ""
                    client.login(channel.username, password)
                refused = client.send_message(email)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"smtp {where}: login refused ({exc.smtp_code})", retryable=False
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"smtp {where}: every recipient was refused: {', '.join(exc.recipients)}",
                retryable=False,
            ) from None
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise DeliveryError(
                f"smtp {where}: server answered {exc.smtp_code} {text}",
                retryable=exc.smtp_code < 500,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp {where}: {type(exc).__name__}: {exc}") from None
        if refused:
            # The others got it: sending again would duplicate their copy, so only warn.
            log.warning(
                "smtp %s: some recipients were refused: %s",
                where,
                ", ".join(sorted(refused)),
                extra={"event": "notify.smtp.refused", "refused": sorted(refused)},
            )
