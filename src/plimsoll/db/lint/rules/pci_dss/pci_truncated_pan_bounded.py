"""pci-truncated-pan-bounded."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.catalog import Catalog, Column, Table
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.schema_facts import (
    Patterns,
    base_type,
    column_finding,
    column_key,
    columns_by_name,
    identifiers,
    matcher,
)

# How many digits a truncated column may hold, by what its name says it holds.
_DIGITS_IN_NAME = (
    (re.compile(r"last_?(4|four)"), 4),
    (re.compile(r"first_?(6|six)"), 6),
    (re.compile(r"first_?(8|eight)|(^|_)(bin|iin)$"), 8),
)
# Integer types cannot hold a 13-digit PAN (integer tops out at 10 digits).
_SMALL_INTEGERS = frozenset({"smallint", "integer"})
_LENGTH = re.compile(r"\(\s*(\d+)\s*\)")
# What a CHECK uses to bound a text's length or shape.
_BOUNDING = frozenset({"length", "char_length", "character_length", "octet_length"})
_SHAPE = re.compile(r"~|\bsimilar\s+to\b|\blike\b", re.IGNORECASE)


class PciTruncatedPanBounded(SchemaRule):
    """Make truncated-PAN columns (``last4``, ``bin``) unable to hold a full card number.

    **Problem.** A column named for a truncated card number (``card_last4``,
    ``pan_first6``, ``card_bin``) has a type that can hold a whole PAN: ``text``,
    ``varchar(20)``, ``bigint``, ``numeric``, with no CHECK bounding its length.

    **Why.** Truncation is one of the ways PCI DSS v4.0 Requirement 3.5.1 accepts to render
    a PAN unreadable, and at most the BIN and the last four digits may be kept (3.4.1); a
    ``last4 text`` column is truncation only by convention. One bug in the code that fills
    it (passing the whole number) stores full PANs in clear in a column every report reads,
    and nothing notices. The database can make that impossible.

    **Fix.** Add a CHECK on its length or shape (``CHECK (card_last4 ~ '^[0-9]{4}$')``) to a
    ``text`` column: the form that also satisfies ``ban-char-field``. ``char(4)`` (``char(6)``
    or ``char(8)`` for a BIN) or a ``smallint``/``integer`` bound it too. ``card_context`` (default: card, pan, cc, credit, debit, payment)
    limits the rule to columns or tables about cards.

    **Example.**

    ```sql
    CREATE TABLE cards (
        id bigint PRIMARY KEY,
        card_last4 text NOT NULL CHECK (card_last4 ~ '^[0-9]{4}$')
    );
    ```
    """

    id = "pci-truncated-pan-bounded"
    severity = Severity.WARNING
    help = "Declare it char(4) (char(6)/char(8) for a BIN) or add a CHECK on its length."

    class Options(BaseModel):
        """Which columns and tables are about cards."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        card_context: Patterns = Field(
            default=(r"card|(^|_)pan($|_)|(^|_)cc_|credit|debit|payment",),
            description="Column or table names about payment cards.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag truncated-PAN columns whose type and checks let them hold a full PAN."""
        about_cards = matcher(tuple(self.options.card_context))
        for name, columns in columns_by_name(catalog).items():
            limit = _limit(name)
            if limit is None:
                continue
            named_about_cards = about_cards(name)
            for table, column in columns:
                if not (named_about_cards or about_cards.table(table)):
                    continue
                if _bounded(table, column, limit):
                    continue
                key = column_key(table, column)
                yield column_finding(
                    table,
                    column,
                    f"column {key} should hold at most {limit} digits of a card number but its"
                    f" type {column.type} can hold a full PAN and no CHECK bounds it"
                    " (Req. 3.4.1, 3.5.1)",
                )


def _limit(name: str) -> int | None:
    """The digits a column may hold, from its name (``last4``: 4), or None."""
    lowered = name.lower()
    for pattern, digits in _DIGITS_IN_NAME:
        if pattern.search(lowered):
            return digits
    return None


def _bounded(table: Table, column: Column, limit: int) -> bool:
    """Whether the column cannot hold more than ``limit`` characters (type or CHECK)."""
    kind = base_type(column.type)
    if kind in _SMALL_INTEGERS:
        return True
    if kind in ("character", "character varying"):
        size = _LENGTH.search(column.type)
        if size is not None and int(size.group(1)) <= limit:
            return True
        if size is None and kind == "character":
            return True  # bare char is char(1)
    name = column.name.lower()
    for constraint in table.constraints:
        if constraint.kind != "c":
            continue
        text = constraint.expression or constraint.definition
        words = identifiers(text)
        if name in words and (words & _BOUNDING or _SHAPE.search(text)):
            return True
    return False
