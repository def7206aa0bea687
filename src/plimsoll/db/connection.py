"""From an environment name to a database connection, without ever showing a password.

An environment (``[tool.plimsoll.db.environments.<name>]``) has a ``url``; when it has none, or
an empty one (``url = "${DATABASE_URL:-}"`` with DATABASE_URL unset), it is the embedded server
plimsoll runs itself (``plimsoll.db.server``), whatever libpq's ``PGHOST``, ``PGDATABASE`` or
``PGSERVICE`` say (a warning says so, once: ``url = "postgresql://"`` makes libpq read them).
Its ``lock_timeout`` and ``statement_timeout`` default to the ``db`` section's.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr

from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import CannotRunError, ConfigError
from plimsoll.core.log import get_logger
from plimsoll.db.server import EmbeddedServer

log = get_logger(__name__)

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

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
# password=... in a URL query string: libpq reads the value up to the next '&' ('#' starts no
# fragment for libpq, so a password may hold one).
_QUERY_PASSWORD = re.compile(r"(?P<key>[?&](?:ssl)?password=)(?P<value>[^&]*)", re.IGNORECASE)
_QUERY_PASSWORD_KEY = re.compile(r"[?&](?:ssl)?password=", re.IGNORECASE)
# password=... in a key=value conninfo: spaces allowed around '=', the value bare or quoted
# (an unterminated quote runs to the end, as libpq reads it).
_KV_PASSWORD = re.compile(
    r"(?P<key>(?<![\w.])(?:ssl)?password\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*(?:'|$)|[^\s']+)",
    re.IGNORECASE | re.DOTALL,
)
_KV_PASSWORD_KEY = re.compile(r"(?<![\w.])(?:ssl)?password\s*=", re.IGNORECASE)
# What libpq may split a userinfo it misreads at: each piece may come back as a host, a port
# or a database name in its messages.
_URL_SEPARATORS = re.compile(r"[:@/?#&=,\[\]]+")
# A value a driver message quotes: libpq quotes with "...", psycopg's own messages with '...'.
_QUOTED = re.compile(r'"[^"]*"|\'[^\']*\'')


def _split_userinfo(url: str) -> tuple[str, str, str] | None:
    """``(scheme://, userinfo, rest)`` of a URL with an ``@``: the userinfo runs to the *last*
    ``@``, so a password holding an unencoded ``@``, ``/``, ``:``, ``?`` or ``#`` is inside it."""
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None
    after = url[scheme.end() :]
    at = after.rfind("@")
    if at < 0:
        return None
    return scheme.group(), after[:at], after[at + 1 :]


def _parses(url: str) -> bool:
    try:
        conninfo_to_dict(url)
    except psycopg.Error:
        return False
    return True


def _userinfo_parses(url: str, userinfo: str) -> bool:
    """Whether libpq reads ``userinfo`` as the user wrote it: a single ``@`` in the URL (libpq
    ends the userinfo at the first one), no ``/`` in it (libpq would see no userinfo), and a
    URL that libpq parses."""
    return "@" not in userinfo and "/" not in userinfo and _parses(url)


def url_is_malformed(url: str) -> bool:
    """Whether ``url`` is a URL whose userinfo libpq cannot read as written (an unencoded
    ``@`` or ``/`` in the password, a bad percent-escape): then no part of it is ever shown."""
    split = _split_userinfo(_QUERY_PASSWORD.sub("", url))
    return split is not None and not _userinfo_parses(url, split[1])


def redact_url(url: str) -> str:
    """``url`` (a libpq URL or key=value conninfo) with every password replaced by ``***``.

    A URL whose userinfo libpq reads as written shows its user (``postgresql://app:***@db/x``);
    one it cannot read (:func:`url_is_malformed`) shows none of it: everything between
    ``://`` and the last ``@`` is masked (``postgresql://***@db/x``). A URL or key=value
    string that does not parse is masked from its ``password`` key to the end (an unencoded
    ``&`` or space may have ended the value early).
    """
    if _SCHEME.match(url):
        masked = _QUERY_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", url)
        key = _QUERY_PASSWORD_KEY.search(url)
        if key is not None and not _parses(url):
            masked = f"{url[: key.end()]}{MASK}"
        split = _split_userinfo(masked)
        if split is None:
            return masked
        head, userinfo, rest = split
        if not _userinfo_parses(url, userinfo):
            return f"{head}{MASK}@{rest}"
        user, colon, password = userinfo.partition(":")
        shown = f"{user}:{MASK if password else ''}" if colon else user
        return f"{head}{shown}@{rest}"
    if not _parses(url):
        key = _KV_PASSWORD_KEY.search(url)
        return url if key is None else f"{url[: key.end()]}{MASK}"
    return _KV_PASSWORD.sub(lambda m: f"{m['key']}{MASK}", url)


def _kv_value(raw: str) -> str:
    """A key=value conninfo value as libpq reads it (quotes and backslash escapes undone)."""
    if raw.startswith("'"):
        raw = raw[1:-1] if len(raw) > 1 and raw.endswith("'") else raw[1:]
        return re.sub(r"\\(.)", r"\1", raw)
    return raw


def _secrets(url: str) -> set[str]:
    """Every string of ``url`` that must not be shown, as written and as libpq decodes it:
    its passwords, and for a malformed URL every piece of its userinfo (libpq may have read
    any of them as a host, a port or a database name, and quote it in its messages)."""
    found: set[str] = set()
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        params = {}
    found.update(str(params[key]) for key in ("password", "sslpassword") if params.get(key))
    if _SCHEME.match(url):
        found.update(m["value"] for m in _QUERY_PASSWORD.finditer(url))
        key = _QUERY_PASSWORD_KEY.search(url)
        if key is not None and not params:
            tail = url[key.end() :]
            found.add(tail)
            found.update(_URL_SEPARATORS.split(tail))
        split = _split_userinfo(_QUERY_PASSWORD.sub("", url))
        if split is not None:
            userinfo = split[1]
            if _userinfo_parses(url, userinfo):
                found.add(userinfo.partition(":")[2])
            else:
                found.add(userinfo)
                found.update(_URL_SEPARATORS.split(userinfo))
    elif params:
        found.update(_kv_value(m["value"]) for m in _KV_PASSWORD.finditer(url))
    else:
        key = _KV_PASSWORD_KEY.search(url)
        if key is not None:
            tail = url[key.end() :]
            found.add(tail.strip())
            found.update(re.split(r"[\s'=]+", tail))
    found.update([unquote(s) for s in found])
    return {s for s in found if s}


def _token(secret: str) -> re.Pattern[str]:
    """``secret`` as a token of its own (not inside a longer word)."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])")


def _holds(text: str, secret: str) -> bool:
    """Whether ``text`` holds ``secret`` as a token of its own (not inside a longer word)."""
    return _token(secret).search(text) is not None


def masked_line(message: str, url: str) -> str:
    """A driver error as one line, nothing of ``url``'s passwords in it.

    libpq and psycopg quote the values they echo (``invalid percent-encoded token: "..."``,
    ``could not translate host name "..."``): a quoted value holding a secret is masked
    whole, and the message is otherwise left alone, so no mask lands inside unrelated words.
    Should a secret still be found outside quotes, it is masked there too: a short one only as
    a word of its own, so that a password such as ``password`` or ``5432`` leaves the cause
    readable (``*** authentication failed for user "app"``) instead of hiding the message.
    """
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    secrets = _secrets(url)

    def mask(found: re.Match[str]) -> str:
        quoted = found.group()
        inner = quoted[1:-1]
        if inner == url:
            return f"{quoted[0]}{redact_url(url)}{quoted[0]}"
        if any(s in inner if len(s) >= 3 else _holds(inner, s) for s in secrets):
            return f"{quoted[0]}{MASK}{quoted[0]}"
        return quoted

    line = _QUOTED.sub(mask, line)
    # A short secret is looked for as a word ("p" is not in "percent"); a long one anywhere.
    # Longest first: a secret inside another is not left half masked.
    for secret in sorted(secrets, key=len, reverse=True):
        line = line.replace(secret, MASK) if len(secret) >= 8 else _token(secret).sub(MASK, line)
    return line or "no detail"


def url_hint(url: str) -> str:
    """A hint for a malformed URL (see :func:`url_is_malformed`), else ``""``."""
    if not url_is_malformed(url):
        return ""
    return (
        " (the user or password in the URL is not read as written: percent-encode its special"
        " characters, @ as %40, / as %2F, : as %3A, ? as %3F, # as %23, % as %25)"
    )


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
    warn_pg_variables(name)
    server = EmbeddedServer(loaded.root, db.embedded)
    return Target(name, SecretStr(server.url()), True, lock_timeout, statement_timeout)


# libpq's variables that choose a server: set by CI service containers, by a developer's
# shell. The embedded server's URL names its own socket and database, so they do not apply.
PG_SERVER_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGDATABASE", "PGSERVICE")
_warned_pg_variables: list[str] = []


def warn_pg_variables(env_name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Warn, once a process, that libpq's server variables set in the environment are not
    used by ``env_name``, an environment without a URL (the embedded server). Whether it
    warned now."""
    names = [n for n in PG_SERVER_VARIABLES if (environ or os.environ).get(n)]
    if not names or _warned_pg_variables:
        return False
    _warned_pg_variables.append(env_name)
    listed = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    verb = "is" if len(names) == 1 else "are"
    log.warning(
        "%s %s set but plimsoll uses the embedded server for environment %s; set url ="
        ' "postgresql://" in db.environments.%s (libpq then reads PG* variables) to use it',
        listed,
        verb,
        env_name,
        env_name,
        extra={"event": "pg_variables_ignored", "variables": names},
    )
    return True


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
            f"database unreachable: {at}{redact_url(url)}: {masked_line(str(exc), url)}"
            f"{url_hint(url) or hint}"
        ) from None
    except psycopg.Error as exc:
        named = f" for {where}" if where else ""
        raise ConfigError(
            f"invalid database URL{named} ({redact_url(url)}): {masked_line(str(exc), url)}"
            f"{url_hint(url)}"
        ) from None
