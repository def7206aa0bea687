"""Representative queries: from a file of statements, or from ``pg_stat_statements``.

A queries file holds one read query per statement; a ``-- name: <name>`` comment on its own
line before a statement names it. A name is made of letters and digits (any script's, as
:meth:`str.isalnum` has them: ``mixed_ü`` is a name) and ``_ . : -``; it is read in Unicode
NFC form, so the same name typed with a combining accent is the same query. An unnamed query is known by a key derived from its text as
PostgreSQL's parser reads it (so re-formatting it keeps its baseline, changing a constant does
not). Only reads are profiled: ``EXPLAIN ANALYZE`` executes its statement, so an ``INSERT``,
``UPDATE``, ``DELETE``, ``MERGE``, ``SELECT ... INTO`` or ``FOR UPDATE`` is refused with its
file and line.

From ``pg_stat_statements`` (when the extension is installed and loaded), the top read
queries by total execution time are taken. Their constants were replaced by ``$1``, ``$2``...
there, so they cannot be executed as they stand: those are profiled by their generic plan's
estimated cost instead of an execution time (see :mod:`plimsoll.db.profiling.explain`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from pglast import ast
from pglast.stream import RawStream
from pglast.visitors import Visitor
from psycopg import sql as pgsql

from plimsoll.core.errors import CannotRunError, InputError
from plimsoll.db.sql import SqlSyntaxError, parse_sql

_NAME_COMMENT = re.compile(r"^\s*--\s*name:\s*(?P<name>\S+)\s*$", re.MULTILINE)
_WRITES = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)


@dataclass(frozen=True)
class Query:
    """One representative query: its key (its name, or derived from its text) and its text.

    ``parameters`` counts its ``$n`` parameter markers (queries from ``pg_stat_statements``);
    ``calls`` and ``total_ms`` are that view's figures for it.
    """

    key: str
    text: str
    name: str | None = None
    source: str = "<string>"
    line: int = 1
    parameters: int = 0
    calls: int | None = None
    total_ms: float | None = None

    @property
    def label(self) -> str:
        """The name when it has one, else the key."""
        return self.name or self.key

    def to_dict(self) -> dict[str, Any]:
        """The query as a JSON-ready dict."""
        return {
            "key": self.key,
            "name": self.name,
            "query": self.text,
            "source": self.source,
            "line": self.line,
            "parameters": self.parameters,
            "calls": self.calls,
            "total_ms": self.total_ms,
        }


class _Inspector(Visitor):  # type: ignore[misc]
    """Finds what makes a statement more than a read, and the highest ``$n`` it uses."""

    def __init__(self) -> None:
        super().__init__()
        self.problem: str | None = None
        self.parameters = 0

    def visit(self, ancestors: Any, node: Any) -> None:
        """Note writes, SELECT INTO, row locks and parameter references."""
        if isinstance(node, _WRITES) and self.problem is None:
            self.problem = f"{type(node).__name__.removesuffix('Stmt').upper()} in a WITH clause"
        elif isinstance(node, ast.IntoClause) and self.problem is None:
            self.problem = "SELECT ... INTO creates a table"
        elif isinstance(node, ast.LockingClause) and self.problem is None:
            self.problem = "FOR UPDATE/SHARE takes row locks"
        elif isinstance(node, ast.ParamRef):
            self.parameters = max(self.parameters, int(node.number or 0))


def inspect_read(node: ast.Node) -> tuple[str | None, int]:
    """Why ``node`` is not a plain read query (None when it is), and its number of ``$n``."""
    if not isinstance(node, ast.SelectStmt):
        return f"{type(node).__name__.removesuffix('Stmt')} is not a read query", 0
    inspector = _Inspector()
    inspector(node)
    return inspector.problem, inspector.parameters


def key_of(node: ast.Node) -> str:
    """The key of an unnamed query: a hash of its text as the parser reads it."""
    canonical = RawStream()(node)
    return "q:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def parse_queries(text: str, source: str = "<string>") -> list[Query]:
    """The queries of a file's text; InputError naming ``source:line`` for anything else."""
    script = parse_sql(text, source)
    queries: list[Query] = []
    seen: dict[str, int] = {}
    previous_end = 0
    for statement in script.statements:
        gap = text[previous_end : statement.start]
        previous_end = statement.end
        names = _NAME_COMMENT.findall(gap)
        name = unicodedata.normalize("NFC", names[-1]) if names else None
        where = f"{source}:{statement.start_line}"
        bad_chars = [c for c in name or "" if not _name_char(c)]
        if bad_chars:
            bad = ", ".join(repr(c) for c in dict.fromkeys(bad_chars))
            raise InputError(
                f"{where}: query name {name!r}: {bad} not allowed (use letters, digits and _ . : -)"
            )
        problem, parameters = inspect_read(statement.node)
        if problem is not None:
            raise InputError(
                f"{where}: only read queries can be profiled (EXPLAIN ANALYZE runs them): {problem}"
            )
        if parameters:
            raise InputError(
                f"{where}: the query uses ${parameters}: write it with the values to profile"
            )
        key = name or key_of(statement.node)
        if key in seen:
            what = f"name {name!r}" if name else "query"
            raise InputError(f"{where}: {what} repeats the one at line {seen[key]}")
        seen[key] = statement.start_line
        queries.append(Query(key, statement.text, name, source, statement.start_line))
    return queries


def _name_char(char: str) -> bool:
    # str.isalnum(): letters and digits of any script (ü, 日, ٣), as the message says.
    return char.isalnum() or char in "_.:-"


def load_queries(path: Path) -> list[Query]:
    """The queries in the file at ``path`` (InputError when unreadable, invalid or empty)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"{path}: cannot read the queries file: {reason}") from None
    queries = parse_queries(text, str(path))
    if not queries:
        raise InputError(f"{path}: no queries in the file")
    return queries


# --- pg_stat_statements ---------------------------------------------------------------------


def pg_stat_statements_available(conn: psycopg.Connection[Any]) -> str | None:
    """None when ``pg_stat_statements`` can be read here, else why not (one line)."""
    return _extension_schema(conn)[1]


def _extension_schema(conn: psycopg.Connection[Any]) -> tuple[str | None, str | None]:
    """The schema holding ``pg_stat_statements`` and None, or None and why it cannot be read."""
    row = conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_stat_statements'"
    ).fetchone()
    if row is None:
        return None, "the pg_stat_statements extension is not installed in this database"
    loaded = conn.execute(
        "SELECT 'pg_stat_statements' = ANY(string_to_array("
        "replace(current_setting('shared_preload_libraries'), ' ', ''), ','))"
    ).fetchone()
    if not loaded or not loaded[0]:
        return None, "pg_stat_statements is installed but not in shared_preload_libraries"
    return str(row[0]), None


_TOP_STATEMENTS = (
    "SELECT s.query, s.calls, s.total_exec_time FROM {}.pg_stat_statements s"
    " WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND s.calls > 0 ORDER BY s.total_exec_time DESC LIMIT %s"
)


def from_pg_stat_statements(conn: psycopg.Connection[Any], *, limit: int = 20) -> list[Query]:
    """The top ``limit`` read queries of this database by total execution time.

    Raises CannotRunError (exit 3) when the view cannot be read. Statements that are not reads
    or that the parser cannot read (texts cut at ``track_activity_query_size``) are passed over.
    """
    schema, why = _extension_schema(conn)
    if schema is None:
        raise CannotRunError(why or "pg_stat_statements cannot be read")
    statement = pgsql.SQL(_TOP_STATEMENTS).format(pgsql.Identifier(schema))
    # Many more rows than wanted: most of the top statements may be writes or utility commands.
    rows = conn.execute(statement, (limit * 10,)).fetchall()
    queries: list[Query] = []
    seen: set[str] = set()
    for text, calls, total in rows:
        query = _statement_query(str(text), int(calls), float(total))
        if query is None or query.key in seen or "pg_stat_statements" in query.text:
            continue
        seen.add(query.key)
        queries.append(query)
        if len(queries) >= limit:
            break
    return queries


def _statement_query(text: str, calls: int, total_ms: float) -> Query | None:
    try:
        script = parse_sql(text, "pg_stat_statements")
    except SqlSyntaxError:
        return None
    if len(script.statements) != 1:
        return None
    node = script.statements[0].node
    problem, parameters = inspect_read(node)
    if problem is not None:
        return None
    # Catalog queries (of psql, drivers, plimsoll itself) are not the service's workload.
    if _reads_only_catalogs(node):
        return None
    return Query(
        key_of(node),
        script.statements[0].text,
        None,
        "pg_stat_statements",
        1,
        parameters,
        calls,
        round(total_ms, 3),
    )


class _Relations(Visitor):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.names: list[tuple[str | None, str]] = []

    def visit(self, ancestors: Any, node: Any) -> None:
        if isinstance(node, ast.RangeVar) and node.relname:
            self.names.append((node.schemaname, node.relname))


def _reads_only_catalogs(node: ast.Node) -> bool:
    relations = _Relations()
    relations(node)
    if not relations.names:
        return True
    return all(
        schema in ("pg_catalog", "information_schema") or name.startswith("pg_")
        for schema, name in relations.names
    )


# --- sampling -------------------------------------------------------------------------------


def sample(queries: Sequence[Query], rate: float, seed: str = "") -> list[Query]:
    """The queries a sampling ``rate`` (0 < rate <= 1) selects, deterministically.

    Each query is in when a hash of its key (and ``seed``) falls below ``rate``: the same
    queries are chosen before and after a migration and from one run to the next, and a
    different ``seed`` rotates the choice. The fraction really selected is reported by the
    profiler, since a small set rarely matches ``rate`` exactly.
    """
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"sampling rate must be within (0, 1], got {rate}")
    if rate >= 1.0:
        return list(queries)
    chosen = []
    for query in queries:
        digest = hashlib.sha256(f"{seed}\0{query.key}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2.0**64 < rate:
            chosen.append(query)
    return chosen
