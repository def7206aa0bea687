"""What the ``pci_dss`` rules share: which columns hold a PAN, in which form, and where.

Not a rule module (it defines no rule). The generic helpers (compiled name patterns,
per-catalog caching, type names, grants, trigger coverage) come from
:mod:`plimsoll.db.lint.schema_facts`.

**Which columns hold a primary account number (PAN).** A column whose name matches
``pan_patterns`` (``pan``, ``card_number``, ``cc_number``, ``credit_card``,
``primary_account_number``...) and not ``not_pan_patterns`` (``card_brand``,
``credit_card_id``, ``card_expiry``...: data about the card, not its number). Its form is:

* ``truncated`` when its name matches ``truncated_patterns`` (``card_last4``, ``pan_first6``,
  ``masked_pan``): at most the BIN and the last four digits, out of scope of Req. 3.5.1;
* ``token`` when its name matches ``token_patterns`` (``card_token``, ``pan_vault_id``): a
  surrogate from a tokenisation service, not account data;
* ``protected`` when its type is in ``protected_types`` (default ``bytea``: a ciphertext or a
  hash) or its name matches ``protected_names`` (``pan_hash``, ``card_number_encrypted``);
* ``plaintext`` otherwise: a PAN anyone with SELECT reads.

**Cardholder-data tables** are the tables with a ``plaintext`` or ``protected`` PAN column
(a hashed or encrypted PAN is still cardholder data in scope of PCI DSS), and the tables whose
name (or ``schema.name``) matches ``cardholder_tables`` (default none).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.catalog import Catalog, Column, Table
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Violation
from plimsoll.db.lint.schema_facts import (
    NameMatcher,
    Patterns,
    column_finding,
    column_key,
    columns_by_name,
    matcher,
    per_catalog,
    unqualified,
)

DEFAULT_PAN_PATTERNS: tuple[str, ...] = (
    r"(^|_)pan($|_)",
    r"card_?(number|num|no|nbr)($|_)",
    r"(^|_)cc_?(number|num|no|nbr)($|_)|(^|_)ccn($|_)",
    r"credit_?card|debit_?card|payment_?card",
    r"primary_?account_?number",
)
DEFAULT_NOT_PAN_PATTERNS: tuple[str, ...] = (
    r"_(id|ids|uuid|ref|brand|type|kind|network|scheme|country|issuer|bank|status|count)$",
    r"_(holder|holder_name|name|nickname|label|expiry|expires|exp|month|year|at|on)$",
    r"_(expiration\w*|exp_\w+|verified|present|required|enabled)$",
    r"^(is|has)_",
)
DEFAULT_TRUNCATED_PATTERNS: tuple[str, ...] = (
    r"last_?(4|four)|first_?(6|8|six|eight)",
    r"(^|_)(bin|iin)$|masked|truncated|(^|_)mask($|_)",
)
DEFAULT_TOKEN_PATTERNS: tuple[str, ...] = (r"token|(^|_)tok($|_)|vault_?(id|ref|key)",)
DEFAULT_PROTECTED_NAMES: tuple[str, ...] = (
    r"_(hash|hashed|hmac|digest|sha\d*|encrypted|enc|cipher|ciphertext)$",
    r"^(encrypted|hashed|hmac|enc)_",
)

# The forms a PAN column can have (see the module docstring).
TRUNCATED, TOKEN, PROTECTED, PLAINTEXT = "truncated", "token", "protected", "plaintext"


class CardDataOptions(BaseModel):
    """Which columns hold a PAN and in which form (every pci_dss rule has these options)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    pan_patterns: Patterns = Field(
        default=DEFAULT_PAN_PATTERNS,
        description="Column names of primary account numbers (card numbers).",
    )
    not_pan_patterns: Patterns = Field(
        default=DEFAULT_NOT_PAN_PATTERNS,
        description="Column names that describe a card without holding its number"
        " (card_brand, credit_card_id, card_expiry).",
    )
    truncated_patterns: Patterns = Field(
        default=DEFAULT_TRUNCATED_PATTERNS,
        description="Column names of truncated or masked PANs (last4, first6, bin, masked_pan).",
    )
    token_patterns: Patterns = Field(
        default=DEFAULT_TOKEN_PATTERNS,
        description="Column names of tokens standing for a PAN (card_token, pan_vault_id).",
    )
    protected_names: Patterns = Field(
        default=DEFAULT_PROTECTED_NAMES,
        description="Column names that say the PAN is hashed or encrypted (pan_hash,"
        " card_number_encrypted).",
    )
    protected_types: tuple[str, ...] = Field(
        default=("bytea",),
        description="Column types holding an unreadable (encrypted or hashed) value.",
    )
    cardholder_tables: Patterns = Field(
        default=(),
        description="Table names (or schema.name) that hold cardholder data whatever their"
        " columns.",
    )


@dataclass(frozen=True)
class CardTable:
    """A table with PAN columns (each with its form), and whether it holds cardholder data."""

    table: Table
    pans: tuple[tuple[Column, str], ...]
    cardholder: bool

    @property
    def key(self) -> str:
        """The table's key."""
        return self.table.key

    def columns(self, *forms: str) -> list[Column]:
        """The PAN columns in one of ``forms``."""
        return [column for column, form in self.pans if form in forms]


@dataclass(frozen=True)
class _Matchers:
    pan: NameMatcher
    not_pan: NameMatcher
    truncated: NameMatcher
    token: NameMatcher
    protected: NameMatcher
    tables: NameMatcher
    types: frozenset[str]


def pan_form(column: Column, found: _Matchers) -> str | None:
    """The form of a PAN column (truncated, token, protected, plaintext), or None."""
    name = column.name
    if not found.pan(name) or found.not_pan(name):
        return None
    if found.truncated(name):
        return TRUNCATED
    if found.token(name):
        return TOKEN
    if unqualified(column.type) in found.types or found.protected(name):
        return PROTECTED
    return PLAINTEXT


def matchers(options: CardDataOptions) -> _Matchers:
    """The compiled patterns of ``options``."""
    return _Matchers(
        matcher(tuple(options.pan_patterns)),
        matcher(tuple(options.not_pan_patterns)),
        matcher(tuple(options.truncated_patterns)),
        matcher(tuple(options.token_patterns)),
        matcher(tuple(options.protected_names)),
        matcher(tuple(options.cardholder_tables)),
        frozenset(unqualified(t) for t in options.protected_types),
    )


def card_tables(catalog: Catalog, options: CardDataOptions) -> dict[str, CardTable]:
    """The tables with PAN columns or holding cardholder data, by key (once per catalog)."""
    found = matchers(options)
    key = (
        "pci",
        found.pan.patterns,
        found.not_pan.patterns,
        found.truncated.patterns,
        found.token.patterns,
        found.protected.patterns,
        found.tables.patterns,
        found.types,
    )
    return per_catalog(catalog, key, lambda: _card_tables(catalog, found))


def _card_tables(catalog: Catalog, found: _Matchers) -> dict[str, CardTable]:
    out = {}
    # Schemas repeat column names and types: decide each pair once.
    forms: dict[tuple[str, str], str | None] = {}
    for table in catalog.all_tables():
        pans = []
        for column in table.columns:
            pair = (column.name, column.type)
            if pair in forms:
                form = forms[pair]
            else:
                form = forms[pair] = pan_form(column, found)
            if form is not None:
                pans.append((column, form))
        cardholder = any(form in (PROTECTED, PLAINTEXT) for _, form in pans)
        cardholder = cardholder or (bool(found.tables) and found.tables.table(table))
        if pans or cardholder:
            out[table.key] = CardTable(table, tuple(pans), cardholder)
    return out


def cardholder_tables(catalog: Catalog, options: CardDataOptions) -> list[CardTable]:
    """The tables holding cardholder data (a full PAN, readable or not), by key."""
    return [t for t in card_tables(catalog, options).values() if t.cardholder]


# ---------------------------------------------------------------------------------------------
# Card numbers in SQL text

# 13 to 19 digits, optionally grouped by spaces or dashes, not part of a longer number.
_DIGITS = re.compile(r"(?<![\d.])\d(?:[ -]?\d){12,18}(?![\d.])")


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn check (as every issued card number does)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_numbers(text: str | None) -> list[str]:
    """The Luhn-valid 13-19 digit numbers in ``text`` (separators removed)."""
    if not text:
        return []
    out = []
    for found in _DIGITS.finditer(text):
        digits = found.group().replace(" ", "").replace("-", "")
        # A run of one repeated digit (0000000000000) passes Luhn but is no card number.
        if len(set(digits)) > 1 and luhn_valid(digits):
            out.append(digits)
    return out


def masked(pan: str) -> str:
    """A PAN as PCI DSS lets it be shown (Req. 3.4.1): the first six and last four digits."""
    return f"{pan[:6]}{'*' * (len(pan) - 10)}{pan[-4:]}"


# ---------------------------------------------------------------------------------------------
# Sensitive authentication data

# What a column holds (in words) and the requirement naming it, or None: decided by name.
Holds = Callable[[str], tuple[str, str] | None]


class SensitiveDataRule(SchemaRule):
    """A rule against columns holding sensitive authentication data, whatever their type.

    PCI DSS v4.0 Requirement 3.3.1 forbids retaining it after authorization, even encrypted.
    Subclasses decide from a column's name what it holds (:meth:`classifier`); each distinct
    name is asked once (:func:`~plimsoll.db.lint.schema_facts.columns_by_name`).
    """

    @abstractmethod
    def classifier(self) -> Holds:
        """What a column of a given name holds, with the requirement naming it, or None."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag every column holding sensitive authentication data."""
        holds = self.classifier()
        for name, columns in columns_by_name(catalog).items():
            kind = holds(name)
            if kind is None:
                continue
            what, requirement = kind
            for table, column in columns:
                yield column_finding(
                    table,
                    column,
                    f"column {column_key(table, column)} stores {what}: sensitive authentication"
                    " data must not be retained after authorization, even encrypted"
                    f" (Req. 3.3.1, {requirement})",
                )
