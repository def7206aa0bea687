"""A statement's tokens, to cut expression texts out of the source.

The parse tree says where an expression starts, never where it ends: the texts a catalog
keeps (defaults, checks, index expressions, view queries) are cut from the statement's own
source along token boundaries, found with PostgreSQL's scanner.
"""

from __future__ import annotations

import bisect

import pglast.parser

# Token names of the scanner (single characters are ASCII_<code>).
_OPEN = frozenset({"ASCII_40", "ASCII_91", "CASE"})
_CLOSE = frozenset({"ASCII_41", "ASCII_93", "END_P"})
COMMA = "ASCII_44"
LPAREN = "ASCII_40"
_COMMENT_TOKENS = frozenset({"SQL_COMMENT", "C_COMMENT"})
# Where a column's DEFAULT expression ends: the next column constraint (or the next column).
DEFAULT_STOPS = frozenset(
    {
        "CONSTRAINT",
        "CHECK",
        "DEFAULT",
        "PRIMARY",
        "UNIQUE",
        "REFERENCES",
        "GENERATED",
        "COLLATE",
        "DEFERRABLE",
        "INITIALLY",
    }
)


class Tokens:
    """One statement's tokens (comments left out), at byte offsets into the script's data.

    Expression texts are cut from the source along token boundaries: the parse tree gives
    where an expression starts, never where it ends.
    """

    __slots__ = ("data", "starts", "ends", "names")

    def __init__(self, data: bytes, start: int, length: int) -> None:
        raw = data[start : start + length]
        text = raw.decode("utf-8", "replace")
        self.data = data
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.names: list[str] = []
        ascii_only = raw.isascii()
        char_at, byte_at = 0, start
        for token in pglast.parser.scan(text):
            if token.name in _COMMENT_TOKENS:
                continue
            if ascii_only:
                begin, end = start + token.start, start + token.end + 1
            else:
                # The scanner counts characters; the tree and the data count bytes.
                byte_at += len(text[char_at : token.start].encode("utf-8"))
                char_at = token.start
                begin = byte_at
                end = begin + len(text[token.start : token.end + 1].encode("utf-8"))
            self.starts.append(begin)
            self.ends.append(end)
            self.names.append(token.name)

    def __len__(self) -> int:
        return len(self.names)

    def at(self, offset: int) -> int:
        """The index of the first token starting at or after byte ``offset``."""
        return bisect.bisect_left(self.starts, offset)

    def find(self, start: int, *names: str) -> int:
        """The index of the first token at or after ``start`` named one of ``names`` (or len)."""
        wanted = self.names
        for index in range(start, len(wanted)):
            if wanted[index] in names:
                return index
        return len(wanted)

    def find_top(self, start: int, name: str, after: str | None = None) -> int:
        """The first ``name`` token at depth 0 from ``start`` (followed by ``after``), or len."""
        names = self.names
        depth = 0
        for index in range(start, len(names)):
            token = names[index]
            if depth == 0 and token == name:
                if after is None or (index + 1 < len(names) and names[index + 1] == after):
                    return index
            if token in _OPEN:
                depth += 1
            elif token in _CLOSE:
                depth -= 1
        return len(names)

    def match(self, start: int) -> int:
        """The index of the bracket closing the one at ``start`` (or the last token)."""
        names = self.names
        depth = 0
        for index in range(start, len(names)):
            token = names[index]
            if token in _OPEN:
                depth += 1
            elif token in _CLOSE:
                depth -= 1
                if depth == 0:
                    return index
        return len(names) - 1

    def text(self, start: int, stop: int) -> str:
        """The source of tokens ``start`` to ``stop`` (excluded) on one line, spaces kept single."""
        if start >= stop:
            return ""
        data, starts, ends = self.data, self.starts, self.ends
        parts = [data[starts[start] : ends[start]]]
        for index in range(start + 1, stop):
            if starts[index] > ends[index - 1]:
                parts.append(b" ")
            parts.append(data[starts[index] : ends[index]])
        return b"".join(parts).decode("utf-8", "replace")

    def group(self, start: int) -> str:
        """The text inside the bracket group opening at or after ``start``."""
        opening = self.find(start, LPAREN)
        if opening >= len(self.names):
            return ""
        return self.text(opening + 1, self.match(opening))

    def split(self, opening: int) -> list[tuple[int, int]]:
        """The comma-separated items of the group opening at ``opening``, as token ranges."""
        closing = self.match(opening)
        names = self.names
        items: list[tuple[int, int]] = []
        depth = 0
        begin = opening + 1
        for index in range(opening + 1, closing):
            token = names[index]
            if token in _OPEN:
                depth += 1
            elif token in _CLOSE:
                depth -= 1
            elif token == COMMA and depth == 0:
                items.append((begin, index))
                begin = index + 1
        items.append((begin, closing))
        return items

    def expression(self, start: int, stops: frozenset[str] = frozenset()) -> str:
        """The expression starting at token ``start``, up to a depth-0 comma, stop word,
        unmatched closing bracket or the end of the statement."""
        names = self.names
        depth = 0
        index = start
        while index < len(names):
            token = names[index]
            if token in _OPEN:
                depth += 1
            elif token in _CLOSE:
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and index > start and self._stops(index, token, stops):
                break
            index += 1
        return self.text(start, index)

    def _stops(self, index: int, token: str, stops: frozenset[str]) -> bool:
        if token == COMMA or token in stops:
            return True
        if not stops:
            return False
        names = self.names
        previous = names[index - 1]
        following = names[index + 1] if index + 1 < len(names) else ""
        # NOT NULL and NULL end a default; IS [NOT] NULL and IS NOT DISTINCT do not.
        if token == "NOT":
            return previous != "IS" and following in ("NULL_P", "DEFERRABLE")
        if token == "NULL_P":
            return previous not in ("IS", "NOT")
        return False
