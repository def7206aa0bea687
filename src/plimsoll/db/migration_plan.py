"""How each migration file runs: its statements, whether in one transaction, what it touches.

:func:`plan_sql` parses one SQL migration (see :mod:`plimsoll.db.migrator` for the rules on
transactions); :func:`load_module` imports a Python migration. What a Python migration
touches is known only once it ran: :func:`recording` notes the SQL it sends through the
connection it is handed (and refuses transaction control there, as psycopg refuses
``commit()``), and :func:`tables_of` parses that SQL as :func:`plan_sql` does.
:func:`user_code` is the setting a Python migration (or hook) runs in: its ``print()`` on
stderr, the project's folder importable.

Parsing is not done ahead in a thread: measured, a parser thread beside the applying one made
a run of 500 small migrations four times slower (the applying thread, woken by the server's
answer, waits for the GIL behind the parser).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
import traceback
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plimsoll.core.errors import InputError

if TYPE_CHECKING:
    import psycopg

    from plimsoll.db.sql import QualifiedName, Statement


@dataclass(frozen=True)
class MigrationPlan:
    """A migration file's statements, whether they run in one transaction, and why not.

    ``tables`` are the relations the statements create, alter or write (as the parser names
    them, see :func:`plimsoll.db.sql.touched_tables`), without duplicates.
    """

    statements: tuple[Statement, ...]
    transactional: bool
    reason: str | None
    tables: tuple[QualifiedName, ...] = ()


def plan_sql(path: Path, server_version: int) -> MigrationPlan:
    """Parse a SQL migration and decide how it runs (see :mod:`plimsoll.db.migrator`).

    Read as :func:`plimsoll.db.migrations.read_sql_text` reads it (a byte-order mark dropped).
    """
    from plimsoll.db.migrations import read_sql_text

    return plan_text(read_sql_text(path), str(path), server_version)


def plan_text(text: str, source: str, server_version: int) -> MigrationPlan:
    """Plan the SQL migration ``text`` (shown as ``source``), as :func:`plan_sql` does.

    The linter asks this too, so that what it says about a migration's transaction is what
    the migrator will do. Transaction control other than one pair around the whole file is
    an InputError naming the line.
    """
    # The parser (pglast) is loaded when a migration is planned, not for `status`.
    from plimsoll.db.sql import (
        parse_sql,
        strip_outer_transaction,
        touched_tables,
        transaction_control,
    )
    from plimsoll.db.sql import transactional as transaction_requirement

    script = parse_sql(text, source)
    if transaction_control(script):
        stripped = strip_outer_transaction(script)
        if stripped is None:
            first = transaction_control(script)[0]
            raise InputError(
                f"{source}:{first.start_line}: transaction control inside a migration; the "
                "migrator runs each migration in its own transaction (one BEGIN ... COMMIT "
                "around the whole file is allowed and dropped)"
            )
        script = stripped
    reasons = []
    for statement in script.statements:
        if statement.is_copy_from_stdin:
            # Its rows would have to come from the client, and a migration is sent as one
            # batch: refused here, at its line, rather than failing half-way on the server.
            raise InputError(
                f"{source}:{statement.start_line}: COPY ... FROM stdin cannot run in a "
                "migration; insert the rows with INSERT, or put the COPY in the seeds folder "
                "(`plimsoll db build --apply --seeds` loads it)"
            )
        requirement = transaction_requirement(statement, server_version)
        if not requirement.in_transaction:
            reasons.append(f"line {statement.start_line}: {requirement.reason}")
    tables = dict.fromkeys(
        name for statement in script.statements for name in touched_tables(statement)
    )
    return MigrationPlan(
        tuple(script.statements), not reasons, "; ".join(reasons) or None, tuple(tables)
    )


@contextmanager
def user_code(root: Path | None) -> Iterator[None]:
    """The setting a Python migration or hook runs in: stdout sent to stderr, ``root`` importable.

    stdout carries the command's result (``--format json`` is one document there): a
    ``print()`` in user code must not corrupt it, so it goes to stderr. ``root`` (the
    project's folder, where its config is) is put first on ``sys.path`` for the block, as
    alembic's ``prepend_sys_path = .`` does: ``from shop.dbhelpers import x`` works however
    plimsoll was started (its console script does not put the current folder there). The
    entry stays for the whole block, so an import inside ``up()`` works too.
    """
    entry = str(root) if root is not None else None
    if entry is not None:
        sys.path.insert(0, entry)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        if entry is not None:
            try:
                sys.path.remove(entry)
            except ValueError:  # the user's code took it out itself
                pass


def load_module(path: Path) -> Any:
    """Import a Python migration from its file (its top-level code runs: call it inside
    :func:`user_code`)."""
    spec = importlib.util.spec_from_file_location(f"plimsoll_migration_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise InputError(f"{path}: cannot load as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's module, reported as input
        line = failure_line(path, exc)
        where = f"{path}:{line}" if line is not None else str(path)
        raise InputError(f"{where}: failed to import: {type(exc).__name__}: {exc}") from None
    return module


def failure_line(path: Path, error: BaseException) -> int | None:
    """The line of ``path`` (a Python migration) in ``error``'s traceback: the innermost one."""
    target = os.path.realpath(path)
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        if os.path.realpath(frame.filename) == target:
            return frame.lineno
    return None


# The SQL a Python migration sent, by connection, while :func:`recording` is active.
_SINKS: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()
# psycopg's placeholders (%s, %b, %t, %(name)s) and its escaped percent sign.
_PLACEHOLDER = re.compile(r"%%|%(?:\([^)]*\))?[sbt]")


# Comments and blanks before a statement's first word.
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
# The statements that end, open or prepare a transaction. Savepoints (and ROLLBACK TO one)
# nest inside the migrator's transaction, as psycopg's own nested transaction() does: allowed.
_CONTROL = re.compile(
    r"(begin|start\s+transaction|commit|end|abort|prepare\s+transaction"
    r"|rollback(?!\s+(?:work\s+|transaction\s+)?to\b))\b",
    re.IGNORECASE,
)


class TransactionControlRefused(Exception):
    """A Python migration sent transaction control; it was not sent (nothing was committed)."""


def _control_word(statement: str) -> str | None:
    """The transaction control word ``statement`` starts with (after comments), or None."""
    start = _LEADING.match(statement)
    found = _CONTROL.match(statement, start.end() if start else 0)
    return " ".join(found.group(1).upper().split()) if found else None


def transaction_control_word(text: str, has_params: bool = False) -> str | None:
    """The transaction control statement of ``text`` (``COMMIT``, ``BEGIN``...), or None.

    Its first statement is read by its first word; a text holding several statements
    (possible without parameters only: psycopg sends it as one simple query) is parsed.
    """
    word = _control_word(text)
    if word is not None or has_params or ";" not in text.strip().rstrip(";"):
        return word
    from plimsoll.db.sql import parse_sql

    try:
        script = parse_sql(text, "<python migration>")
    except Exception:  # noqa: BLE001 - unparsable: the server says what is wrong with it
        return None
    for statement in script.statements:
        if statement.is_transaction_control:
            word = _control_word(statement.text)
            if word is not None:
                return word
    return None


def _text_of(cursor: Any, query: Any) -> str:
    if isinstance(query, bytes):
        return query.decode("utf-8", "replace")
    if isinstance(query, str):
        return query
    return str(query.as_string(cursor))  # a psycopg.sql.Composable


def _note(cursor: Any, query: Any, has_params: bool) -> None:
    """Keep the text of ``query`` if ``cursor``'s connection is being recorded; refuse it
    (TransactionControlRefused, before it is sent) if it is transaction control."""
    sink = _SINKS.get(cursor.connection)
    if sink is None:
        return
    text = _text_of(cursor, query)
    word = transaction_control_word(text, has_params)
    if word is not None:
        raise TransactionControlRefused(
            f"{word} refused: the migrator runs the migration in a transaction of its own and"
            " commits it once the function returns (as psycopg refuses conn.commit() there)"
        )
    if has_params:
        # A parameter becomes $1, which the parser reads as a value (what it stands for).
        text = _PLACEHOLDER.sub(lambda m: "%" if m.group(0) == "%%" else "$1", text)
    sink.append(text)


@functools.cache
def _recording_cursor() -> type[psycopg.Cursor[Any]]:
    """The cursor class :func:`recording` installs (psycopg imported when first needed)."""
    import psycopg

    class RecordingCursor(psycopg.Cursor[Any]):
        """A cursor noting the SQL it runs, for the connection being recorded."""

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            _note(self, query, params is not None)
            return super().execute(query, params, **kwargs)

        def executemany(self, query: Any, params_seq: Iterable[Any], **kwargs: Any) -> None:
            _note(self, query, True)
            super().executemany(query, params_seq, **kwargs)

        @contextmanager
        def copy(self, statement: Any, params: Any = None, **kwargs: Any) -> Iterator[Any]:
            _note(self, statement, params is not None)
            with super().copy(statement, params, **kwargs) as copy:
                yield copy

        def stream(self, query: Any, params: Any = None, **kwargs: Any) -> Iterator[Any]:
            _note(self, query, params is not None)
            yield from super().stream(query, params, **kwargs)

    return RecordingCursor


@contextmanager
def recording(conn: psycopg.Connection[Any]) -> Iterator[list[str]]:
    """Note the SQL run through ``conn``'s (unnamed) cursors, ``conn.execute`` included.

    The migration gets the real connection: only its cursor class changes, for the block.
    Transaction control (``COMMIT``, ``ROLLBACK``, ``BEGIN``, ``END``...) is refused before it
    is sent: it would commit part of the migration, or run the rest outside a transaction,
    behind the migrator's back.
    """
    executed: list[str] = []
    previous = conn.cursor_factory
    conn.cursor_factory = _recording_cursor()
    _SINKS[conn] = executed
    try:
        yield executed
    finally:
        conn.cursor_factory = previous
        _SINKS.pop(conn, None)


def tables_of(executed: Iterable[str]) -> tuple[QualifiedName, ...]:
    """The tables the SQL in ``executed`` creates, alters or writes (see ``touched_tables``).

    Best effort: SQL the parser cannot read (a statement built by an extension's function,
    say) adds nothing.
    """
    from plimsoll.db.sql import parse_sql, touched_tables

    found: dict[QualifiedName, None] = {}
    for text in executed:
        try:
            script = parse_sql(text, "<python migration>")
        except Exception:  # noqa: BLE001, S112 - best effort: unreadable SQL touches nothing known
            continue
        for statement in script.statements:
            found.update(dict.fromkeys(touched_tables(statement)))
    return tuple(found)
