"""Inline ignores: ``-- plimsoll: ignore <rule-id>[, <rule-id>...] [reason]`` and ``ignore-file``.

``-- plimsoll: ignore id`` in the comments just before a statement, or on its own lines,
silences those rules for that statement (``ignore`` alone: every rule). ``-- plimsoll:
ignore-file id`` anywhere in a file silences them for the whole file (``ignore-file`` alone:
every rule). A block comment works the same (``/* plimsoll: ignore id */``). A schema finding
is silenced by the directives of the statement that defined the object.

The ids are a list of rule ids (kebab-case, with at least one dash: ``changing-column-type``)
separated by commas or spaces; the reason starts at the first word that is not one
(``ignore changing-column-type because we checked``), or after a ``:`` or ``--`` that ends the
list (``ignore a-rule: well-known``, for a reason that starts with a hyphenated word). Every
id a directive names is kept with its line, so that an id naming no rule (a typo that would
silence nothing) can be reported; the words of the reason never are.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plimsoll.db.sqljson import JsonScript

_DIRECTIVE = re.compile(
    r"(?:--|/\*)[ \t]*plimsoll:[ \t]*(ignore-file|ignore)(?![a-z0-9-])([^\n]*)",
    re.IGNORECASE,
)
# What a rule id looks like: kebab-case, with at least one dash (every rule's and the engine's).
RULE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")
ALL = "*"

IGNORE_SYNTAX = """\
## Inline ignores

A comment silences rules for one statement or for a whole file:

```sql
-- plimsoll: ignore changing-column-type because name is varchar(50) today
ALTER TABLE items ALTER COLUMN name TYPE varchar(100);
ALTER TABLE items ADD COLUMN note text;  -- plimsoll: ignore prefer-robust-stmts
/* plimsoll: ignore renaming-column, renaming-table */
-- plimsoll: ignore-file prefer-bigint-over-int
```

`ignore` applies to the statement that follows (or the one the comment ends or sits in),
`ignore-file` to the whole file; without ids, either silences every rule. The ids are rule ids
(kebab-case: at least one dash) separated by commas or spaces. A reason may follow them:
it starts at the first word that is not a rule id, or after a `:` or ` -- ` that ends the
list (`-- plimsoll: ignore ban-drop-column: hand-checked`, for a reason whose first word
has a dash). An id that names no rule is a warning of the run (it would silence nothing);
the words of the reason never are.
"""


def _ids(text: str) -> frozenset[str]:
    """The rule ids at the start of a directive's text (``*`` when it names none): up to the
    first word that is not one, or a ``:`` or ``--`` that ends the list."""
    text = text.split("*/", 1)[0]
    ids: list[str] = []
    for token in re.split(r"[\s,]+", text.strip().lower()):
        if not token:
            continue
        word = token.removesuffix(":")
        if not RULE_ID.fullmatch(word):
            break
        ids.append(word)
        if word != token:
            break  # ``id: reason``
    return frozenset(ids) or frozenset({ALL})


@dataclass
class FileIgnores:
    """The directives of one file: for the whole file, and per statement (by line span)."""

    whole_file: frozenset[str] = frozenset()
    starts: list[int] = field(default_factory=list)  # first line of each statement's span
    ends: list[int] = field(default_factory=list)
    per_statement: list[frozenset[str]] = field(default_factory=list)
    named: list[tuple[int, str]] = field(default_factory=list)  # (line, id) of every id named

    def silenced(self, rule: str, line: int) -> bool:
        """Whether ``rule`` is ignored at ``line``."""
        if ALL in self.whole_file or rule in self.whole_file:
            return True
        index = bisect.bisect_right(self.starts, line) - 1
        if index < 0 or line > self.ends[index]:
            return False
        ids = self.per_statement[index]
        return ALL in ids or rule in ids


def read_ignores(script: JsonScript) -> FileIgnores:
    """The directives in ``script`` (a quick search first: most files have none)."""
    ignores = FileIgnores()
    if "plimsoll:" not in script.text.lower():
        return ignores
    whole: set[str] = set()
    for match in _DIRECTIVE.finditer(script.text):
        named = _ids(match.group(2))
        line = script.text.count("\n", 0, match.start()) + 1
        ignores.named.extend((line, rule) for rule in sorted(named - {ALL}))
        if match.group(1).lower() == "ignore-file":
            whole |= named
    ignores.whole_file = frozenset(whole)
    statements = script.statements
    gaps = [script.gap_before(statement) for statement in statements]
    for index, statement in enumerate(statements):
        # The gap's first line ends the previous statement's line (``...; -- plimsoll: ...``).
        gap = gaps[index]
        own_gap = gap.partition("\n")[2] if index and "\n" in gap else ("" if index else gap)
        if index + 1 < len(gaps):
            after = gaps[index + 1].partition("\n")[0]
        else:
            tail = script.data[statement.start + statement.length :]
            after = tail.decode("utf-8", "replace").partition("\n")[0]
        ids: set[str] = set()
        for text in (own_gap, script.statement_text(statement), after):
            for match in _DIRECTIVE.finditer(text):
                if match.group(1).lower() == "ignore":
                    ids |= _ids(match.group(2))
        if not ids:
            continue
        first, _ = script.line_column(statement.start - len(own_gap.encode("utf-8")))
        last, _ = script.line_column(statement.start + statement.length)
        ignores.starts.append(first)
        ignores.ends.append(last)
        ignores.per_statement.append(frozenset(ids))
    return ignores


def unknown_ids(ignores: FileIgnores, known: frozenset[str] | set[str]) -> list[tuple[int, str]]:
    """The (line, id) of each directive id that names no rule in ``known``."""
    return [(line, rule) for line, rule in ignores.named if rule not in known]
