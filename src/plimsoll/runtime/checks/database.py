"""``database``: a real PostgreSQL connection and ``SELECT 1``, reported with its latency.

Each run opens a fresh connection (so authentication and the server accepting connections
are part of what is checked), runs ``SELECT 1`` and closes it; ``observedValue`` is the time
of both, in milliseconds, under ``<component>:responseTime``. Optional latency thresholds turn
a slow answer into ``warn`` or ``fail``. The connection carries a ``connect_timeout`` (libpq's
minimum is 2 s) and a ``statement_timeout``, so a stuck server ends the attempt by itself
soon after the runner has reported it as timed out.

The URL is kept as a secret: ``componentId`` is ``host:port/dbname``, and any password is
removed from error messages.
"""

from __future__ import annotations

import math
import time
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import SecretStr

from plimsoll.db.connection import masked_line, url_is_malformed
from plimsoll.runtime.checks.thresholds import elapsed_ms, threshold_pair
from plimsoll.runtime.health import (
    CheckContext,
    CheckResult,
    HealthCheck,
    Status,
    by_threshold,
)

APPLICATION_NAME = "plimsoll-health"
# libpq waits at least this long for a connection, whatever connect_timeout says.
LIBPQ_MIN_CONNECT_TIMEOUT = 2
_PASSWORD_KEYS = ("password", "sslpassword")


def _params(url: str) -> dict[str, Any]:
    try:
        return dict(conninfo_to_dict(url))
    except psycopg.Error:
        # libpq's message quotes the string it could not parse, password included.
        raise ValueError("url is not a valid PostgreSQL connection URL or conninfo") from None


def describe(params: dict[str, Any]) -> str:
    """``host:port/dbname`` of a connection (no user, no password)."""
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = params.get("port")
    where = f"{host}:{port}" if port else host
    dbname = params.get("dbname")
    return f"{where}/{dbname}" if dbname else where


class DatabaseHealthCheck(HealthCheck):
    """Connects to PostgreSQL and runs ``SELECT 1``; the latency of both is the observed value.

    Options: ``url`` (a libpq URL or conninfo; in configuration, ``environment`` names one of
    ``db.environments`` instead), ``connect_timeout_seconds`` (default: the check's timeout,
    at least 2), ``latency_warn_ms`` and ``latency_fail_ms``.
    """

    name = "database"
    measurement = "responseTime"
    component_type = "datastore"

    def __init__(
        self,
        *,
        url: str | SecretStr,
        connect_timeout_seconds: float | None = None,
        latency_warn_ms: float | None = None,
        latency_fail_ms: float | None = None,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        secret = url if isinstance(url, SecretStr) else SecretStr(url)
        if not secret.get_secret_value().strip():
            raise ValueError("url must not be empty")
        if url_is_malformed(secret.get_secret_value()):
            # libpq would take pieces of the password for the host, port or database, which
            # componentId and the messages show.
            raise ValueError(
                "url: its user or password is not read as written; percent-encode their special"
                " characters (@ as %40, / as %2F, : as %3A, # as %23, % as %25)"
            )
        self.latency = threshold_pair("latency", latency_warn_ms, latency_fail_ms)
        self.url = secret
        params = _params(secret.get_secret_value())
        # The passwords stay in the URL only (conninfo() adds it back): never in what is shown.
        for key in _PASSWORD_KEYS:
            params.pop(key, None)
        self._params = params
        self.component_id = self.component_id or describe(self._params)
        timeout = connect_timeout_seconds or self.timeout_seconds
        self.connect_timeout = max(LIBPQ_MIN_CONNECT_TIMEOUT, math.ceil(timeout))

    @classmethod
    def prepare_options(cls, options: dict[str, Any], context: CheckContext) -> dict[str, Any]:
        """Without ``url``, take the URL of ``environment`` (default: the default db environment)."""
        if "url" in options:
            if "environment" in options:
                raise ValueError("give either url or environment, not both")
            return options
        environment = options.pop("environment", None)
        if environment is not None and not isinstance(environment, str):
            raise ValueError("environment: expected the name of a db environment")
        if context.database_url is None:
            raise ValueError("url: required option is missing")
        return {**options, "url": context.database_url(environment)}

    def conninfo(self) -> str:
        """The connection string used: the URL plus timeouts and an application name."""
        statement_ms = max(1, int(self.timeout_seconds * 1000))
        # Options of the user's own URL (search_path, ...) are kept, the timeout appended.
        options = " ".join(
            part
            for part in (self._params.get("options"), f"-c statement_timeout={statement_ms}")
            if part
        )
        extra: dict[str, Any] = {"connect_timeout": self.connect_timeout, "options": options}
        if not self._params.get("application_name"):
            extra["application_name"] = APPLICATION_NAME
        return make_conninfo(self.url.get_secret_value(), **extra)

    def check(self) -> CheckResult:
        """Connect, ``SELECT 1``, disconnect; fail with the server's reason when it cannot."""
        started = time.perf_counter()
        try:
            with psycopg.connect(self.conninfo(), autocommit=True) as conn:
                row = conn.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            # Masks quoted values only: a short password never garbles the words around it.
            return self.result(
                Status.FAIL, output=masked_line(str(exc), self.url.get_secret_value())
            )
        elapsed = elapsed_ms(started)
        if row != (1,):
            return self.result(Status.FAIL, elapsed, "ms", f"SELECT 1 returned {row!r}")
        status = by_threshold(elapsed, *self.latency)
        return self.result(status, elapsed, "ms", f"SELECT 1 took {elapsed:g} ms")
