"""naming-snake-case."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.schema._objects import named_objects
from plimsoll.db.lint.schema_facts import Pattern, finding

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
# What PostgreSQL reads without quotes (it folds the rest to lower case).
_UNQUOTED = re.compile(r"^[a-z_][a-z0-9_$]*$")


def snake_case(name: str) -> str:
    """A snake_case spelling of ``name`` (``OrderItems`` -> ``order_items``)."""
    spaced = _CAMEL_BOUNDARY.sub("_", name).lower()
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
    letter or an underscore. The rule checks tables, columns, constraints, indexes, views,
    sequences, enum types, functions, procedures and triggers; policy names are left out
    (no query spells them). ``pattern`` (a regular expression, default
    ``^[a-z_][a-z0-9_]*$``) sets what counts as a good name. One finding per object, at the
    line that defines it.

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
            name = obj.name
            suggestion = snake_case(name)
            if _UNQUOTED.match(name):
                # A stricter configured pattern: the name works unquoted, it is just off-style.
                message = f"{obj.kind} {obj.key} does not match the naming pattern {good.pattern}"
            else:
                message = (
                    f'{obj.kind} {obj.key} is not snake_case: every query must spell it "{name}",'
                    " with the double quotes"
                )
            yield finding(
                obj,
                message,
                help=f"Rename it to {suggestion} (lower-case snake_case needs no quotes).",
            )
