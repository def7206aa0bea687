"""Finding and reading SQL files: the build order of a schema folder, UTF-8 text, and the
lines of a script that are psql's rather than SQL.

A script written for psql (what ``pg_dump`` writes, what people keep in a repository) may hold
psql meta-commands (``\\restrict <key>``, ``\\set ON_ERROR_STOP on``) and the inline data of a
``COPY ... FROM stdin``. PostgreSQL's parser reads neither: :func:`psql_lines` finds them as
psql's lexer does and gives the text without them (blanked, so every statement keeps its line
and column), for :mod:`plimsoll.db.sql` and :mod:`plimsoll.db.sqljson` to parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from plimsoll.core.errors import InputError


def sql_files(folder: Path) -> list[tuple[str, Path]]:
    """The ``.sql`` files under ``folder`` as (relative posix path, path), in build order.

    Sorted by the tuple of path parts compared by code point, so the order is the same on
    every machine and locale (``00_common/z.sql`` before ``10_tables/a.sql``); hidden files
    and folders (a leading ``.``) are skipped.
    """
    found: list[tuple[tuple[str, ...], Path]] = []
    for path in folder.rglob("*.sql"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        found.append((relative.parts, path))
    found.sort(key=lambda item: item[0])
    return [("/".join(parts), path) for parts, path in found]


def read_sql(path: Path, display: str) -> str:
    """The text of a SQL file: UTF-8 (a byte-order mark dropped), CRLF as LF.

    Raises InputError naming ``display`` when the file cannot be read or is not UTF-8.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{display}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


# ---------------------------------------------------------------------------------------------
# psql's own lines: meta-commands and COPY data


# psql's harmless meta-commands: they change nothing in the database, so a script that holds
# them runs the same without psql. ``\restrict``/``\unrestrict`` are what pg_dump writes since
# PostgreSQL's 2025 security releases; the echo family only prints.
_HARMLESS_COMMANDS = frozenset({"\\restrict", "\\unrestrict", "\\echo", "\\qecho", "\\warn"})
# ``\set ON_ERROR_STOP ...``: plimsoll stops at the first error whatever it says.
_HARMLESS_VARIABLES = frozenset({"ON_ERROR_STOP"})
HARMLESS_META_COMMANDS = "\\restrict, \\unrestrict, \\echo, \\qecho, \\warn and \\set ON_ERROR_STOP"
"""The psql meta-commands that running a script without psql may skip, for messages."""

# What to do instead, for the meta-commands people most often leave in a script.
_META_HINTS = {
    "\\i": "put the included file's SQL in the folder instead",
    "\\ir": "put the included file's SQL in the folder instead",
    "\\include": "put the included file's SQL in the folder instead",
    "\\include_relative": "put the included file's SQL in the folder instead",
    "\\c": "a build or a migration runs in one database",
    "\\connect": "a build or a migration runs in one database",
    "\\copy": "write COPY ... FROM stdin with the rows inline",
}


@dataclass(frozen=True)
class MetaCommand:
    """A psql meta-command line: where it is, its command (``\\set``) and its arguments.

    ``start``/``end`` are the character offsets of the command (from its backslash to the end
    of its line, the newline excluded); ``line``/``column`` (1-based) locate the backslash.
    """

    line: int
    column: int
    command: str
    argument: str
    start: int
    end: int

    @property
    def harmless(self) -> bool:
        """Whether skipping it changes nothing in the database (see HARMLESS_META_COMMANDS)."""
        if self.command in _HARMLESS_COMMANDS:
            return True
        if self.command == "\\set":
            return self.argument.split(maxsplit=1)[:1] == ["ON_ERROR_STOP"]
        return False

    @property
    def text(self) -> str:
        """The command as written: ``\\set ON_ERROR_STOP on``."""
        return f"{self.command} {self.argument}".rstrip()

    def refusal(self) -> str:
        """Why it cannot run, for an error message that names its file and line."""
        hint = _META_HINTS.get(self.command)
        why = f"plimsoll runs the SQL itself, without psql, and skips only {HARMLESS_META_COMMANDS}"
        return f"psql meta-command {self.command} is not supported: {why}" + (
            f" ({hint})" if hint else ""
        )


@dataclass(frozen=True)
class CopyData:
    """The rows written inline after a ``COPY ... FROM stdin`` statement, up to ``\\.``.

    ``text`` is what psql would send (every row with its newline, without the ``\\.`` line);
    ``line`` is the line of its first row, ``start``/``end`` its character offsets in the
    script; ``terminated`` is false when the rows run to the end of the file without ``\\.``.
    """

    line: int
    start: int
    end: int
    text: str
    terminated: bool


@dataclass(frozen=True)
class PsqlLines:
    """A script with psql's own lines taken out: ``sql`` is the text the SQL parser reads.

    In ``sql`` every character of a meta-command line and of COPY data (the ``\\.`` line
    included) is a space, newlines kept, so every statement keeps its offset, line and column.
    """

    sql: str
    meta_commands: tuple[MetaCommand, ...]
    copy_data: tuple[CopyData, ...]


# A line whose first non-blank character is a backslash, after the first line.
_BACKSLASH_LINE = re.compile(r"\n[ \t\f\v\r]*\\")
# The same on the first line.
_BACKSLASH_FIRST = re.compile(r"[ \t\f\v\r]*\\")
# The characters that may change the lexical state of SQL text: quotes, the semicolon, a
# dollar quote, and the first character of a comment ("--", "/*"). One character class: the
# regular-expression engine finds the next one several times faster than an alternation.
_NEXT = re.compile(r"['\";$/-]")
# PostgreSQL's dolqdelim: $tag$ where the tag is an identifier without "$", or empty.
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z_0-9\x80-\U0010ffff]*)?\$")
_E_STRING_STOP = re.compile(r"[\\']")
_BLOCK_STOP = re.compile(r"/\*|\*/")
# Whitespace and comments before a statement's first token (comments do not nest here: this
# only finds whether a statement starts with COPY).
_LEADING = re.compile(r"(?:[ \t\n\r\f\v]+|--[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)*")
# psql ends inline COPY data at a line that is exactly "\." (copy.c, handleCopyIn).
_COPY_END = re.compile(r"^\\\.\r?$", re.M)


def has_psql_lines(text: str) -> bool:
    """Whether a line of ``text`` starts with a backslash (first non-blank character).

    The fast test that lets scripts without any (nearly all of them) skip the scan: a
    substring test, then one regular-expression search only when the text has a backslash.
    """
    if "\\" not in text:
        return False
    return bool(_BACKSLASH_FIRST.match(text) or _BACKSLASH_LINE.search(text))


def mentions_stdin(text: str) -> bool:
    """Whether ``text`` says ``stdin`` in any case: a ``COPY ... FROM stdin`` may be there.

    Its rows may run to the end of the file without a ``\\.`` line, so then no line starts
    with a backslash and only this says that the script must be scanned.
    """
    return "stdin" in text.lower()


def _first_token(text: str, index: int) -> int:
    """The index of the first character at or after ``index`` not in whitespace or a comment."""
    found = _LEADING.match(text, index)
    return index if found is None else found.end()


def _is_identifier_char(char: str) -> bool:
    # PostgreSQL's ident_cont: letters, digits, _, $ and every non-ASCII character.
    return char.isalnum() or char in "_$" or ord(char) >= 0x80


class _Lines:
    """Line numbers of increasing offsets, counted incrementally (linear overall)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.offset = 0
        self.line = 1
        self.line_start = 0

    def at(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) of ``offset``, at or after the previous one asked."""
        newlines = self.text.count("\n", self.offset, offset)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rfind("\n", self.offset, offset) + 1
        self.offset = offset
        return self.line, offset - self.line_start + 1


def _end_of_quoted(text: str, index: int, quote: str) -> int:
    """The index after the literal or identifier opened at ``index`` (doubled quotes inside);
    -1 when it is not closed."""
    find = text.find
    index += 1
    while True:
        close = find(quote, index)
        if close < 0:
            return -1
        if not text.startswith(quote, close + 1):
            return close + 1
        index = close + 2


def _end_of_escape_string(text: str, index: int) -> int:
    """The index after the E'...' string opened at ``index`` (backslash escapes); -1 if open."""
    index += 1
    while True:
        found = _E_STRING_STOP.search(text, index)
        if found is None:
            return -1
        stop = found.start()
        if text[stop] == "\\":
            index = stop + 2
        elif text.startswith("'", stop + 1):
            index = stop + 2
        else:
            return stop + 1


def _end_of_block_comment(text: str, index: int) -> int:
    """The index after the (nesting) block comment opened at ``index``; -1 if open."""
    depth = 0
    while True:
        found = _BLOCK_STOP.search(text, index)
        if found is None:
            return -1
        depth += 1 if found.group() == "/*" else -1
        index = found.end()
        if depth == 0:
            return index


def _blank(text: str) -> str:
    """``text`` with every character but the newlines made a space."""
    if "\n" not in text:
        return " " * len(text)
    return "\n".join(" " * len(part) for part in text.split("\n"))


def _is_copy_from_stdin(statement: str) -> bool:
    """Whether ``statement`` (one statement, without its semicolon) is COPY ... FROM STDIN."""
    # Imported here: reading files needs no parser, and most scripts hold no COPY at all.
    import pglast.parser
    from pglast import ast

    try:
        raws = pglast.parser.parse_sql(statement)
    except pglast.parser.ParseError:
        return False  # the parse of the whole script reports it
    if len(raws) != 1:
        return False
    node = raws[0].stmt
    return (
        isinstance(node, ast.CopyStmt)
        and bool(node.is_from)
        and node.filename is None
        and not node.is_program
    )


class _Scanner:
    """One pass over a script finding meta-command lines and COPY data, as psql's lexer does:
    outside string literals, quoted identifiers, dollar-quoted bodies and comments."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = _Lines(text)
        self.blanks: list[tuple[int, int]] = []
        self.meta: list[MetaCommand] = []
        self.copies: list[CopyData] = []
        self.statement_start = 0

    def run(self) -> PsqlLines:
        text = self.text
        size = len(text)
        # Where the lines that start with a backslash have it; those in normal state (not
        # inside a literal, an identifier or a comment the scan jumps over) are commands.
        backslashes = [found.end() - 1 for found in _BACKSLASH_LINE.finditer(text)]
        first = _BACKSLASH_FIRST.match(text)
        if first is not None:
            backslashes.insert(0, first.end() - 1)
        pending = 0
        index = 0
        search = _NEXT.search
        while 0 <= index < size:
            while pending < len(backslashes) and backslashes[pending] < index:
                pending += 1  # inside what the scan jumped over: SQL or COPY data
            found = search(text, index)
            at = size if found is None else found.start()
            if pending < len(backslashes) and backslashes[pending] < at:
                index = self._meta(backslashes[pending])
                continue
            if found is None:
                break
            index = self._token(at)
        return PsqlLines(self._blanked(), tuple(self.meta), tuple(self.copies))

    def _token(self, at: int) -> int:
        """The index after the token at ``at`` (-1: a literal or comment runs to the end)."""
        text = self.text
        char = text[at]
        if char == ";":
            return self._semicolon(at)
        if char == "'":
            escapes = at > 0 and text[at - 1] in "eE"
            if escapes and at > 1 and _is_identifier_char(text[at - 2]):
                escapes = False  # the E ends an identifier: a plain string follows
            return _end_of_escape_string(text, at) if escapes else _end_of_quoted(text, at, "'")
        if char == '"':
            return _end_of_quoted(text, at, '"')
        if char == "$":
            return self._dollar(at)
        if text.startswith("--", at):
            newline = text.find("\n", at)
            return len(text) if newline < 0 else newline
        if text.startswith("/*", at):
            return _end_of_block_comment(text, at)
        return at + 1  # a minus or a slash: an operator

    def _meta(self, backslash: int) -> int:
        text = self.text
        newline = text.find("\n", backslash)
        end = len(text) if newline < 0 else newline
        words = text[backslash:end].rstrip().split(maxsplit=1)
        line, column = self.lines.at(backslash)
        self.meta.append(
            MetaCommand(
                line=line,
                column=column,
                command=words[0],
                argument=words[1] if len(words) > 1 else "",
                start=backslash,
                end=end,
            )
        )
        self.blanks.append((backslash, end))
        if _first_token(text, self.statement_start) >= backslash:
            # Nothing of a statement before it: the next statement starts after it.
            self.statement_start = end
        return end

    def _dollar(self, at: int) -> int:
        text = self.text
        if at > 0 and _is_identifier_char(text[at - 1]):
            return at + 1  # inside an identifier (a$b) or after a parameter's digits
        tag = _DOLLAR_TAG.match(text, at)
        if tag is None:
            return at + 1  # a parameter ($1) or a lone $
        close = text.find(tag.group(), tag.end())
        return -1 if close < 0 else close + len(tag.group())

    def _semicolon(self, at: int) -> int:
        text = self.text
        start = _first_token(text, self.statement_start)
        self.statement_start = at + 1
        if (
            text[start : start + 4].lower() != "copy"
            or (start + 4 < at and _is_identifier_char(text[start + 4]))
            or not _is_copy_from_stdin(self._sql(start, at))
        ):
            return at + 1
        newline = text.find("\n", at)
        if newline < 0:
            begin = len(text)
            self._copy(begin, begin, begin, terminated=False)
            return begin
        begin = newline + 1
        terminator = _COPY_END.search(text, begin)
        if terminator is None:
            end = len(text)
            self._copy(begin, end, end, terminated=False)
        else:
            end = terminator.end()
            self._copy(begin, terminator.start(), end, terminated=True)
        self.statement_start = end
        return end

    def _copy(self, begin: int, rows_end: int, end: int, *, terminated: bool) -> None:
        line, _ = self.lines.at(begin)
        self.copies.append(CopyData(line, begin, rows_end, self.text[begin:rows_end], terminated))
        if end > begin:
            self.blanks.append((begin, end))

    def _sql(self, start: int, stop: int) -> str:
        """``text[start:stop]`` with the meta-command lines inside it blanked."""
        piece = self.text[start:stop]
        inside = [(a, b) for a, b in self.blanks if a < stop and b > start]
        for a, b in inside:
            piece = piece[: a - start] + _blank(piece[a - start : b - start]) + piece[b - start :]
        return piece

    def _blanked(self) -> str:
        if not self.blanks:
            return self.text
        text = self.text
        out: list[str] = []
        cursor = 0
        for start, end in self.blanks:
            out.append(text[cursor:start])
            out.append(_blank(text[start:end]))
            cursor = end
        out.append(text[cursor:])
        return "".join(out)


def psql_lines(text: str) -> PsqlLines | None:
    """psql's meta-command lines and inline COPY data in ``text``, and the text without them.

    A meta-command line is a line whose first non-blank character is a backslash outside
    string literals, quoted identifiers, dollar-quoted bodies and comments (a function body
    may hold such a line: it is SQL); COPY data are the lines after a ``COPY ... FROM stdin``
    statement up to a line ``\\.``, or to the end of the file, as psql reads them. None,
    without scanning, when no line starts with a backslash and ``stdin`` is nowhere: nearly
    every script, for the cost of a substring test or two.
    """
    if not has_psql_lines(text) and not mentions_stdin(text):
        return None
    return _Scanner(text).run()
