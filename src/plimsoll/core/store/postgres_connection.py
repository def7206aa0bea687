"""A thin wrapper over one psycopg connection for the PostgreSQL store: a lock, transactions, fork.

``store.url`` is a libpq URL or key=value conninfo. The store's tables live in one schema:
the first entry of a ``search_path`` the URL sets through libpq's ``options`` (for example
``postgresql://app@db/ops?options=-csearch_path%3Dplimsoll_ci``), else ``plimsoll``. The
schema is created when missing (that needs the CREATE privilege on the database once).

One connection per store, serialised by a lock (as the SQLite store does), autocommit off and
every block in an explicit transaction that commits or rolls back. Like the SQLite connection,
it speaks the store's one SQL spelling, ``?`` placeholders (:class:`QmarkConnection`). A
process forked with an open store opens its own connection on first use and never touches the parent's. A connection
the server dropped is replaced on the next call. No message ever carries a password: the
store is named by host, port, database and schema only.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row

from plimsoll.core.errors import CannotRunError, ConfigError

DEFAULT_SCHEMA = "plimsoll"
APPLICATION_NAME = "plimsoll-store"
# Seconds; libpq rounds anything below 2 up to 2. A URL's own connect_timeout wins.
CONNECT_TIMEOUT_SECONDS = 5
MASK = "***"

PgConn = psycopg.Connection[DictRow]

# A search_path set in libpq's options: "-c search_path=x", "-csearch_path=x", "--search_path=x".
_SEARCH_PATH = re.compile(r"(?:-c\s*|--)search_path\s*=\s*(?P<value>(?:\\\s|[^\s])+)")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")
# The password of scheme://user:password@host, as written (before any percent-decoding).
_URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#:@]*:(?P<password>[^/?#]*)@")
_KV_PASSWORD = re.compile(r"(?:ssl)?password\s*=\s*(?P<password>'(?:[^'\\]|\\.)*'?|\S+)", re.I)

# Connections inherited through fork(): kept referenced so the child never finalises them
# (closing one would end the parent's session on the shared socket).
_INHERITED: list[object] = []


def qmark(sql: str) -> str:
    """``sql`` with the store's ``?`` placeholders spelled as psycopg's ``%s``.

    The store's parameterised SQL holds no literal ``?`` or ``%`` (a ``%`` would have to be
    doubled for psycopg anyway); SQL run without parameters is sent as written.
    """
    return sql.replace("?", "%s")


class QmarkConnection:
    """A psycopg connection in one transaction, spoken to as the SQLite one is: ``?`` placeholders.

    ``raw`` is the psycopg connection itself, for what only PostgreSQL offers.
    """

    def __init__(self, raw: PgConn) -> None:
        self.raw = raw

    def execute(self, sql: Any, parameters: Any = None, /) -> psycopg.Cursor[DictRow]:
        """Run one statement (``?`` placeholders when ``parameters`` are given); its cursor."""
        if parameters is None or not isinstance(sql, str):
            return self.raw.execute(sql, parameters)
        return self.raw.execute(qmark(sql), parameters)

    def executemany(self, sql: str, parameters: Any, /) -> None:
        """Run one statement once per parameter tuple (pipelined by psycopg)."""
        with self.raw.cursor() as cursor:
            cursor.executemany(qmark(sql), parameters)


def _passwords(url: str, params: dict[str, Any]) -> list[str]:
    """Every spelling of a password ``url`` carries, longest first (for scrubbing messages)."""
    found = {str(params[key]) for key in ("password", "sslpassword") if params.get(key)}
    match = _URL_PASSWORD.match(url)
    if match and match["password"]:
        found.add(match["password"])
    found.update(m["password"].strip("'") for m in _KV_PASSWORD.finditer(url))
    return sorted((p for p in found if p), key=len, reverse=True)


def scrub(message: str, url: str, params: dict[str, Any] | None = None) -> str:
    """A driver message as one line, with any password of ``url`` masked."""
    line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    for secret in _passwords(url, params or {}):
        line = line.replace(secret, MASK)
    return line or "no detail"


def _schema_from(options: str | None) -> str:
    """The schema a URL's ``options`` name in ``search_path`` (first entry), else the default."""
    match = _SEARCH_PATH.search(options or "")
    if match is None:
        return DEFAULT_SCHEMA
    first = match["value"].replace("\\ ", " ").split(",")[0].strip()
    if first.startswith('"') and first.endswith('"') and len(first) > 1:
        name = first[1:-1]
    else:
        name = first.lower()
    if not _SCHEMA_NAME.match(name):
        raise ConfigError(
            f"store.url: the search_path in its options starts with {first!r}; the state store"
            " needs a plain schema name (lower-case letters, digits, _ and $)"
        )
    return name


class PostgresConnection:
    """One psycopg connection to the store's database, used under a lock, one transaction a block.

    Raises ConfigError for a URL libpq cannot parse and CannotRunError (naming the host, never
    the password) for a server that cannot be reached.
    """

    def __init__(self, url: str, *, connect_timeout: int = CONNECT_TIMEOUT_SECONDS) -> None:
        self._url = url
        try:
            self._params: dict[str, Any] = dict(conninfo_to_dict(url))
        except psycopg.Error as exc:
            raise ConfigError(
                f"store.url is not a valid PostgreSQL URL: {scrub(str(exc), url)}"
            ) from None
        self.schema = _schema_from(self._params.get("options"))
        # libpq reports a bad port only when connecting, as if the server were down.
        for port_text in str(self._params.get("port") or "").split(","):
            if port_text.strip() and not port_text.strip().isdigit():
                raise ConfigError(f"store.url: the port {port_text.strip()!r} is not a number")
        host = str(self._params.get("host") or os.environ.get("PGHOST") or "localhost")
        port = str(self._params.get("port") or os.environ.get("PGPORT") or "5432")
        dbname = str(self._params.get("dbname") or os.environ.get("PGDATABASE") or "")
        self.where = f"{host}:{port}/{dbname}" if dbname else f"{host}:{port}"
        self.label = f"PostgreSQL state store {self.where} (schema {self.schema})"
        self.connect_timeout = connect_timeout
        self._lock = threading.RLock()
        self._depth = 0
        self._pid = os.getpid()
        self._conn: PgConn = self._open()

    def _open(self) -> PgConn:
        options = str(self._params.get("options") or "")
        if _SEARCH_PATH.search(options) is None:
            # The store's schema first: its tables, and those of the parts, are created there.
            options = f"{options} -c search_path={self.schema}".strip()
        extra: dict[str, Any] = {"options": options}
        if not self._params.get("application_name"):
            extra["application_name"] = APPLICATION_NAME
        if not self._params.get("connect_timeout") and not os.environ.get("PGCONNECT_TIMEOUT"):
            extra["connect_timeout"] = self.connect_timeout
        try:
            return psycopg.connect(self._url, autocommit=False, row_factory=dict_row, **extra)
        except psycopg.OperationalError as exc:
            raise CannotRunError(
                f"cannot reach the PostgreSQL state store (store.url) at {self.where}: "
                f"{scrub(str(exc), self._url, self._params)}"
            ) from None
        except psycopg.Error as exc:
            raise ConfigError(
                f"store.url is not a valid PostgreSQL URL: "
                f"{scrub(str(exc), self._url, self._params)}"
            ) from None

    def _reset_if_forked(self) -> None:
        # A connection inherited through fork() belongs to the parent, and so does the lock
        # (another thread may have held it at the fork): the child starts afresh. Checked
        # before taking the lock, which may be that inherited one.
        if os.getpid() != self._pid:
            _INHERITED.append(self._conn)
            self._pid = os.getpid()
            self._depth = 0
            self._lock = threading.RLock()
            self._conn = self._open()

    def _connection(self) -> PgConn:
        """The live connection (called under the lock): a dropped one is replaced."""
        if self._conn.closed or self._conn.broken:
            self._conn = self._open()
        return self._conn

    def _failed(self, exc: psycopg.Error) -> CannotRunError:
        """A driver error as a one-line CannotRunError naming the store, never the password."""
        return CannotRunError(f"the {self.label} failed: {self.scrub(str(exc))}")

    def reason(self, exc: psycopg.Error) -> str:
        """A driver error's primary message (without its SQL excerpt), password masked."""
        return self.scrub(exc.diag.message_primary or str(exc))

    def scrub(self, message: str) -> str:
        """``message`` as one line with any password of the store's URL masked."""
        return scrub(message, self._url, self._params)

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[QmarkConnection]:
        """Run the block in one transaction (nested blocks join the outer one).

        ``readonly`` blocks see one snapshot (REPEATABLE READ) for all their reads. A driver
        error becomes CannotRunError, after the transaction is rolled back.
        """
        self._reset_if_forked()
        with self._lock:
            conn = self._connection()
            if self._depth:
                self._depth += 1
                try:
                    yield QmarkConnection(conn)
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                if readonly:
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield QmarkConnection(conn)
                conn.commit()
            except psycopg.Error as exc:
                self._rollback(conn)
                raise self._failed(exc) from exc
            except BaseException:
                self._rollback(conn)
                raise
            finally:
                self._depth = 0

    def read(self) -> AbstractContextManager[QmarkConnection]:
        """Run the block's reads against one snapshot (a read-only transaction)."""
        return self.transaction(readonly=True)

    @staticmethod
    def _rollback(conn: PgConn) -> None:
        if not conn.closed and not conn.broken:
            try:
                conn.rollback()
            except psycopg.Error:
                conn.close()  # unusable: the next call opens a new one

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[DictRow]:
        """Run a read query (``?`` placeholders) in its own transaction; return all its rows."""
        with self.transaction() as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the connection (in a forked child, the parent's is left to the parent)."""
        if os.getpid() != self._pid:
            return
        with self._lock:
            self._conn.close()


def lock_key(*parts: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name (the same in every process)."""
    digest = hashlib.blake2b("\x1f".join(("plimsoll.store", *parts)).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)
