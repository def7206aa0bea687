"""``service``: a real HTTP request to a service this one depends on, its status and latency.

One request per run (``GET`` by default) with ``http.client``: no proxy and no redirect is
followed, since what is checked is that service answering, not a proxy in front of it or
the page a redirect leads to. The answer passes when its status is one of
``expected_status`` (200 by default); ``observedValue`` is the time until the response was
read (at most 64 KiB of body), in milliseconds, under ``<component>:responseTime``, with
optional latency thresholds for ``warn`` and ``fail``. The socket timeout is the check's
timeout.
"""

from __future__ import annotations

import http.client
import re
import ssl
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from plimsoll.runtime.checks.thresholds import elapsed_ms, threshold_pair
from plimsoll.runtime.health import CheckResult, HealthCheck, Status, by_threshold, timed_out

# Enough of the body to know the server sent it; the rest is not read.
MAX_BODY_BYTES = 64 * 1024
_METHOD = re.compile(r"^[A-Z]+$")


class ServiceHealthCheck(HealthCheck):
    """Sends one HTTP request; passes when the status is expected, reports the latency.

    Options: ``url`` (http or https), ``method``, ``expected_status`` (one status or a list),
    ``headers``, ``verify_tls`` (default true), ``latency_warn_ms``, ``latency_fail_ms``.
    """

    name = "service"
    measurement = "responseTime"
    component_type = "component"

    def __init__(
        self,
        *,
        url: str,
        method: str = "GET",
        expected_status: int | Sequence[int] = 200,
        headers: Mapping[str, str] | None = None,
        verify_tls: bool = True,
        latency_warn_ms: float | None = None,
        latency_fail_ms: float | None = None,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an http:// or https:// URL with a host")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("url has an invalid port") from None
        method = method.upper()
        if not _METHOD.match(method):
            raise ValueError(f"method {method!r} is not an HTTP method")
        statuses = (expected_status,) if isinstance(expected_status, int) else expected_status
        if not statuses or any(not 100 <= s <= 599 for s in statuses):
            raise ValueError("expected_status must be one or more HTTP statuses (100-599)")
        self.latency = threshold_pair("latency", latency_warn_ms, latency_fail_ms)
        self.url = url
        self.method = method
        self.expected_status = tuple(statuses)
        self.headers = dict(headers or {})
        self.verify_tls = verify_tls
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # No user info and no query (they may hold credentials): scheme, host, port and path.
        netloc = f"[{self._host}]" if ":" in self._host else self._host
        netloc += f":{port}" if port else ""
        self.component_id = self.component_id or f"{parts.scheme}://{netloc}{parts.path or '/'}"

    def _connection(self) -> http.client.HTTPConnection:
        if self._https:
            context = ssl.create_default_context()
            if not self.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout_seconds, context=context
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout_seconds)

    def check(self) -> CheckResult:
        """Send the request; fail on an unexpected status, a timeout or a connection error."""
        connection = self._connection()
        started = time.perf_counter()
        try:
            connection.request(self.method, self._target, headers=self.headers)
            response = connection.getresponse()
            response.read(MAX_BODY_BYTES)
            status = response.status
        except TimeoutError:
            return self.result(Status.FAIL, output=timed_out(self.timeout_seconds))
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            return self.result(Status.FAIL, output=f"{type(exc).__name__}: {reason}")
        finally:
            connection.close()
        elapsed = elapsed_ms(started)
        if status not in self.expected_status:
            expected = " or ".join(str(s) for s in self.expected_status)
            return self.result(Status.FAIL, elapsed, "ms", f"HTTP {status} (expected {expected})")
        verdict = by_threshold(elapsed, *self.latency)
        return self.result(verdict, elapsed, "ms", f"HTTP {status} in {elapsed:g} ms")
