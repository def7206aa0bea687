"""The notifier interface: the message, the delivery error, the ABC, and shared helpers.

A notifier delivers one :class:`Message` to one configured channel, or raises
:class:`DeliveryError`. Retries, the circuit breaker and the outbox live in
:mod:`plimsoll.core.notify`, never in a notifier.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

from plimsoll.core.errors import CannotRunError

USER_AGENT = "plimsoll"
REDACTED = "***"


class Severity(StrEnum):
    """How serious a message is; notifiers map it to their own levels."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


FieldValue = str | int | float | bool | None


@dataclass(frozen=True)
class Message:
    """A notification: a title, a markdown body, a severity, named fields, tags and a dedupe key.

    ``key`` identifies what the message is about (an alert, the code report of a pull request):
    a newer message with the same key supersedes an undelivered older one in the outbox, and a
    GitHub comment with the same key is edited rather than posted again.
    """

    title: str
    body: str = ""
    severity: Severity = Severity.INFO
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the message as JSON-ready data (the outbox payload and the webhook body)."""
        return {
            "title": self.title,
            "body": self.body,
            "severity": self.severity.value,
            "fields": dict(self.fields),
            "tags": list(self.tags),
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Rebuild a message from :meth:`to_dict` output."""
        return cls(
            title=str(data.get("title", "")),
            body=str(data.get("body", "")),
            severity=Severity(data.get("severity", Severity.INFO.value)),
            fields=dict(data.get("fields") or {}),
            tags=tuple(data.get("tags") or ()),
            key=data.get("key"),
        )

    def markdown(self) -> str:
        """Return the body followed by the fields as a markdown table (what most channels get)."""
        parts = [self.body.rstrip()] if self.body.strip() else []
        if self.fields:
            rows = ["| Field | Value |", "| --- | --- |"]
            rows += [f"| {_cell(k)} | {_cell(v)} |" for k, v in self.fields.items()]
            parts.append("\n".join(rows))
        return "\n\n".join(parts)


def _cell(value: object) -> str:
    return str("" if value is None else value).replace("|", "\\|").replace("\n", " ")


class DeliveryError(CannotRunError):
    """A message could not be delivered to a channel; the text never holds a secret.

    ``retryable`` is False when trying again cannot help until the configuration changes
    (a malformed URL, a rejected token): the dispatcher then stops retrying at once.
    """

    slug = "delivery"

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


C = TypeVar("C")


class Notifier(ABC, Generic[C]):
    """Delivers a message to one kind of channel; ``kind`` matches the channel config's ``kind``."""

    kind: ClassVar[str]

    @abstractmethod
    def deliver(self, message: Message, channel: C) -> None:
        """Deliver ``message`` through ``channel`` or raise :class:`DeliveryError`."""


# --- redaction ------------------------------------------------------------------------------

# Path segments and query values this short are words like "hooks" or "api", not secrets.
_MIN_SECRET_PART = 6


def secret_values(channel: object) -> list[str]:
    """Return every secret string of a channel config: its SecretStr values and their URL parts."""
    found: list[str] = []
    for value in _walk(channel):
        raw = value.get_secret_value()
        if raw:
            found.append(raw)
            found.extend(url_secret_parts(raw))
    return found


def _walk(value: object) -> Iterable[SecretStr]:
    if isinstance(value, SecretStr):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name))


def url_secret_parts(url: str) -> list[str]:
    """Return the URL parts that may carry a token: user info, long path segments, query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    if not parts.scheme or not parts.netloc:
        return []
    found: list[str] = []
    if parts.username:
        found.append(parts.username)
    if parts.password:
        found.append(parts.password)
    found += [seg for seg in parts.path.split("/") if len(seg) >= _MIN_SECRET_PART]
    found += [v for _, v in parse_qsl(parts.query) if len(v) >= _MIN_SECRET_PART]
    return found


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` (longest first) with ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _USERINFO.sub(r"\1" + REDACTED + "@", text)


# Credentials written into any URL (``scheme://user:pass@host``), known to us or not.
_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")


def display_url(url: str) -> str:
    """Return a URL safe to show: scheme, host and port only."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return REDACTED
    if not parts.scheme:
        return REDACTED
    return f"{parts.scheme}://{host}{port}/{REDACTED}"


# --- HTTP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResponse:
    """The status, headers and body of an HTTP response."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """Decode the body as JSON."""
        return json.loads(self.body.decode("utf-8") or "null")

    @property
    def ok(self) -> bool:
        """Return True for a 2xx status."""
        return 200 <= self.status < 300


def split_userinfo(url: str) -> tuple[str, str | None]:
    """``url`` without its ``user:password@`` part, and that part as a Basic auth header.

    urllib would take ``user:pw@host`` for a host name ("Name or service not known"); a
    webhook URL with credentials in it means HTTP Basic auth, as curl and requests read it.
    Returns ``(url, None)`` for a URL without user info (or one that does not parse).
    """
    try:
        parts = urlsplit(url)
        username, password = parts.username, parts.password
        host, port = parts.hostname, parts.port
    except ValueError:
        return url, None
    if username is None and password is None:
        return url, None
    netloc = host or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"  # an IPv6 literal keeps its brackets
    if port is not None:
        netloc += f":{port}"
    pair = f"{unquote(username or '')}:{unquote(password or '')}".encode()
    header = "Basic " + base64.b64encode(pair).decode("ascii")
    return urlunsplit(parts._replace(netloc=netloc)), header


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Answer a redirect with the 3xx response itself instead of following it.

    urllib would resend every header, the Authorization of a token or of a URL's
    ``user:password@`` included, to whatever host the redirect names (and turn a POST into a
    GET with no body whose 200 would count as delivered).
    """

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def http_request(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> HttpResponse:
    """Send one HTTP request and return the response, whatever its status.

    Redirects are not followed: a 3xx is returned as the answer (see :class:`_NoRedirects`).
    A network failure raises :class:`DeliveryError` naming only the host, never the full URL.
    """
    data = None
    all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if json_body is not None:
        data = json.dumps(json_body, default=str).encode("utf-8")
        all_headers["Content-Type"] = "application/json"
    target, basic = split_userinfo(url)
    if basic is not None:
        all_headers["Authorization"] = basic
    all_headers.update(headers or {})
    try:
        request = urllib.request.Request(target, data=data, headers=all_headers, method=method)
    except ValueError:
        raise DeliveryError(f"invalid URL {display_url(url)}", retryable=False) from None
    try:
        with _OPENER.open(request, timeout=timeout) as response:  # noqa: S310
            return HttpResponse(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            body = exc.read()
        return HttpResponse(exc.code, dict(exc.headers.items()), body)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{method} {display_url(url)} failed: {reason}") from None


def status_error(what: str, response: HttpResponse) -> DeliveryError:
    """Build the error for a non-2xx response: status, a short body excerpt, retryable or not."""
    excerpt = response.body[:200].decode("utf-8", "replace").strip()
    # 4xx means the request itself is wrong (bad token, missing repository), except for these
    # that say "later": retrying the others only burns the breaker.
    retryable = response.status >= 500 or response.status in (408, 409, 425, 429)
    detail = f": {excerpt}" if excerpt else ""
    if 300 <= response.status < 400:
        location = {k.lower(): v for k, v in response.headers.items()}.get("location", "")
        where = display_url(location) if location else "elsewhere"
        detail = f": redirected to {where}, not followed (configure the final URL)"
    return DeliveryError(f"{what} answered HTTP {response.status}{detail}", retryable=retryable)
