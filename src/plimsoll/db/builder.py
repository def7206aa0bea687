"""Builds one SQL script from the schema folder's DDL files, and a fresh database from it.

:func:`build_schema` reads every ``.sql`` file under the schema folder (``db/schema`` by
default), recursively, in the order of their paths (``00_common/...`` before ``10_tables/...``),
parses each file on its own with :func:`plimsoll.db.sql.parse_sql` (so a syntax error names the
file, line and column it is in) and concatenates them into one script:

* a header of ``--`` comments: the SHA-256 of the body, each source file with its own SHA-256
  and statement count; no timestamp and no absolute path, so the whole output is identical on
  every machine for the same files;
* the body: for each file a ``-- file: <path>`` marker line then the file's text (CRLF line
  ends made LF and a leading BOM dropped, so a checkout's line-end setting does not change
  it), with a lone ``;`` added after a file whose last statement has none (it would run into
  the next file's first statement otherwise). The hash is the SHA-256 of this body.

Every statement keeps the file and line it came from: :meth:`BuiltSchema.locate` maps an
error position reported by the server inside a statement back to that file and line.

:func:`create_database` makes an empty database on a server and marks it as a build's (its
comment starts with :data:`BUILD_MARK`). An existing database of that name is dropped first
(and reported) only when it carries that mark, or when it is the default ``<dbname>_build``
with no comment at all (what versions before the mark made): any other database may hold
data, so dropping it takes ``force``. :func:`apply_schema` runs the built statements in one
transaction, then the seeds (built the same way from the seeds folder) in a second one. A
statement the server rejects raises :class:`ApplyError` naming the source file, line and
column (exit 1); statements that cannot run in a transaction block and ``BEGIN``/``COMMIT``
are rejected when building (exit 2), since the built script runs as one transaction.

Files written for psql work as psql runs them: harmless meta-commands (pg_dump's
``\\restrict``/``\\unrestrict``, ``\\set ON_ERROR_STOP``, ``\\echo``) are skipped and any
other is refused when building (exit 2, ``file:line:column``); a ``COPY ... FROM stdin``
followed by its rows (pg_dump's data format, up to ``\\.``) is sent with psycopg's COPY
support, and a row the server rejects is reported at its own line. The built script keeps
those lines as written, so ``psql -f`` runs it too.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pglast.parser
import psycopg
from pglast import ast
from psycopg import sql as pgsql
from psycopg.conninfo import make_conninfo

from plimsoll.core.errors import CannotRunError, ExitCode, InputError, PlimsollError, UsageError
from plimsoll.db.connection import (
    APPLICATION_NAME,
    CONNECT_TIMEOUT_SECONDS,
    connect_url,
    masked_line,
    redact_url,
)
from plimsoll.db.sql import (
    DEFAULT_SERVER_VERSION,
    ParsedScript,
    copies_from_stdin,
    parse_sql,
    transactional,
)
from plimsoll.db.sqlfiles import CopyData, MetaCommand, read_sql, sql_files

__all__ = [
    "BUILD_MARK",
    "BUILD_SUFFIX",
    "ApplyError",
    "ApplyReport",
    "BuiltSchema",
    "BuiltStatement",
    "CreatedDatabase",
    "SourceFile",
    "SourcePosition",
    "apply_schema",
    "build_schema",
    "create_database",
]

# The database a build creates is named after the environment's own: `<dbname>_build`.
BUILD_SUFFIX = "_build"
# PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes; a longer name would be created
# truncated and then not found under the name we connect with.
_MAX_IDENTIFIER_BYTES = 63
# Never dropped by a build, whatever --database or --force say.
_PROTECTED_DATABASES = frozenset({"postgres", "template0", "template1"})
BUILD_MARK = "plimsoll db build:"
"""How the comment of a database made by a build starts: the mark that lets the next build
drop it. A comment is kept with the database (pg_shdescription), visible to anyone
(``\\l+``, ``shobj_description``), and nothing else writes one on a database it creates."""
_BUILD_COMMENT = (
    f"{BUILD_MARK} a scratch database built from the schema files; every build drops and "
    "recreates it"
)
_FILE_MARKER = "-- file: "
_HEADER_END = "-- end of header\n"


class ApplyError(PlimsollError):
    """A built statement failed on the server: the transaction was rolled back (exit 1)."""

    exit_code = ExitCode.FINDINGS
    slug = "build-failed"

    def __init__(
        self,
        position: SourcePosition,
        message: str,
        *,
        statement_index: int,
        sqlstate: str | None,
        database: str,
        undone: str = "rolled back",
    ) -> None:
        # ``undone`` says what the rollback undid: all of it, or only the seeds.
        super().__init__(f"{position}: {message}; {undone}")
        self.position = position
        self.reason = message
        self.statement_index = statement_index
        self.sqlstate = sqlstate
        self.database = database

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of the failure."""
        return {
            "file": self.position.file,
            "line": self.position.line,
            "column": self.position.column,
            "message": self.reason,
            "sqlstate": self.sqlstate,
            "statement_index": self.statement_index,
            "database": self.database,
        }


@dataclass(frozen=True)
class SourcePosition:
    """A place in a source file: ``file:line:column`` (1-based; column None when unknown)."""

    file: str
    line: int
    column: int | None = None

    def __str__(self) -> str:
        """``file:line:column``, or ``file:line`` without a column."""
        tail = f":{self.column}" if self.column is not None else ""
        return f"{self.file}:{self.line}{tail}"


@dataclass(frozen=True)
class SourceFile:
    """One file of the build: its path (relative, with ``/``), hash and statement count."""

    path: str
    display: str
    sha256: str
    statements: int


@dataclass(frozen=True)
class BuiltStatement:
    """One statement of the build, with where it came from and where it is in the script.

    ``line``/``column`` locate its first character in the source file ``source``;
    ``offset`` is its character offset in :attr:`BuiltSchema.sql` and ``built_line`` its line
    there. ``node`` (the pglast AST) takes no part in equality or repr.
    """

    index: int
    source: str
    line: int
    column: int
    offset: int
    built_line: int
    text: str
    kind: str
    node: ast.Node = field(compare=False, hash=False, repr=False)
    copy_data: CopyData | None = None

    @property
    def is_copy_from_stdin(self) -> bool:
        """True for ``COPY ... FROM STDIN``: its rows (``copy_data``) are sent by the client."""
        return copies_from_stdin(self.node)


@dataclass(frozen=True)
class BuiltSchema:
    """The built script: its text, the hash of its body, its sources and statements.

    ``skipped`` are the psql meta-commands the files hold that applying them skips (each with
    the file it is in); they stay in :attr:`sql`, for psql.
    """

    sql: str
    sha256: str
    sources: tuple[SourceFile, ...]
    statements: tuple[BuiltStatement, ...]
    label: str
    skipped: tuple[tuple[str, MetaCommand], ...] = ()

    def position(self, statement_index: int, position: int | None = None) -> SourcePosition:
        """The source file, line and column of a 1-based character ``position`` in a statement.

        ``position`` is what PostgreSQL reports (psycopg's ``diag.statement_position``): a
        character count into the statement's text, 1 for its first character. None (an error
        without a position) gives the statement's own first line and column.
        """
        statement = self.statements[statement_index]
        if not position or position < 1:
            return SourcePosition(statement.source, statement.line, statement.column)
        before = statement.text[: position - 1]
        newlines = before.count("\n")
        if not newlines:
            return SourcePosition(statement.source, statement.line, statement.column + position - 1)
        return SourcePosition(
            statement.source, statement.line + newlines, len(before) - before.rfind("\n")
        )

    def row_position(self, statement_index: int, row: int) -> SourcePosition:
        """The source file and line of the 1-based ``row`` of a COPY's inline data.

        ``row`` counts rows as the server does in its "COPY t, line N" context (a CSV value
        or an escaped newline may span lines; the row starts where it is counted).
        """
        statement = self.statements[statement_index]
        data = statement.copy_data
        if data is None:
            return self.position(statement_index)
        return SourcePosition(statement.source, data.line + _row_offset(statement, row))

    def locate(self, statement_index: int, position: int | None = None) -> tuple[str, int]:
        """The (source file, line) of a 1-based character ``position`` in a statement."""
        found = self.position(statement_index, position)
        return found.file, found.line

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description of the build (without the SQL text)."""
        return {
            "schema_dir": self.label,
            "sha256": self.sha256,
            "files": [
                {"path": s.display, "sha256": s.sha256, "statements": s.statements}
                for s in self.sources
            ],
            "statements": len(self.statements),
            "skipped_meta_commands": [
                {"file": file, "line": command.line, "command": command.text}
                for file, command in self.skipped
            ],
        }


@dataclass(frozen=True)
class CreatedDatabase:
    """The empty database a build made: its name and URL, and whether an old one was dropped."""

    name: str
    conninfo: str = field(repr=False)
    dropped: bool
    server_version: int
    forced: bool = False

    @property
    def display_url(self) -> str:
        """The database's URL with any password masked."""
        return redact_url(self.conninfo)


@dataclass(frozen=True)
class ApplyReport:
    """What :func:`apply_schema` ran: statement counts and durations."""

    database: str
    statements: int
    seed_statements: int
    schema_ms: int
    seeds_ms: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "database": self.database,
            "statements": self.statements,
            "seed_statements": self.seed_statements,
            "schema_ms": self.schema_ms,
            "seeds_ms": self.seeds_ms,
        }


# --- COPY rows ------------------------------------------------------------------------------

# In text format a backslash escapes the next character, a newline included (a row continues).
_TEXT_ROW_STOP = re.compile(r"\\[\s\S]|\n")
# The row number in the context of a COPY error: "COPY customers, line 3, column id: ...".
_COPY_CONTEXT_ROW = re.compile(r"^COPY .*?, line (\d+).*$", re.M)


def _copy_options(statement: BuiltStatement) -> tuple[bool, str, str]:
    """(CSV?, quote, escape) of a COPY statement, as written or PostgreSQL's defaults."""
    options: dict[str, str] = {}
    for option in getattr(statement.node, "options", None) or ():
        if isinstance(option, ast.DefElem) and option.defname:
            value = getattr(option.arg, "sval", None)
            options[option.defname.lower()] = value if isinstance(value, str) else ""
    csv = options.get("format", "text").lower() == "csv"
    quote = options.get("quote") or '"'
    return csv, quote, options.get("escape") or quote


def _row_offset(statement: BuiltStatement, row: int) -> int:
    """How many lines after the first line of a COPY's data the row the server calls ``row``
    starts (its "COPY t, line N" context)."""
    data = statement.copy_data.text if statement.copy_data else ""
    csv, quote, escape = _copy_options(statement)
    line = 0
    counted = 0
    for index, newlines in enumerate(_csv_rows(data, quote, escape) if csv else _text_rows(data)):
        # The server counts rows, and in CSV also the newlines inside quoted values, except
        # those of the first row (it learns the line ending at that row's end: copyfromparse.c).
        counted += 1 + (newlines if csv and index > 0 else 0)
        if counted >= row:
            return line
        line += 1 + newlines
    return line


def _text_rows(data: str) -> Iterator[int]:
    """For each row of text-format COPY data, the escaped newlines inside it."""
    inside = 0
    for stop in _TEXT_ROW_STOP.finditer(data):
        if stop.group() == "\n":
            yield inside
            inside = 0
        elif stop.group().endswith("\n"):
            inside += 1
    yield inside


def _csv_rows(data: str, quote: str, escape: str) -> Iterator[int]:
    """For each row of CSV COPY data, the newlines inside its quoted values.

    Inside quotes the escape character takes the quote (or itself) that follows it.
    """
    specials = re.compile("[" + re.escape(quote + escape) + "\n]")
    quoted = False
    inside = 0
    index = 0
    while True:
        found = specials.search(data, index)
        if found is None:
            yield inside
            return
        at = found.start()
        char = data[at]
        index = at + 1
        if char == "\n":
            if quoted:
                inside += 1
            else:
                yield inside
                inside = 0
        elif quoted and char == escape and data[at + 1 : at + 2] in (quote, escape):
            index = at + 2
        elif char == quote:
            quoted = not quoted


def _copy_row(exc: psycopg.Error) -> tuple[int, str] | None:
    """The row of the COPY data the server rejected and the context line saying so, if any."""
    found = list(_COPY_CONTEXT_ROW.finditer(exc.diag.context or ""))
    return (int(found[-1].group(1)), found[-1].group()) if found else None


def _copy_in(conn: psycopg.Connection[Any], statement: BuiltStatement) -> None:
    """Run a ``COPY ... FROM stdin`` sending its inline rows, as psql would."""
    rows = statement.copy_data.text if statement.copy_data else ""
    if rows and not rows.endswith("\n"):
        rows += "\n"
    with conn.cursor() as cursor, cursor.copy(statement.text) as copy:
        if rows:
            copy.write(rows)


# --- building -------------------------------------------------------------------------------


def _ends_with_semicolon(script: ParsedScript) -> bool:
    """Whether the script's last statement is followed by a ``;`` (outside comments)."""
    if not script.statements:
        return True
    tail = script.text[script.statements[-1].end :]
    if ";" not in tail:
        return False
    return any(token.name == "ASCII_59" for token in pglast.parser.scan(tail))


def _open_copy(script: ParsedScript) -> bool:
    """Whether the script ends in a ``COPY ... FROM stdin`` whose rows no ``\\.`` ends."""
    if not script.statements:
        return False
    last = script.statements[-1]
    if not last.is_copy_from_stdin:
        return False
    return last.copy_data is None or not last.copy_data.terminated


def _check_statement(script: ParsedScript, index: int, server_version: int) -> None:
    statement = script.statements[index]
    where = f"{script.source}:{statement.start_line}:{statement.start_column}"
    if statement.is_transaction_control:
        raise InputError(
            f"{where}: transaction control in a schema file: the build runs every file in "
            "one transaction (remove BEGIN/COMMIT)"
        )
    node = statement.node
    if isinstance(node, ast.CopyStmt) and not node.is_from and node.filename is None:
        # psql would print the rows; a build has nowhere to send them.
        raise InputError(
            f"{where}: COPY ... TO STDOUT in a schema or seed file: the build does not print "
            "rows (remove it)"
        )
    requirement = transactional(statement, server_version)
    if not requirement.in_transaction:
        raise InputError(
            f"{where}: {requirement.reason} cannot run inside a transaction block, and the "
            "build runs every file in one (a fresh database needs no concurrent build)"
        )


def build_schema(
    schema_dir: Path,
    label: str | None = None,
    *,
    server_version: int = DEFAULT_SERVER_VERSION,
) -> BuiltSchema:
    """Concatenate the ``.sql`` files under ``schema_dir`` into one script (see the module doc).

    ``label`` is how the folder is named in the header and in messages (default: the path
    as given); sources are named ``<label>/<relative path>``. The hash covers only the body,
    whose file markers use paths relative to ``schema_dir``, so neither the label nor the
    machine changes it. Raises InputError (exit 2) for a missing folder, a folder without
    ``.sql`` files, an unreadable file, a syntax error (``file:line:column: message``), and
    a statement that cannot run in a transaction block.
    """
    name = label if label is not None else str(schema_dir)
    if not schema_dir.is_dir():
        raise InputError(f"{name}: schema folder not found (run `plimsoll db init`)")
    files = sql_files(schema_dir)
    if not files:
        raise InputError(f"{name}: no .sql files in the schema folder")
    prefix = f"{name.rstrip('/')}/" if name else ""
    body: list[str] = []
    sources: list[SourceFile] = []
    statements: list[BuiltStatement] = []
    skipped: list[tuple[str, MetaCommand]] = []
    offset = 0  # characters of the body so far
    line = 1  # the body line at `offset`
    for relative, path in files:
        display = prefix + relative
        text = read_sql(path, display)
        script = parse_sql(text, display)
        skipped += [(display, command) for command in script.meta_commands]
        for index in range(len(script.statements)):
            _check_statement(script, index, server_version)
        marker = f"{_FILE_MARKER}{relative}\n"
        chunk = text if text.endswith("\n") or not text else text + "\n"
        if not _ends_with_semicolon(script):
            chunk += ";\n"
        if _open_copy(script):
            # psql would read the next file as this COPY's rows: end them here.
            chunk += "\\.\n"
        start = offset + len(marker)
        start_line = line + 1
        for statement in script.statements:
            statements.append(
                BuiltStatement(
                    index=len(statements),
                    source=display,
                    line=statement.start_line,
                    column=statement.start_column,
                    offset=start + statement.start,
                    built_line=start_line + statement.start_line - 1,
                    text=statement.text,
                    kind=statement.kind,
                    node=statement.node,
                    copy_data=statement.copy_data,
                )
            )
        body.append(marker)
        body.append(chunk)
        offset += len(marker) + len(chunk)
        line += 1 + chunk.count("\n")
        sources.append(
            SourceFile(
                path=relative,
                display=display,
                sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                statements=len(script.statements),
            )
        )
    body_text = "".join(body)
    digest = hashlib.sha256(body_text.encode("utf-8")).hexdigest()
    header = _header(name, digest, sources, len(statements))
    # Offsets and lines so far count from the body; shift them past the header.
    shift, shift_lines = len(header), header.count("\n")
    shifted = tuple(
        BuiltStatement(
            index=s.index,
            source=s.source,
            line=s.line,
            column=s.column,
            offset=s.offset + shift,
            built_line=s.built_line + shift_lines,
            text=s.text,
            kind=s.kind,
            node=s.node,
            copy_data=s.copy_data,
        )
        for s in statements
    )
    return BuiltSchema(header + body_text, digest, tuple(sources), shifted, name, tuple(skipped))


def _header(label: str, digest: str, sources: Sequence[SourceFile], statements: int) -> str:
    lines = [
        "-- plimsoll db build",
        f"-- schema: {label}",
        f"-- sha256: {digest} (of everything below the header)",
        f"-- {len(sources)} files, {statements} statements, in this order:",
    ]
    width = max(len(s.path) for s in sources)
    lines += [
        f"--   {s.path.ljust(width)}  sha256:{s.sha256[:16]}  statements:{s.statements}"
        for s in sources
    ]
    return "\n".join(lines) + "\n" + _HEADER_END


# --- applying -------------------------------------------------------------------------------


def _one_line(exc: BaseException, conninfo: str) -> str:
    return masked_line(str(exc), conninfo)


def _connect(conninfo: str, *, autocommit: bool) -> psycopg.Connection[Any]:
    return connect_url(
        conninfo,
        autocommit=autocommit,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        application_name=f"{APPLICATION_NAME}-build",
    )


def _check_name(name: str, current: str) -> None:
    if not name:
        raise UsageError("the build database needs a name")
    if len(name.encode("utf-8")) > _MAX_IDENTIFIER_BYTES:
        raise UsageError(
            f"database name {name!r} is longer than {_MAX_IDENTIFIER_BYTES} bytes "
            "(choose one with --database)"
        )
    if name == current or name in _PROTECTED_DATABASES:
        # The build drops the database it creates into: never the environment's own.
        raise UsageError(
            f"refusing to build into database {name!r}: a build drops and recreates its "
            "database (choose another with --database)"
        )


def _existing(conn: psycopg.Connection[Any], name: str) -> tuple[bool, str | None]:
    """(whether database ``name`` exists, its comment: None when it has none)."""
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (name,),
    ).fetchone()
    if row is None:
        return False, None
    return True, None if row[0] is None else str(row[0])


def _replaceable(comment: str | None, default_name: bool) -> bool:
    """Whether a build may drop an existing database with ``comment`` without ``--force``.

    A build's mark says a build made it. So does no comment at all on the default
    ``<dbname>_build``: plimsoll versions before the mark made exactly that database, without
    a comment, and refusing it would break every project's next build after an upgrade. A
    database named with ``--database`` needs the mark, and one with another comment was
    described by someone, so it is never taken for a build's.
    """
    if comment is not None and comment.startswith(BUILD_MARK):
        return True
    return comment is None and default_name


def create_database(
    server_conninfo: str, name: str | None = None, *, force: bool = False
) -> CreatedDatabase:
    """Create an empty database ``name`` (default ``<dbname>_build``) on a server, marked.

    Connects with ``server_conninfo`` (any database of the server; its own name gives the
    default ``<dbname>_build``) and creates ``name`` from ``template0``, so nothing installed
    in ``template1`` leaks in, with a comment starting with :data:`BUILD_MARK`. When ``name``
    exists it is dropped first (sessions on it are ended) if it carries that mark, that is if
    a build made it, or if it is the default ``<dbname>_build`` with no comment at all (what
    plimsoll versions before the mark made); any other database may hold someone's data, so
    it is refused (UsageError, exit 2) unless ``force``. The connected database, ``postgres``
    and the templates are refused whatever ``force`` says. Raises CannotRunError when the
    server cannot be reached or refuses to create databases.
    """
    with _connect(server_conninfo, autocommit=True) as conn:
        current = conn.info.dbname
        target = name if name is not None else f"{current}{BUILD_SUFFIX}"
        _check_name(target, current)
        version = conn.info.server_version
        identifier = pgsql.Identifier(target)
        try:
            dropped, comment = _existing(conn, target)
            marked = _replaceable(comment, default_name=name is None)
            if dropped and not marked and not force:
                why = (
                    "its comment has no build mark"
                    if comment is None
                    else "its comment is not a build's"
                )
                raise UsageError(
                    f"refusing to drop database {target!r}: it exists and was not created by "
                    f"plimsoll db build ({why}), so it may hold data; "
                    "choose another name with --database, or pass --force to drop it and "
                    "everything in it"
                )
            if dropped:
                with_force = pgsql.SQL(" WITH (FORCE)") if version >= 130000 else pgsql.SQL("")
                conn.execute(
                    pgsql.SQL("DROP DATABASE IF EXISTS {}{}").format(identifier, with_force)
                )
            conn.execute(pgsql.SQL("CREATE DATABASE {} TEMPLATE template0").format(identifier))
            _mark(conn, target)
        except psycopg.Error as exc:
            raise CannotRunError(
                f"cannot create database {target!r} at {redact_url(server_conninfo)}: "
                f"{_one_line(exc, server_conninfo)}"
            ) from None
    return CreatedDatabase(
        target,
        make_conninfo(server_conninfo, dbname=target),
        dropped,
        version,
        forced=dropped and not marked,
    )


def _mark(conn: psycopg.Connection[Any], name: str) -> None:
    """Comment the new database with the build's mark; drop it again if that fails.

    An unmarked database left behind would be refused by the next build.
    """
    identifier = pgsql.Identifier(name)
    try:
        conn.execute(
            pgsql.SQL("COMMENT ON DATABASE {} IS {}").format(
                identifier, pgsql.Literal(_BUILD_COMMENT)
            )
        )
    except psycopg.Error:
        if not conn.broken:
            conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {}").format(identifier))
        raise


def _server_message(exc: psycopg.Error) -> str:
    diag = exc.diag
    severity = diag.severity or "ERROR"
    primary = diag.message_primary or (str(exc).splitlines() or [type(exc).__name__])[0]
    message = f"{severity}: {primary}"
    if diag.message_detail:
        message += f" (detail: {diag.message_detail})"
    if diag.message_hint:
        message += f" (hint: {diag.message_hint})"
    return message


def _statement_position(exc: psycopg.Error) -> int | None:
    raw = exc.diag.statement_position
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def _failure(
    built: BuiltSchema,
    index: int,
    exc: psycopg.Error,
    database: str,
    when: str = "",
    undone: str = "rolled back",
) -> ApplyError:
    row = _copy_row(exc) if built.statements[index].is_copy_from_stdin and not when else None
    if row is not None:
        # A row of inline COPY data: its own line, and the server's context (column, value).
        number, context = row
        return ApplyError(
            built.row_position(index, number),
            f"{_server_message(exc)} ({context})",
            statement_index=index,
            sqlstate=exc.diag.sqlstate,
            database=database,
            undone=undone,
        )
    return ApplyError(
        built.position(index, None if when else _statement_position(exc)),
        _server_message(exc) + when,
        statement_index=index,
        sqlstate=exc.diag.sqlstate,
        database=database,
        undone=undone,
    )


def _run(
    conn: psycopg.Connection[Any],
    built: BuiltSchema,
    database: str,
    undone: str = "rolled back",
) -> int:
    """Run every statement of ``built`` in one transaction; the milliseconds it took.

    ``undone`` ends the message of a failure: what its rollback undid.
    """
    for statement in built.statements:
        _check_transactional(statement, conn.info.server_version)
    if not built.statements:
        return 0
    started = time.perf_counter()
    # BEGIN and COMMIT by hand (the connection is in autocommit) so that an error raised by
    # COMMIT itself, such as a deferred constraint, is told apart from a statement's.
    conn.execute("BEGIN")
    try:
        for statement in built.statements:
            try:
                if statement.is_copy_from_stdin:
                    _copy_in(conn, statement)
                else:
                    conn.execute(statement.text, prepare=False)
            except psycopg.Error as exc:
                if conn.broken:
                    raise
                raise _failure(built, statement.index, exc, database, undone=undone) from None
    except BaseException as exc:
        if not conn.broken:
            conn.execute("ROLLBACK")
            if isinstance(exc, KeyboardInterrupt):  # said on the "plimsoll: interrupted" line
                what = (
                    f"the build was rolled back in database {database}"
                    if undone == "rolled back"
                    else undone
                )
                exc.add_note(f"the running statement was cancelled; {what}")
        raise
    try:
        conn.execute("COMMIT")
    except psycopg.Error as exc:
        # A failed COMMIT has ended the transaction already: nothing to roll back.
        if conn.broken:
            raise
        last = built.statements[-1].index
        when = " (at COMMIT, after the last statement)"
        raise _failure(built, last, exc, database, when, undone) from None
    return int((time.perf_counter() - started) * 1000)


def _check_transactional(statement: BuiltStatement, server_version: int) -> None:
    # Built with the default version; the real server's may reject more (ADD VALUE before 12).
    requirement = transactional(statement.node, server_version)
    if not requirement.in_transaction:
        raise InputError(
            f"{statement.source}:{statement.line}:{statement.column}: {requirement.reason} "
            "cannot run inside a transaction block on this server"
        )


def apply_schema(
    conninfo: str, built: BuiltSchema, seeds: BuiltSchema | None = None
) -> ApplyReport:
    """Run ``built`` on the database ``conninfo`` in one transaction, then ``seeds`` in another.

    A statement the server rejects raises :class:`ApplyError` (exit 1) with the source file,
    line and column of the error (rolling back its transaction: a failing seed leaves the
    schema in place); an unreachable database raises CannotRunError (exit 3).
    """
    with _connect(conninfo, autocommit=True) as conn:
        database = conn.info.dbname
        try:
            schema_ms = _run(conn, built, database)
            seeds_ms = 0
            if seeds is not None:
                # The schema is committed by now: a failing seed undoes the seeds only.
                undone = (
                    f"the seeds were rolled back; the schema built before them stays in"
                    f" database {database}"
                )
                seeds_ms = _run(conn, seeds, database, undone)
        except psycopg.Error as exc:
            if not conn.broken:
                raise
            # The connection itself failed mid-way (server shut down): not the SQL's fault.
            raise CannotRunError(
                f"lost the connection to {redact_url(conninfo)}: {_one_line(exc, conninfo)}"
            ) from None
    return ApplyReport(
        database=database,
        statements=len(built.statements),
        seed_statements=len(seeds.statements) if seeds is not None else 0,
        schema_ms=schema_ms,
        seeds_ms=seeds_ms,
    )
