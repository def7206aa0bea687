"""How the migrator words what went wrong: the server's errors, and the ones it tells apart.

- The server's error on one line (:func:`one_line`): severity, message, DETAIL and HINT; a
  statement's error names the file line its position falls on (:func:`statement_line`).
- A Python migration's exception (:func:`python_failure`): the migration's file and line,
  the function, the error on one line.
- A read-only database (a standby in recovery, or ``default_transaction_read_only``) is
  refused before anything is changed (:func:`refuse_read_only`, exit 3).
- A timeout the server refuses (``abc``, ``-1s``, a value beyond its range) is a ConfigError
  naming the key and config file it came from (:func:`timeout_error`, exit 2).
- A first migration meeting what it creates already there (:data:`ALREADY_EXISTS`) is a
  database whose schema predates its migrations: its error says how to adopt it
  (:data:`ADOPT_HINT`).

The tracking table's own errors (another tool's table, rights missing) are in
:mod:`plimsoll.db.tracking`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from plimsoll.core.errors import CannotRunError, ConfigError

if TYPE_CHECKING:
    from plimsoll.db.migrator import Settings
    from plimsoll.db.sql import Statement

# The server names the parameter a bad value was for: `invalid value for parameter "x"`.
_PARAMETER = re.compile(r'parameter "(\w+)"')

ALREADY_EXISTS = frozenset({"42P07", "42710", "42P06", "42723", "42701"})
"""The SQLSTATEs of a first migration meeting what it creates already there: a database whose
schema predates the migrations (DuplicateTable, DuplicateObject, DuplicateSchema,
DuplicateFunction, DuplicateColumn)."""

ADOPT_HINT = (
    "the database already has this schema: to adopt it, mark what it has with"
    " `plimsoll db migrate baseline VERSION`"
)
"""Added to the error of the first migration of a database found already holding its schema."""


def one_line(exc: psycopg.Error) -> str:
    """The server's error on one line: severity, message, and its DETAIL and HINT if any."""
    diag = exc.diag
    severity = getattr(diag, "severity", None) or "ERROR"
    text = str(exc).strip()
    primary = getattr(diag, "message_primary", None) or (text.splitlines()[0] if text else "")
    out = f"{severity}: {primary}"
    for label, value in (
        ("DETAIL", getattr(diag, "message_detail", None)),
        ("HINT", getattr(diag, "message_hint", None)),
    ):
        if value:
            out += f" ({label}: {' '.join(value.split())})"
    return out


def error_position(exc: psycopg.Error) -> int | None:
    """The 1-based character position in its statement the server's error points at, if any."""
    raw = getattr(exc.diag, "statement_position", None)
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def statement_line(statement: Statement, position: int | None) -> int:
    """The file line of a 1-based character position inside a statement's text."""
    if not position:
        return statement.start_line
    return statement.start_line + statement.text[: position - 1].count("\n")


def python_failure(path: Path, direction: str, error: BaseException) -> str:
    """What a Python migration's failure says: file and line, function, error on one line."""
    from plimsoll.db.migration_plan import failure_line

    line = failure_line(path, error)
    where = f"{path}:{line}" if line is not None else str(path)
    if isinstance(error, psycopg.Error):
        detail = one_line(error)
    else:
        detail = f"{type(error).__name__}: {error}".strip()
    return f"{where}: {direction}() failed: {detail}"


def refuse_read_only(conn: psycopg.Connection[Any]) -> None:
    """CannotRunError when the database takes no writes: a standby, or read-only by default."""
    row = conn.execute(
        "SELECT current_setting('transaction_read_only') = 'on', pg_is_in_recovery()"
    ).fetchone()
    if row and row[0]:
        why = "a standby in recovery" if row[1] else "default_transaction_read_only is on"
        raise CannotRunError(
            f"the database is read-only ({why}): cannot apply migrations to {conn.info.dbname}"
        )


def timeout_error(exc: psycopg.Error, settings: Settings) -> ConfigError:
    """The ConfigError of a timeout the server refused, naming its key and value.

    The server's message names the parameter; when it does not, both keys are named.
    """
    message = getattr(exc.diag, "message_primary", None) or str(exc)
    named = _PARAMETER.search(message)
    keys = {
        "lock_timeout": (settings.lock_timeout_key, settings.lock_timeout),
        "statement_timeout": (settings.statement_timeout_key, settings.statement_timeout),
    }
    found = keys.get(named.group(1)) if named else None
    if found is None:
        both = " or ".join(f"{key} = {value!r}" for key, value in keys.values())
        return ConfigError(f"{settings.where(both)}: {one_line(exc)}")
    key, value = found
    return ConfigError(
        f"{settings.where(key)} = {value!r}: not a duration PostgreSQL takes ({one_line(exc)});"
        " write one such as 5s, 1min or 0 (no limit)"
    )
