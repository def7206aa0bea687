"""SQL scripts parsed by pglast (the PostgreSQL parser itself), with source locations.

:func:`parse_sql` turns a script into :class:`Statement` records: the exact source text of each
statement, its line and column span, its kind (the pglast node class name, such as
``CreateStmt``) and its AST node. The migrator, the linter and the risk scorer read these.

Locations. Lines and columns are 1-based and count characters, not UTF-8 bytes (a tab is one
column). A statement starts at its first token: leading whitespace and comments are skipped, and
trailing ones (before the semicolon, or at the end of a file without a final semicolon) are not
part of its text. Statements are found with pglast's ``split`` (PostgreSQL's parser, without
building Python nodes) and then each is parsed alone, so the ``location`` of a node is an offset
into its :attr:`Statement.text`.

psql's own lines. A script written for psql may hold meta-command lines (``\\restrict <key>``
from pg_dump, ``\\set ON_ERROR_STOP on``) and the inline rows of ``COPY ... FROM stdin``, which
PostgreSQL's parser does not read: they are found first (:func:`plimsoll.db.sqlfiles.psql_lines`,
outside literals, quoted identifiers, dollar-quoted bodies and comments), reported in
:attr:`ParsedScript.meta_commands` and :attr:`Statement.copy_data`, and left out of the SQL (made
blank, so that every statement keeps its offset, line and column). Harmless meta-commands are
skipped; any other is refused (:class:`UnsupportedMetaCommand`) unless the caller only reads
the script and asks for all of them.

Mapping offsets to lines is linear in the size of the script overall: newlines are counted
incrementally between consecutive statements, never from the start of the file each time.
:meth:`ParsedScript.line_column` maps any character offset of the script, and
:meth:`ParsedScript.locate` a node's location in a statement, by bisecting a table of line
starts built once.

:func:`transactional` says whether a statement can run inside a transaction block,
:func:`transaction_control` and :func:`strip_outer_transaction` support the migrator's policy on
``BEGIN``/``COMMIT`` in a file, and :func:`touched_tables` names the relations a statement
changes.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import pglast.parser
from pglast import ast
from pglast.enums import (
    AlterSubscriptionType,
    AlterTableType,
    DiscardMode,
    ObjectType,
    ReindexObjectType,
    TransactionStmtKind,
)

from plimsoll.core.errors import InputError
from plimsoll.core.gcpause import gc_paused
from plimsoll.db.sqlfiles import CopyData, MetaCommand, PsqlLines, psql_lines

__all__ = [
    "ParsedScript",
    "QualifiedName",
    "SqlSyntaxError",
    "Statement",
    "TransactionRequirement",
    "UnsupportedMetaCommand",
    "parse_sql",
    "split_statements",
    "statement_kind",
    "strip_outer_transaction",
    "touched_tables",
    "transaction_control",
    "transactional",
]

# The server version assumed when none is given: PostgreSQL 15, as ``server_version_num``.
DEFAULT_SERVER_VERSION = 150000


class SqlSyntaxError(InputError):
    """A script PostgreSQL's parser rejects, located as ``file:line:column: message``."""

    slug = "sql-syntax"

    def __init__(self, source: str, line: int, column: int, reason: str) -> None:
        super().__init__(f"{source}:{line}:{column}: {reason}")
        self.source = source
        self.line = line
        self.column = column
        self.reason = reason


class UnsupportedMetaCommand(SqlSyntaxError):
    """A psql meta-command that running a script without psql cannot skip (``\\i``, ``\\c``)."""

    slug = "psql-meta-command"

    def __init__(self, source: str, command: MetaCommand) -> None:
        super().__init__(source, command.line, command.column, command.refusal())
        self.command = command


def copies_from_stdin(node: ast.Node) -> bool:
    """Whether ``node`` is ``COPY ... FROM STDIN``, whose rows the client sends."""
    return (
        isinstance(node, ast.CopyStmt)
        and bool(node.is_from)
        and node.filename is None
        and not node.is_program
    )


@dataclass(frozen=True)
class Statement:
    """One statement of a script: its source text and span, its kind and its AST node.

    ``start``/``end`` are character offsets into the script (``end`` exclusive), so that
    ``script.text[start:end] == text``; lines and columns are 1-based. ``end_line`` and
    ``end_column`` locate the statement's last character. ``node`` is the pglast statement node
    (the ``stmt`` of pglast's ``RawStmt``); it takes no part in equality, hashing or repr.
    ``copy_data`` holds the inline rows of a ``COPY ... FROM stdin`` written after it.
    """

    text: str
    start_line: int
    start_column: int
    end_line: int
    end_column: int
    start: int
    end: int
    kind: str
    node: ast.Node = field(compare=False, hash=False, repr=False)
    copy_data: CopyData | None = None

    @property
    def is_copy_from_stdin(self) -> bool:
        """True for ``COPY ... FROM STDIN``: its rows come from the client, not the server."""
        return copies_from_stdin(self.node)

    @property
    def is_transaction_control(self) -> bool:
        """True for BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, SAVEPOINT and the like."""
        return self.kind == "TransactionStmt"

    @property
    def is_dml(self) -> bool:
        """True for INSERT, UPDATE, DELETE and MERGE (with or without a WITH clause)."""
        return self.kind in _DML_KINDS


@dataclass(frozen=True)
class ParsedScript:
    """The statements of one script, in order, with the text they were parsed from.

    ``text`` is the SQL the parser read: the script with its psql meta-command lines and COPY
    data blanked (the same length and lines); ``meta_commands`` are those lines, in order.
    """

    source: str
    text: str = field(repr=False)
    statements: tuple[Statement, ...]
    meta_commands: tuple[MetaCommand, ...] = ()

    def __iter__(self) -> Iterator[Statement]:
        """Iterate over the statements."""
        return iter(self.statements)

    def __len__(self) -> int:
        """The number of statements."""
        return len(self.statements)

    @cached_property
    def _line_starts(self) -> list[int]:
        # Built on first use only: parse_sql itself counts lines incrementally and most callers
        # never map an arbitrary offset.
        starts = [0]
        find = self.text.find
        index = find("\n")
        while index >= 0:
            starts.append(index + 1)
            index = find("\n", index + 1)
        return starts

    def line_column(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) of a character offset into the script.

        O(log lines) per call after a one-off O(n) table of line starts.
        """
        starts = self._line_starts
        line = bisect.bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1

    def locate(self, statement: Statement, location: int) -> tuple[int, int]:
        """The 1-based (line, column) of a node ``location`` inside one of the statements."""
        return self.line_column(statement.start + location)

    def with_statements(self, statements: tuple[Statement, ...]) -> ParsedScript:
        """A copy of this script holding other statements (of the same text)."""
        return ParsedScript(self.source, self.text, statements, self.meta_commands)


@dataclass(frozen=True)
class TransactionRequirement:
    """Whether a statement can run inside a transaction block, and why not when it cannot."""

    in_transaction: bool
    reason: str | None = None


@dataclass(frozen=True)
class QualifiedName:
    """A relation name as written: schema (None when unqualified) and name."""

    schema: str | None
    name: str

    def __str__(self) -> str:
        """``schema.name``, or ``name`` when unqualified."""
        return f"{self.schema}.{self.name}" if self.schema else self.name


# ---------------------------------------------------------------------------------------------
# Parsing and locations


# PostgreSQL's scanner treats these as whitespace (``space`` in scan.l).
_SPACE = frozenset(" \t\n\r\f\v")


def _skip_gap(text: str, index: int, limit: int) -> int:
    """The first index at or after ``index`` that is not whitespace, a comment or a semicolon."""
    while index < limit:
        char = text[index]
        if char in _SPACE or char == ";":
            index += 1
        elif text.startswith("--", index) or text.startswith("/*", index):
            index = _skip_comment(text, index, limit)
        else:
            break
    return min(index, limit)


def _skip_block_comment(text: str, index: int, limit: int) -> int:
    # PostgreSQL block comments nest: /* a /* b */ c */ is one comment.
    depth = 0
    while index < limit:
        if text.startswith("/*", index):
            depth += 1
            index += 2
        elif text.startswith("*/", index):
            depth -= 1
            index += 2
            if depth == 0:
                return index
        else:
            index += 1
    return limit


def _trim_tail(text: str, start: int, end: int) -> int:
    """The end of the statement's last token, dropping trailing whitespace and comments."""
    stop = end
    while stop > start and text[stop - 1] in _SPACE:
        stop -= 1
    # A trailing comment can only be there when the last line mentions "--" or the text ends a
    # block comment; only then is the statement scanned, so the common case stays a few
    # character tests.
    line_start = max(text.rfind("\n", start, stop) + 1, start)
    ends_block = stop - start >= 2 and text.startswith("*/", stop - 2)
    if text.find("--", line_start, stop) < 0 and not ends_block:
        return stop
    tokens = pglast.parser.scan(text[start:stop])
    for token in reversed(tokens):
        if token.name not in ("SQL_COMMENT", "C_COMMENT"):
            return start + token.end + 1
    return start


def _reject_unparseable(text: str, source: str) -> None:
    # pglast hands the text to C as a NUL-terminated string: anything after a NUL would be
    # silently ignored, so a NUL is an error here rather than a truncated script.
    nul = text.find("\x00")
    if nul >= 0:
        line, column = _line_column_slow(text, nul)
        raise SqlSyntaxError(source, line, column, "NUL character in SQL text")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            line, column = _line_column_slow(text, exc.start)
            raise SqlSyntaxError(
                source, line, column, "text is not valid Unicode (lone surrogate)"
            ) from None


def _line_column_slow(text: str, index: int) -> tuple[int, int]:
    """The (line, column) of one index, by counting: for a single error position."""
    index = max(0, min(index, len(text)))
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


def _syntax_error(text: str, source: str, exc: pglast.parser.ParseError) -> SqlSyntaxError:
    reason = str(exc.args[0]) if exc.args else str(exc)
    index = exc.args[1] if len(exc.args) > 1 else None
    if not isinstance(index, int):
        # "at end of input": PostgreSQL points past the text; report just after its last token.
        index = len(text.rstrip())
    line, column = _line_column_slow(text, index)
    return SqlSyntaxError(source, line, column, midline_meta_command(text, index) or reason)


def midline_meta_command(text: str, index: int) -> str | None:
    """The reason to give for a syntax error at ``index`` when a psql meta-command is there.

    A backslash outside literals is only ever psql's (``SELECT 1 \\gset``); on a line of its
    own it is taken out before parsing, so here it follows SQL on its line.
    """
    if not text.startswith("\\", index):
        return None
    command = text[index:].split(maxsplit=1)[0]
    return (
        f"psql meta-command {command} after SQL on the same line is not supported: "
        "plimsoll runs the SQL itself, without psql"
    )


def _piece_start(text: str, piece: str, cursor: int) -> int:
    """Where ``piece`` (a statement from pglast's split) starts in ``text``, at or after ``cursor``.

    Between two statements there is only whitespace, comments and semicolons; pglast strips the
    whitespace and some PostgreSQL versions keep leading comments in the piece, so the gap is
    skipped one element at a time until the piece matches.
    """
    index = cursor
    size = len(text)
    while index < size:
        char = text[index]
        if char in _SPACE or char == ";" or char.isspace():
            index += 1
            continue
        if text.startswith(piece, index):
            return index
        if text.startswith("--", index) or text.startswith("/*", index):
            index = _skip_comment(text, index, size)
            continue
        break
    # Not reachable for pieces split from this very text; a search is the safe answer anyway.
    found = text.find(piece, cursor)
    return found if found >= 0 else cursor


def _skip_comment(text: str, index: int, limit: int) -> int:
    if text.startswith("--", index):
        newline = text.find("\n", index)
        return limit if newline < 0 else newline + 1
    return _skip_block_comment(text, index, limit)


def _piece_end(text: str, end: int) -> int:
    """``end`` moved past trailing characters that Python's strip removed but PostgreSQL keeps.

    pglast's split strips Unicode whitespace (such as a no-break space), which PostgreSQL reads
    as part of an identifier: those characters belong to the statement.
    """
    index = end
    size = len(text)
    while index < size and text[index].isspace():
        index += 1
        if text[index - 1] not in _SPACE:
            end = index
    return end


def _statement_spans(text: str, source: str) -> Iterator[tuple[int, int]]:
    """The (start, stop) character span of each statement: first token to last token."""
    _reject_unparseable(text, source)
    try:
        pieces = pglast.parser.split(text, with_parser=True, only_slices=False)
    except pglast.parser.ParseError as exc:
        raise _syntax_error(text, source, exc) from None
    cursor = 0
    for piece in pieces:
        begin = _piece_start(text, piece, cursor)
        end = _piece_end(text, begin + len(piece))
        cursor = end
        start = _skip_gap(text, begin, end)
        stop = _trim_tail(text, start, end)
        if stop > start:
            yield start, stop


def _parse_one(text: str, source: str, start: int, stop: int) -> ast.Node:
    """The AST of the statement at ``text[start:stop]``, alone."""
    try:
        raws = pglast.parser.parse_sql(text[start:stop])
    except pglast.parser.ParseError as exc:
        # The split already ran the parser over the whole text, so this is not expected; the
        # error is still reported at its place in the script.
        index = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        line, column = _line_column_slow(text, start + index)
        raise SqlSyntaxError(source, line, column, str(exc.args[0])) from None
    if len(raws) != 1 or raws[0].stmt is None:
        line, column = _line_column_slow(text, start)
        raise SqlSyntaxError(source, line, column, f"expected one statement, found {len(raws)}")
    return raws[0].stmt


def _sql_of(text: str, source: str, found: PsqlLines | None, all_meta_commands: bool) -> str:
    """The SQL of ``text`` without psql's lines; refuses a meta-command that cannot be skipped."""
    if found is None:
        return text
    if not all_meta_commands:
        for command in found.meta_commands:
            if not command.harmless:
                raise UnsupportedMetaCommand(source, command)
    return found.sql


def _with_copy_data(statements: list[Statement], found: PsqlLines) -> None:
    """Give each ``COPY ... FROM stdin`` the rows written after it."""
    ends = [statement.end for statement in statements]
    for data in found.copy_data:
        index = bisect.bisect_right(ends, data.start) - 1
        if index >= 0 and statements[index].kind == "CopyStmt":
            statements[index] = replace(statements[index], copy_data=data)


def parse_sql(
    text: str, source: str = "<string>", *, all_meta_commands: bool = False
) -> ParsedScript:
    """Parse a script into its statements; raise :class:`SqlSyntaxError` if PostgreSQL would not.

    ``source`` names the script in error messages (``source:line:column: message``). A script
    of only whitespace and comments has no statements.

    psql meta-command lines are left out and listed in :attr:`ParsedScript.meta_commands`;
    one that cannot be skipped (not in
    :data:`~plimsoll.db.sqlfiles.HARMLESS_META_COMMANDS`) raises
    :class:`UnsupportedMetaCommand`, unless ``all_meta_commands`` (for a caller that reads the
    script but does not run it). The rows after a ``COPY ... FROM stdin`` are that statement's
    :attr:`Statement.copy_data`.

    Each statement is parsed on its own, from its text: the locations inside its nodes are
    offsets into :attr:`Statement.text` (see :meth:`ParsedScript.locate`). Parsing statement by
    statement costs the same as one parse of the whole script, and keeps pglast's mapping of
    byte offsets to characters (a scan over the non-ASCII characters after each offset) from
    becoming quadratic on a large script with non-ASCII text.
    """
    found = psql_lines(text)
    text = _sql_of(text, source, found, all_meta_commands)
    statements: list[Statement] = []
    line = 1  # the line of offset `counted`
    counted = 0
    last_newline = -1  # the offset of the last newline before `counted`
    count = text.count
    rfind = text.rfind
    with gc_paused():
        for start, stop in _statement_spans(text, source):
            node = _parse_one(text, source, start, stop)
            gap_lines = count("\n", counted, start)
            if gap_lines:
                line += gap_lines
                last_newline = rfind("\n", counted, start)
            start_line, start_column = line, start - last_newline
            body_lines = count("\n", start, stop)
            if body_lines:
                line += body_lines
                last_newline = rfind("\n", start, stop)
            counted = stop
            statements.append(
                Statement(
                    text=text[start:stop],
                    start_line=start_line,
                    start_column=start_column,
                    end_line=line,
                    end_column=stop - 1 - last_newline,
                    start=start,
                    end=stop,
                    kind=type(node).__name__,
                    node=node,
                )
            )
    if found is None:
        return ParsedScript(source, text, tuple(statements))
    if found.copy_data:
        _with_copy_data(statements, found)
    return ParsedScript(source, text, tuple(statements), found.meta_commands)


def split_statements(text: str, source: str = "<string>") -> list[str]:
    """The text of each statement, exactly as :func:`parse_sql` gives it, without the AST.

    Runs PostgreSQL's parser through pglast's ``split`` (no Python nodes are built), so it
    raises :class:`SqlSyntaxError` like :func:`parse_sql`, about 30 times faster; psql's lines
    are left out (and refused) as :func:`parse_sql` does.
    """
    sql = _sql_of(text, source, psql_lines(text), False)
    return [sql[start:stop] for start, stop in _statement_spans(sql, source)]


def statement_kind(node: ast.Node) -> str:
    """The kind of a statement node: its pglast class name (``RawStmt`` is looked through)."""
    if isinstance(node, ast.RawStmt) and node.stmt is not None:
        node = node.stmt
    return type(node).__name__


# ---------------------------------------------------------------------------------------------
# Transactions


_IN_TRANSACTION = TransactionRequirement(True, None)

_DML_KINDS = frozenset({"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"})


def _defnames(options: Any) -> dict[str, Any]:
    """A statement's ``DefElem`` options (``WITH (...)``, ``(VERBOSE, ...)``) by name."""
    found: dict[str, Any] = {}
    for option in options or ():
        if isinstance(option, ast.DefElem) and option.defname:
            found[option.defname.lower()] = option.arg
    return found


def _option_false(arg: Any) -> bool:
    """Whether a boolean ``DefElem`` argument is false (absent means true, as in PostgreSQL)."""
    if isinstance(arg, ast.A_Const):
        arg = arg.val
    if isinstance(arg, ast.TypeName) and arg.names:
        # A bare word such as ``off`` is parsed as a type name.
        arg = arg.names[-1]
    if arg is None:
        return False
    for attribute in ("boolval", "ival", "sval"):
        value = getattr(arg, attribute, None)
        if value is not None:
            break
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value == 0
    # PostgreSQL's parse_bool accepts unique prefixes of these words.
    word = str(value).strip().lower()
    return bool(word) and (
        "false".startswith(word) or "no".startswith(word) or word in ("off", "of", "0")
    )


def _node_of(statement: Statement | ast.Node) -> ast.Node:
    node = statement.node if isinstance(statement, Statement) else statement
    if isinstance(node, ast.RawStmt) and node.stmt is not None:
        node = node.stmt
    return node


def transactional(
    statement: Statement | ast.Node, server_version: int = DEFAULT_SERVER_VERSION
) -> TransactionRequirement:
    """Whether a statement can run inside a transaction block on a server of that version.

    ``server_version`` is ``server_version_num`` (150000 for 15.0). Not in a transaction, per the
    PostgreSQL documentation: ``CREATE INDEX CONCURRENTLY``, ``DROP INDEX CONCURRENTLY``,
    ``REINDEX ... CONCURRENTLY``, ``REINDEX SCHEMA|DATABASE|SYSTEM``, ``VACUUM`` (``ANALYZE``
    alone can), ``CLUSTER`` without a table, ``CREATE DATABASE``, ``DROP DATABASE``,
    ``ALTER DATABASE ... SET TABLESPACE``, ``ALTER SYSTEM``, ``CREATE TABLESPACE``,
    ``DROP TABLESPACE``, ``ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY``,
    ``ALTER TYPE ... ADD VALUE`` before PostgreSQL 12, ``CREATE SUBSCRIPTION`` that creates a
    slot (the default), ``ALTER SUBSCRIPTION ... REFRESH PUBLICATION`` and ``... SET|ADD|DROP
    PUBLICATION`` with refresh (the default), ``DROP SUBSCRIPTION`` (refused in a transaction when
    the subscription has a slot, which the statement alone cannot tell, so the safe answer is
    given), ``DISCARD ALL``, ``COMMIT PREPARED`` and ``ROLLBACK PREPARED``.

    Not detected: a ``CLUSTER`` of a partitioned table, or procedures and ``DO`` blocks that
    commit, which need the catalog to tell.
    """
    node = _node_of(statement)
    reason = _non_transactional_reason(node, server_version)
    return _IN_TRANSACTION if reason is None else TransactionRequirement(False, reason)


def _non_transactional_reason(node: ast.Node, server_version: int) -> str | None:
    # One branch per statement kind; every reason names the statement as PostgreSQL's own
    # "cannot run inside a transaction block" error does.
    if isinstance(node, ast.IndexStmt):
        return "CREATE INDEX CONCURRENTLY" if node.concurrent else None
    if isinstance(node, ast.DropStmt):
        if node.concurrent and node.removeType == ObjectType.OBJECT_INDEX:
            return "DROP INDEX CONCURRENTLY"
        return None
    if isinstance(node, ast.ReindexStmt):
        if "concurrently" in _defnames(node.params) and not _option_false(
            _defnames(node.params)["concurrently"]
        ):
            return "REINDEX CONCURRENTLY"
        if node.kind == ReindexObjectType.REINDEX_OBJECT_SCHEMA:
            return "REINDEX SCHEMA"
        if node.kind == ReindexObjectType.REINDEX_OBJECT_DATABASE:
            return "REINDEX DATABASE"
        if node.kind == ReindexObjectType.REINDEX_OBJECT_SYSTEM:
            return "REINDEX SYSTEM"
        return None
    if isinstance(node, ast.VacuumStmt):
        return "VACUUM" if node.is_vacuumcmd else None
    if isinstance(node, ast.ClusterStmt):
        return "CLUSTER without a table" if node.relation is None else None
    if isinstance(node, ast.CreatedbStmt):
        return "CREATE DATABASE"
    if isinstance(node, ast.DropdbStmt):
        return "DROP DATABASE"
    if isinstance(node, ast.AlterDatabaseStmt):
        return "ALTER DATABASE SET TABLESPACE" if "tablespace" in _defnames(node.options) else None
    if isinstance(node, ast.AlterSystemStmt):
        return "ALTER SYSTEM"
    if isinstance(node, ast.CreateTableSpaceStmt):
        return "CREATE TABLESPACE"
    if isinstance(node, ast.DropTableSpaceStmt):
        return "DROP TABLESPACE"
    if isinstance(node, ast.AlterTableStmt):
        for cmd in node.cmds or ():
            if (
                isinstance(cmd, ast.AlterTableCmd)
                and cmd.subtype == AlterTableType.AT_DetachPartition
                and getattr(cmd.def_, "concurrent", False)
            ):
                return "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY"
        return None
    if isinstance(node, ast.AlterEnumStmt):
        adding = node.oldVal is None and node.newVal is not None
        if adding and server_version < 120000:
            return "ALTER TYPE ... ADD VALUE (before PostgreSQL 12)"
        return None
    if isinstance(node, ast.CreateSubscriptionStmt):
        return _create_subscription_reason(node)
    if isinstance(node, ast.AlterSubscriptionStmt):
        return _alter_subscription_reason(node)
    if isinstance(node, ast.DropSubscriptionStmt):
        return "DROP SUBSCRIPTION (when the subscription has a replication slot)"
    if isinstance(node, ast.DiscardStmt):
        return "DISCARD ALL" if node.target == DiscardMode.DISCARD_ALL else None
    if isinstance(node, ast.TransactionStmt):
        if node.kind == TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED:
            return "COMMIT PREPARED"
        if node.kind == TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED:
            return "ROLLBACK PREPARED"
    return None


def _create_subscription_reason(node: ast.CreateSubscriptionStmt) -> str | None:
    options = _defnames(node.options)
    # connect = false implies create_slot = false; create_slot defaults to true.
    if "connect" in options and _option_false(options["connect"]):
        return None
    if "create_slot" in options and _option_false(options["create_slot"]):
        return None
    return "CREATE SUBSCRIPTION ... WITH (create_slot = true)"


def _alter_subscription_reason(node: ast.AlterSubscriptionStmt) -> str | None:
    if node.kind == AlterSubscriptionType.ALTER_SUBSCRIPTION_REFRESH:
        return "ALTER SUBSCRIPTION ... REFRESH PUBLICATION"
    publication_kinds = (
        AlterSubscriptionType.ALTER_SUBSCRIPTION_SET_PUBLICATION,
        AlterSubscriptionType.ALTER_SUBSCRIPTION_ADD_PUBLICATION,
        AlterSubscriptionType.ALTER_SUBSCRIPTION_DROP_PUBLICATION,
    )
    if node.kind in publication_kinds:
        options = _defnames(node.options)
        if "refresh" in options and _option_false(options["refresh"]):
            return None
        return "ALTER SUBSCRIPTION ... PUBLICATION with refresh"
    return None


def transaction_control(script: ParsedScript) -> list[Statement]:
    """The transaction control statements of a script, in order.

    BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, ROLLBACK TO,
    PREPARE TRANSACTION, COMMIT PREPARED and ROLLBACK PREPARED.
    """
    return [statement for statement in script.statements if statement.is_transaction_control]


_OPENERS = (TransactionStmtKind.TRANS_STMT_BEGIN, TransactionStmtKind.TRANS_STMT_START)


def strip_outer_transaction(script: ParsedScript) -> ParsedScript | None:
    """The script without one ``BEGIN ... COMMIT`` pair wrapping all of it, or None.

    The migrator runs every migration in its own transaction, so a file may wrap its whole
    content in one ``BEGIN``/``START TRANSACTION`` (without options: an isolation level or
    access mode would be silently lost) as its first statement and ``COMMIT``/``END`` (without
    ``AND CHAIN``) as its last, with no other transaction control: that pair is dropped.
    Any other transaction control gives None. A script without transaction control is
    returned unchanged.
    """
    control = transaction_control(script)
    if not control:
        return script
    statements = script.statements
    if len(control) != 2 or len(statements) < 2:
        return None
    first, last = statements[0], statements[-1]
    if control[0] is not first or control[1] is not last:
        return None
    opener, closer = first.node, last.node
    if not (isinstance(opener, ast.TransactionStmt) and isinstance(closer, ast.TransactionStmt)):
        return None
    if opener.kind not in _OPENERS or opener.options:
        return None
    if closer.kind != TransactionStmtKind.TRANS_STMT_COMMIT or closer.chain:
        return None
    return script.with_statements(statements[1:-1])


# ---------------------------------------------------------------------------------------------
# Touched relations

# The relations a statement changes are tables (plain, partitioned, foreign), views and
# materialized views; indexes, sequences and types are not reported.
_RELATION_TYPES = frozenset(
    {
        ObjectType.OBJECT_TABLE,
        ObjectType.OBJECT_FOREIGN_TABLE,
        ObjectType.OBJECT_VIEW,
        ObjectType.OBJECT_MATVIEW,
    }
)
# A RenameStmt of these renames something of its relation (a column, a constraint...).
_RENAMES_IN_RELATION = frozenset(
    {
        ObjectType.OBJECT_COLUMN,
        ObjectType.OBJECT_TABCONSTRAINT,
        ObjectType.OBJECT_TRIGGER,
        ObjectType.OBJECT_POLICY,
        ObjectType.OBJECT_RULE,
    }
)


def _range_name(range_var: Any) -> QualifiedName | None:
    if isinstance(range_var, ast.RangeVar) and range_var.relname:
        return QualifiedName(range_var.schemaname, range_var.relname)
    return None


def _dotted_name(names: Any) -> QualifiedName | None:
    """A ``DropStmt`` object name: a sequence of String nodes, [catalog.][schema.]name."""
    parts = [getattr(part, "sval", None) for part in names or ()]
    strings = [part for part in parts if isinstance(part, str)]
    if not strings or len(strings) != len(parts):
        return None
    return QualifiedName(strings[-2] if len(strings) > 1 else None, strings[-1])


def touched_tables(statement: Statement | ast.Node) -> list[QualifiedName]:
    """The relations a statement creates, alters, drops, indexes, truncates or writes rows to.

    Best effort, from the statement alone, in order of appearance and without duplicates:

    * ``CREATE TABLE`` (its parents too: ``PARTITION OF``, ``INHERITS``), ``CREATE FOREIGN
      TABLE``, ``CREATE TABLE AS``/``SELECT INTO``, ``CREATE [MATERIALIZED] VIEW``;
    * ``ALTER TABLE``/``VIEW``/``MATERIALIZED VIEW``/``FOREIGN TABLE`` (with the partition of
      ``ATTACH``/``DETACH PARTITION``), their ``RENAME`` and ``SET SCHEMA`` forms, renames of a
      column, constraint, trigger, policy or rule;
    * ``DROP TABLE``/``VIEW``/``MATERIALIZED VIEW``/``FOREIGN TABLE`` (every name listed);
    * ``CREATE INDEX`` (the indexed table), ``REINDEX TABLE``, ``CLUSTER``, ``VACUUM``/``ANALYZE``,
      ``REFRESH MATERIALIZED VIEW``, ``CREATE TRIGGER``, ``CREATE RULE``,
      ``CREATE``/``ALTER POLICY``;
    * ``INSERT``, ``UPDATE``, ``DELETE``, ``MERGE`` (the target only, also inside WITH
      clauses), ``TRUNCATE``, ``COPY ... FROM``.

    Names are as the parser gives them (unquoted names lowercased), unresolved: an
    unqualified name has schema None, whatever the search_path. Relations only read
    (``FROM``, ``USING``, a foreign key's referenced table) are not reported; neither are
    indexes, sequences, types, functions or comments.
    """
    found: list[QualifiedName] = []
    _collect(_node_of(statement), found)
    return list(dict.fromkeys(found))


def _add(found: list[QualifiedName], name: QualifiedName | None) -> None:
    if name is not None:
        found.append(name)


def _collect(node: Any, found: list[QualifiedName]) -> None:  # noqa: C901 - one flat dispatch
    with_clause = getattr(node, "withClause", None)
    if isinstance(with_clause, ast.WithClause):
        for cte in with_clause.ctes or ():
            query = getattr(cte, "ctequery", None)
            if isinstance(query, (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)):
                _collect(query, found)
    if isinstance(node, ast.CreateStmt):
        _add(found, _range_name(node.relation))
        for parent in node.inhRelations or ():
            _add(found, _range_name(parent))
    elif isinstance(node, ast.CreateForeignTableStmt):
        if node.base is not None:
            _collect(node.base, found)
    elif isinstance(node, ast.CreateTableAsStmt):
        _add(found, _range_name(getattr(node.into, "rel", None)))
    elif isinstance(node, ast.SelectStmt):
        _add(found, _range_name(getattr(node.intoClause, "rel", None)))
    elif isinstance(node, ast.ViewStmt):
        _add(found, _range_name(node.view))
    elif isinstance(node, ast.AlterTableStmt):
        if node.objtype in _RELATION_TYPES:
            _add(found, _range_name(node.relation))
            for cmd in node.cmds or ():
                if isinstance(cmd, ast.AlterTableCmd) and cmd.subtype in (
                    AlterTableType.AT_AttachPartition,
                    AlterTableType.AT_DetachPartition,
                ):
                    _add(found, _range_name(getattr(cmd.def_, "name", None)))
    elif isinstance(node, ast.RenameStmt):
        if node.renameType in _RELATION_TYPES or (
            node.renameType in _RENAMES_IN_RELATION and node.relation is not None
        ):
            _add(found, _range_name(node.relation))
    elif isinstance(node, ast.AlterObjectSchemaStmt):
        if node.objectType in _RELATION_TYPES:
            _add(found, _range_name(node.relation))
    elif isinstance(node, ast.DropStmt):
        if node.removeType in _RELATION_TYPES:
            for names in node.objects or ():
                _add(found, _dotted_name(names))
    elif isinstance(node, ast.TruncateStmt):
        for relation in node.relations or ():
            _add(found, _range_name(relation))
    elif isinstance(node, ast.VacuumStmt):
        for relation in node.rels or ():
            _add(found, _range_name(getattr(relation, "relation", None)))
    elif isinstance(node, ast.CopyStmt):
        if node.is_from:
            _add(found, _range_name(node.relation))
    elif isinstance(node, ast.ReindexStmt):
        if node.kind == ReindexObjectType.REINDEX_OBJECT_TABLE:
            _add(found, _range_name(node.relation))
    elif isinstance(node, (ast.CreatePolicyStmt, ast.AlterPolicyStmt)):
        _add(found, _range_name(node.table))
    elif isinstance(
        node,
        (
            ast.IndexStmt,
            ast.InsertStmt,
            ast.UpdateStmt,
            ast.DeleteStmt,
            ast.MergeStmt,
            ast.ClusterStmt,
            ast.RefreshMatViewStmt,
            ast.CreateTrigStmt,
            ast.RuleStmt,
        ),
    ):
        _add(found, _range_name(node.relation))
