"""From an environment name to a database connection, without ever showing a password.

An environment (``[tool.plimsoll.db.environments.<name>]``) has a ``url``; when it has none, or
an empty one (``url = "${DATABASE_URL:-}"`` with DATABASE_URL unset), it is the embedded server
plimsoll runs itself (``plimsoll.db.server``). Its ``lock_timeout`` and ``statement_timeout``
default to the ``db`` section's.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr

from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import CannotRunError, ConfigError
from plimsoll.db.server import EmbeddedServer

APPLICATION_NAME = "plimsoll"
# Seconds; libpq rounds anything below 2 up to 2.
CONNECT_TIMEOUT_SECONDS = 5
MASK = "***"


@dataclass(frozen=True)
class Target:
    """A resolved database environment: where to connect and the safety timeouts to use."""

    name: str
    url: SecretStr
    embedded: bool
    lock_timeout: str
    statement_timeout: str

    @property
    def display_url(self) -> str:
        """The URL with its password replaced by ``***``, safe to print."""
        return redact_url(self.url.get_secret_value())


# --- redaction ------------------------------------------------------------------------------

# scheme://userinfo@...: the userinfo runs to the last '@' before the path, query or fragment,
# so a password holding an unencoded '@' or ':' is still covered.
_URL_USERINFO = re.compile(
    r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^/?#:@]*):(?P<password>[^/?#]*)@"
)
# password=... in a URL query string.
_QUERY_PASSWORD = re.compile(r"(?P<key>[?&](?:ssl)?password=)(?P<value>[^&#]*)", re.IGNORECASE)
# password=... in a key=value conninfo: spaces allowed around '=', the value bare or quoted
# (an unterminated quote runs to the end, as libpq reads it).
_KV_PASSWORD = re.compile(
    r"(?P<key>(?<![\w.])(?:ssl)?password\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*(?:'|$)|[^\s']+)",
    re.IGNORECASE | re.DOTALL,
)


def redact_url(url: str) -> str:
    """``url`` (a libpq URL or key=value conninfo) with every password replaced by ``***``."""
    if _URL_USERINFO.match(url):
        url = _URL_USERINFO.sub(
            lambda m: f"{m['head']}{m['user']}:{MASK if m['password'] else ''}@", url, count=1
        )
    if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", url):
        return _QUERY_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", url)
    return _KV_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", url)


def _passwords(url: str) -> list[str]:
    """The passwords ``url`` carries, as libpq would read them (for scrubbing messages)."""
    found: list[str] = []
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        params = {}
    for key in ("password", "sslpassword"):
        value = params.get(key)
        if value:
            found.append(str(value))
    match = _URL_USERINFO.match(url)
    if match and match["password"]:
        found.append(match["password"])
    return sorted(set(found), key=len, reverse=True)


def masked_line(message: str, url: str) -> str:
    """A driver error as one line, any password of ``url`` masked."""
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    for secret in _passwords(url):
        line = line.replace(secret, MASK)
    return line or "no detail"


# --- resolving ------------------------------------------------------------------------------


def resolve(loaded: LoadedConfig, env_name: str | None = None) -> Target:
    """The environment ``env_name`` (default ``db.default_environment``) as a Target.

    An environment without a URL, or with an empty one, is the embedded server: its URL is
    returned whether or not it runs (``resolve_url`` starts it). Raises ConfigError for an
    environment that is not configured, listing those that are.
    """
    db = loaded.config.db
    name = env_name or db.default_environment
    env = db.environments.get(name)
    if env is None:
        known = ", ".join(sorted(db.environments)) or "none"
        where = f" in {loaded.source}" if loaded.source else ""
        what = "database environment" if env_name else "default database environment"
        raise ConfigError(
            f"unknown {what} {name!r}{where}; known: {known} "
            "(configure db.environments or choose one with --env)"
        )
    url = env.url.get_secret_value().strip() if env.url is not None else ""
    lock_timeout = env.lock_timeout or db.lock_timeout
    statement_timeout = env.statement_timeout or db.statement_timeout
    if url:
        return Target(name, SecretStr(url), False, lock_timeout, statement_timeout)
    server = EmbeddedServer(loaded.root, db.embedded)
    return Target(name, SecretStr(server.url()), True, lock_timeout, statement_timeout)


def embedded_server(loaded: LoadedConfig) -> EmbeddedServer:
    """The project's embedded server (whether or not it runs)."""
    return EmbeddedServer(loaded.root, loaded.config.db.embedded)


def _say_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve_url(
    loaded: LoadedConfig,
    env_name: str | None = None,
    *,
    notice: Callable[[str], None] | None = _say_on_stderr,
) -> Target:
    """Like ``resolve``, and for an embedded environment start the server if it is not running.

    What a command calls right before connecting, so the URL it gets answers. Starting the
    server is said once through ``notice`` (stderr by default; None: not said), since it
    keeps running after the command: nothing is said when it was running already.
    """
    target = resolve(loaded, env_name)
    if target.embedded:
        info = embedded_server(loaded).ensure_running()
        if info.started and notice is not None:
            notice(
                f"started the embedded PostgreSQL under {loaded.config.db.embedded.data_dir};"
                " `plimsoll db server stop` stops it"
            )
    return target


def connect(
    target: Target,
    *,
    autocommit: bool = False,
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS,
    **kwargs: Any,
) -> psycopg.Connection[Any]:
    """A psycopg connection to ``target`` (the caller closes it), named ``plimsoll``.

    Raises CannotRunError with a one-line message when the database cannot be reached, and
    ConfigError when the URL cannot be parsed; neither message ever contains the password.
    """
    hint = (
        " (is the embedded server running? `plimsoll db server start`)" if target.embedded else ""
    )
    return connect_url(
        target.url.get_secret_value(),
        autocommit=autocommit,
        connect_timeout=connect_timeout,
        where=f"environment {target.name}",
        hint=hint,
        **kwargs,
    )


def connect_url(
    url: str,
    *,
    autocommit: bool = False,
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS,
    where: str = "",
    hint: str = "",
    **kwargs: Any,
) -> psycopg.Connection[Any]:
    """A psycopg connection to ``url``, with :func:`connect`'s errors (``where`` names it:
    ``environment dev``)."""
    options: dict[str, Any] = {"application_name": APPLICATION_NAME, **kwargs}
    try:
        return psycopg.connect(
            url, autocommit=autocommit, connect_timeout=connect_timeout, **options
        )
    except psycopg.OperationalError as exc:
        at = f"{where} at " if where else ""
        raise CannotRunError(
            f"database unreachable: {at}{redact_url(url)}: {masked_line(str(exc), url)}{hint}"
        ) from None
    except psycopg.Error as exc:
        named = f" for {where}" if where else ""
        raise ConfigError(
            f"invalid database URL{named} ({redact_url(url)}): {masked_line(str(exc), url)}"
        ) from None
