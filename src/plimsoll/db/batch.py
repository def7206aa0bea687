"""Several SQL statements sent as one message, knowing which of them failed.

The migrator sends a migration's statements (with BEGIN, the timeouts and its tracking row)
as one simple-query message: one round trip instead of one per statement. psycopg's
``execute`` raises the first error of such a message but not which statement raised it, and
finding out by running the statements again one by one would run the migration twice (twice
the time under its locks, and whatever a rollback does not undo, such as ``nextval``, done
twice). Here the message's results are read one by one instead: the server answers each
statement with one result and stops at the first error, so the error's place in the list
names the failing statement, and a character position in the error (when the server gives
one) is mapped back into that statement's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import generators, pq

_SEPARATOR = ";\n"


class BatchFailed(Exception):
    """Part ``index`` of a message failed with ``error``; ``position`` is 1-based in that part.

    ``position`` is None when the server gave no position, or gave one outside the part.
    """

    def __init__(self, index: int, error: psycopg.Error, position: int | None) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error
        self.position = position


@dataclass(frozen=True)
class BatchResult:
    """The results of a message, one per part, in order."""

    results: tuple[pq.abc.PGresult, ...]

    def row(self, index: int) -> tuple[str | None, ...] | None:
        """The first row of part ``index`` as text values (None for NULL), or None: no rows."""
        result = self.results[index]
        if result.ntuples == 0:
            return None
        values = (result.get_value(0, column) for column in range(result.nfields))
        return tuple(None if v is None else bytes(v).decode() for v in values)


def run_batch(conn: psycopg.Connection[Any], parts: Sequence[str]) -> BatchResult:
    """Send ``parts`` (one statement each) as one message; raise BatchFailed at the first error.

    The connection must be idle or in a transaction block (not a psycopg pipeline). A Ctrl-C
    while the server works cancels the statement, as psycopg's own ``execute`` does.
    """
    message = _SEPARATOR.join(parts)
    encoding = conn.info.encoding
    pgconn = conn.pgconn
    pgconn.send_query(message.encode(encoding))
    results = conn.wait(generators.execute(pgconn))
    for index, result in enumerate(results):
        if result.status in (pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.NONFATAL_ERROR):
            error = pg_errors.error_from_result(result, encoding=encoding)
            raise BatchFailed(index, error, _position_in_part(parts, index, error))
        if result.status in (pq.ExecStatus.COPY_IN, pq.ExecStatus.COPY_OUT):
            raise BatchFailed(
                index,
                psycopg.NotSupportedError("COPY to or from the client cannot run in a migration"),
                None,
            )
    if len(results) != len(parts):
        # One result per statement is the protocol's promise; anything else is not ours to
        # guess about (an empty part, say): say so rather than misname a statement.
        raise BatchFailed(
            len(results),
            psycopg.InternalError(f"{len(results)} results for {len(parts)} statements"),
            None,
        )
    return BatchResult(tuple(results))


def _position_in_part(parts: Sequence[str], index: int, error: psycopg.Error) -> int | None:
    """The error's 1-based character position made relative to part ``index``, if inside it."""
    raw = getattr(error.diag, "statement_position", None)
    try:
        position = int(raw) if raw else None
    except ValueError:
        return None
    if position is None:
        return None
    start = sum(len(part) + len(_SEPARATOR) for part in parts[:index])
    inside = position - start
    return inside if 1 <= inside <= len(parts[index]) else None
