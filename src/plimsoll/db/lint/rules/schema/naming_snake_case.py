"""naming-snake-case."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.schema._objects import named_objects
from plimsoll.db.lint.schema_facts import Pattern, finding

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
# What PostgreSQL reads back unchanged without quotes. Its lexer (scan.l: ident_start
# [A-Za-z\200-\377_], ident_cont adds [0-9$]) takes every byte >= 0x80 as a letter, and
# folds only ASCII A-Z to lower case in a UTF8 database: any character beyond ASCII is kept.
_UNQUOTED = re.compile(r"^[a-z_\u0080-\U0010ffff][a-z0-9_$\u0080-\U0010ffff]*$")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def snake_case(name: str) -> str:
    """An ASCII snake_case spelling of ``name`` (``OrderItems`` -> ``order_items``,
    ``Café`` -> ``cafe``); ``_`` when nothing of it is ASCII."""
    # Accents come off (NFKD splits é into e and a combining mark, dropped as non-ASCII).
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    spaced = _CAMEL_BOUNDARY.sub("_", ascii_name).lower()
    out = _NOT_WORD.sub("_", spaced).strip("_")
    if not out:
        return "_"
    return out if not out[0].isdigit() else f"_{out}"


class NamingSnakeCase(SchemaRule):
    """Name tables, columns, indexes, constraints and other objects in snake_case.

    **Problem.** PostgreSQL folds unquoted identifiers to lower case: ``CREATE TABLE
    "OrderItems"`` makes a table that ``SELECT * FROM OrderItems`` cannot find (it looks for
    ``orderitems``). A name with upper-case letters, spaces, dashes or other punctuation
    exists only in its double-quoted spelling, and every query, tool and ORM mapping must
    quote it exactly, forever.

    **Why.** Mixed-case and quoted names are a steady source of "relation does not exist"
    errors, of SQL that works in one client and not another, and of schema diffs that
    disagree about case. Plain lower-case snake_case names never need quotes.

    **Fix.** Rename the object to lower-case letters, digits and underscores, starting with a
    letter or an underscore. The rule checks schemas (``CREATE SCHEMA "Billing"`` must be
    quoted in every qualified name), tables, columns, constraints, indexes, views,
    sequences, enum types, functions, procedures and triggers; policy names are left out
    (no query spells them). ``pattern`` (a regular expression, default
    ``^[a-z_][a-z0-9_]*$``) sets what counts as a good name. One finding per object, at the
    line that defines it (a schema's from files only: the database does not record it).

    A name with letters beyond ASCII (``café_orders``, ``заказы``) needs no quotes: in a UTF8
    database PostgreSQL reads any character beyond ASCII as a letter of an unquoted
    identifier and folds only ``A``-``Z``. The default pattern still asks for ASCII (every
    keyboard, tool and log can spell it), and says that is all it objects to; to accept
    such names, widen ``pattern``: ``'^[^\\W\\dA-Z][^\\WA-Z]*$'`` (a TOML literal string) takes
    letters of any script, digits and underscores, and no ASCII capital.

    **Example.**

    ```sql
    -- every query must write "OrderItems" and "unitPrice" with the quotes
    CREATE TABLE "OrderItems" (id bigint PRIMARY KEY, "unitPrice" numeric);
    -- no quotes needed
    CREATE TABLE order_items (id bigint PRIMARY KEY, unit_price numeric);
    ```
    """

    id = "naming-snake-case"
    severity = Severity.WARNING
    help = "Rename it to lower-case snake_case (letters, digits and underscores)."

    class Options(BaseModel):
        """``pattern``: the regular expression a good name matches in full."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        pattern: Pattern = r"^[a-z_][a-z0-9_]*$"

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each object whose name does not match the snake_case pattern."""
        good = re.compile(self.options.pattern)

        def wrong(name: str) -> bool:
            return good.fullmatch(name) is None

        for obj in named_objects(catalog, wrong):
            yield finding(
                obj, self._message(obj.kind, obj.key, obj.name, good), help=_remedy(obj.name)
            )

    @staticmethod
    def _message(kind: str, key: str, name: str, good: re.Pattern[str]) -> str:
        if not _UNQUOTED.match(name):
            return (
                f'{kind} {key} is not snake_case: every query must spell it "{name}",'
                " with the double quotes"
            )
        # The name works unquoted: it is only off the configured style.
        message = f"{kind} {key} does not match the naming pattern {good.pattern}"
        beyond = list(dict.fromkeys(_NON_ASCII.findall(name)))
        if beyond:
            message += (
                ": it needs no quotes (PostgreSQL reads letters beyond ASCII unquoted), but"
                f" its non-ASCII characters ({' '.join(beyond)}) are not in the pattern"
            )
        return message


def _remedy(name: str) -> str:
    """Rename to the ASCII snake_case spelling, when one keeps every letter of the name."""
    widen = "or widen the pattern option to accept letters beyond ASCII"
    # Letters that lose nothing but their accents have an ASCII spelling (é -> e); others
    # (Cyrillic, Greek, CJK...) have none the rule could guess.
    bare = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    if _NON_ASCII.search(bare):
        return f"Rename it to an ASCII snake_case name, {widen}."
    suggestion = snake_case(name)
    if _NON_ASCII.search(name):
        return f"Rename it to {suggestion}, {widen}."
    return f"Rename it to {suggestion} (lower-case snake_case needs no quotes)."
