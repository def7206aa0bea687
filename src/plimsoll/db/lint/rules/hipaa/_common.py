"""What the ``hipaa`` rules share: which tables and columns hold PHI, and catalog helpers.

Not a rule module (it defines no rule). The generic helpers here (compiled name patterns,
classification comments, type names, trigger coverage, grants, per-catalog caching) are used
by the ``sox`` rules too.

**Which columns hold PHI.** A column holds protected health information when

* its comment classifies it as PHI (see below); or
* it carries no classification label and its name matches ``phi_column_patterns`` (health
  information and strong identifiers: ssn, mrn, diagnosis, date of birth...); or
* it carries no classification label, its table holds PHI, and its name matches
  ``linked_identifier_patterns`` (names, addresses, phone numbers, e-mail...: HIPAA's
  identifiers of 45 CFR 164.514(b)(2) are PHI when they sit next to health information).

**Which tables hold PHI.** A table holds PHI when one of its columns does, when its comment
classifies it as PHI, or when it carries no classification label and its name (or
``schema.name``) matches ``phi_table_patterns``.

**The classification convention.** A ``COMMENT ON COLUMN`` (or ``ON TABLE``) classifies the
object with a ``classification: <label>`` tag anywhere in the comment (``=`` may stand for
``:``; case does not matter): ``classification: phi`` marks PHI, and any other label
(``classification: public``, ``classification: internal``, ``classification: none``) records
the decision that it is not PHI, so name patterns no longer apply to it. The word ``PHI`` in
capitals, standing alone (``'PHI: primary diagnosis, ICD-10'``), is shorthand for
``classification: phi``; an explicit label wins over it.

Patterns are regular expressions searched in the lower-case name, or shell patterns matched
against the whole name when they start with ``glob:`` (as
:func:`plimsoll.db.lint.schema_facts.name_matches`), compiled once into one expression.
"""

from __future__ import annotations

import fnmatch
import re
import weakref
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from plimsoll.db.catalog import Catalog, Column, Function, Grant, Table, Trigger

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------
# Name patterns


def _check_patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """Refuse a pattern that is not a valid regular expression (a config error, not a crash)."""
    for pattern in patterns:
        if pattern.startswith("glob:"):
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return patterns


# A tuple of name patterns, checked when the options are read.
Patterns = Annotated[tuple[str, ...], AfterValidator(_check_patterns)]


class NameMatcher:
    """Patterns compiled into one expression, with a memo of the names already asked.

    Schemas repeat the same column names (``id``, ``created_at``) thousands of times, so the
    memo keeps a 5,000-table lint to one regular-expression search per distinct name.
    """

    def __init__(self, patterns: tuple[str, ...]) -> None:
        parts = []
        for pattern in patterns:
            if pattern.startswith("glob:"):
                parts.append("^" + fnmatch.translate(pattern[5:].lower()))
            else:
                parts.append(f"(?:{pattern})")
        self.patterns = patterns
        self._regex = re.compile("|".join(parts)) if parts else None
        self._memo: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        """Whether ``name`` matches one of the patterns."""
        known = self._memo.get(name)
        if known is None:
            known = self._regex is not None and self._regex.search(name.lower()) is not None
            self._memo[name] = known
        return known

    def __bool__(self) -> bool:
        return self._regex is not None

    def table(self, table: Table) -> bool:
        """Whether the table's name or its key ``schema.name`` matches."""
        return self(table.name) or self(table.key)


@lru_cache(maxsize=256)
def matcher(patterns: tuple[str, ...]) -> NameMatcher:
    """The compiled matcher of ``patterns`` (one per distinct tuple in the process)."""
    return NameMatcher(patterns)


# ---------------------------------------------------------------------------------------------
# Classification comments

_LABEL = re.compile(r"\bclassification\s*[:=]\s*([a-z][a-z0-9_-]*)", re.IGNORECASE)
_PHI_WORD = re.compile(r"(?<![\w-])PHI(?![\w-])")


def classification(comment: str | None) -> str | None:
    """The classification label of a comment (lower case), or None when it has none.

    ``classification: <label>`` gives the label; the word ``PHI`` in capitals alone is
    shorthand for ``phi``.
    """
    if not comment:
        return None
    found = _LABEL.search(comment)
    if found:
        return found.group(1).lower()
    if _PHI_WORD.search(comment):
        return "phi"
    return None


# ---------------------------------------------------------------------------------------------
# Types

_TYPMOD = re.compile(r"\s*\([^)]*\)")
_ALIASES = {
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "timetz": "time with time zone",
    "time": "time without time zone",
    "float8": "double precision",
    "float": "double precision",
    "float4": "real",
    "decimal": "numeric",
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "varchar": "character varying",
    "char": "character",
    "bpchar": "character",
}


@lru_cache(maxsize=4096)
def base_type(type_text: str) -> str:
    """A column type without typmod, array brackets, quotes or ``pg_catalog.``, aliases resolved.

    ``timestamp(3) with time zone`` and ``pg_catalog.timestamptz`` give ``timestamp with time
    zone``; ``numeric(12,2)`` gives ``numeric``; ``public.encrypted_text`` stays qualified.
    """
    text = type_text.strip().lower().replace('"', "")
    while text.endswith("[]"):
        text = text[:-2].rstrip()
    text = _TYPMOD.sub("", text)
    if text.startswith("pg_catalog."):
        text = text[len("pg_catalog.") :]
    text = " ".join(text.split())
    return _ALIASES.get(text, text)


@lru_cache(maxsize=4096)
def unqualified(type_text: str) -> str:
    """The base type's own name, without its schema (``public.enc_text`` gives ``enc_text``)."""
    return base_type(type_text).rsplit(".", 1)[-1]


FLOAT_TYPES = frozenset({"real", "double precision"})


# ---------------------------------------------------------------------------------------------
# Caching per catalog

_PER_CATALOG: dict[tuple[int, Hashable], tuple[weakref.ref[Catalog], Any]] = {}


def per_catalog(catalog: Catalog, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` once per catalog and ``key``: several rules of a run ask the same question.

    Keyed by the catalog's identity (a catalog holds dicts, so it has no hash), checked
    through a weak reference so a new catalog at a recycled address is never confused.
    """
    slot = (id(catalog), key)
    hit = _PER_CATALOG.get(slot)
    if hit is not None and hit[0]() is catalog:
        return hit[1]  # type: ignore[no-any-return]
    value = compute()
    if len(_PER_CATALOG) >= 64:
        _PER_CATALOG.clear()
    _PER_CATALOG[slot] = (weakref.ref(catalog), value)
    return value


# ---------------------------------------------------------------------------------------------
# Identifiers in SQL text

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*")


def identifiers(text: str | None) -> frozenset[str]:
    """The lower-case identifiers and keywords in a piece of SQL (a view or function body).

    Qualified names give their parts (``public.patients`` gives ``public`` and ``patients``),
    so a name can be looked up whether or not it was qualified.
    """
    if not text:
        return frozenset()
    return frozenset(_IDENTIFIER.findall(text.lower()))


# ---------------------------------------------------------------------------------------------
# Functions and triggers


def functions_by_name(catalog: Catalog) -> dict[str, list[Function]]:
    """The catalog's functions keyed by ``schema.name`` (a trigger names its function so)."""

    def build() -> dict[str, list[Function]]:
        out: dict[str, list[Function]] = {}
        for function in catalog.functions.values():
            out.setdefault(f"{function.schema}.{function.name}", []).append(function)
        return out

    return per_catalog(catalog, "functions_by_name", build)


# RAISE without a level, or with EXCEPTION, aborts the statement; the lower levels only report.
_RAISES = re.compile(r"\braise\b(?!\s+(?:debug|log|info|notice|warning)\b)", re.IGNORECASE)


def trigger_raises(catalog: Catalog, trigger: Trigger) -> bool:
    """Whether the trigger's function raises an error (so the triggering statement fails).

    A function the catalog does not hold (defined elsewhere, or in C) cannot be read: it is
    taken to raise, so only a function visibly without an error is held against the trigger.
    """
    functions = functions_by_name(catalog).get(trigger.function)
    if not functions:
        return True
    for function in functions:
        if function.language and function.language.lower() not in ("plpgsql", "sql"):
            return True
        if _RAISES.search(function.body or function.definition or ""):
            return True
    return False


DML_EVENTS = ("INSERT", "UPDATE", "DELETE")


def audited_events(table: Table, names: NameMatcher, pg_version: int) -> set[str]:
    """The events of ``table`` that an audit trigger records.

    A row-level trigger records INSERT, UPDATE and DELETE (each row); a statement-level one
    records TRUNCATE (which fires no row trigger), and from PostgreSQL 10 on also INSERT,
    UPDATE and DELETE when it declares transition tables (``REFERENCING NEW TABLE``), which
    hold every row the statement changed. When ``names`` has patterns, only triggers whose
    name or function name matches count (a ``set_updated_at`` trigger audits nothing).
    """
    covered: set[str] = set()
    for trigger in table.triggers:
        if names and not (names(trigger.name) or names(trigger.function.rsplit(".", 1)[-1])):
            continue
        events = {e.upper() for e in trigger.events}
        if trigger.row_level:
            covered |= events & set(DML_EVENTS)
        else:
            covered |= events & {"TRUNCATE"}
            if pg_version >= 10 and "REFERENCING" in trigger.definition.upper():
                covered |= events & set(DML_EVENTS)
    return covered


# ---------------------------------------------------------------------------------------------
# Grants

# What GRANT ALL gives on a table (MAINTAIN from PostgreSQL 17 on).
ALL_TABLE_PRIVILEGES = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"}
)


def privileges_by_grantee(grants: Iterable[Grant]) -> dict[str, set[str]]:
    """Each grantee's privileges (``ALL`` spelled out); PUBLIC is always spelled ``PUBLIC``."""
    out: dict[str, set[str]] = {}
    for grant in grants:
        grantee = "PUBLIC" if grant.grantee.upper() == "PUBLIC" else grant.grantee
        privilege = grant.privilege.upper()
        held = out.setdefault(grantee, set())
        if privilege in ("ALL", "ALL PRIVILEGES"):
            held |= ALL_TABLE_PRIVILEGES
        else:
            held.add(privilege)
    return out


def holders(grants: Iterable[Grant], privileges: Iterable[str]) -> dict[str, list[str]]:
    """The grantees holding any of ``privileges``, each with those it holds (sorted)."""
    wanted = {p.upper() for p in privileges}
    out = {}
    for grantee, held in sorted(privileges_by_grantee(grants).items()):
        hit = sorted(held & wanted)
        if hit:
            out[grantee] = hit
    return out


# ---------------------------------------------------------------------------------------------
# PHI

DEFAULT_PHI_COLUMN_PATTERNS: tuple[str, ...] = (
    r"(^|_)ssn($|_)",
    r"social_?security",
    r"(^|_)mrn($|_)",
    r"medical_?record",
    r"(^|_)dob($|_)",
    r"date_?of_?birth",
    r"birth_?(date|day)",
    r"diagnos",
    r"(^|_)icd(_?(9|10))?(_|$)",
    r"(^|_)(medical|health)_?(condition|history)",
    r"prescription",
    r"medication",
    r"allerg",
    r"treatment",
    r"(^|_)lab_?results?($|_)",
    r"clinical",
    r"symptom",
    r"health_?plan",
    r"beneficiary",
    r"insurance_?(id|number|member)",
    r"(admission|admit(ted)?|discharged?|death)_?(date|at|on)($|_)",
    r"biometric",
    r"fingerprint",
)
DEFAULT_LINKED_IDENTIFIER_PATTERNS: tuple[str, ...] = (
    r"(^|_)(first|last|middle|full|given|family|maiden|patient)_?name$",
    r"^name$",
    r"address",
    r"(^|_)(street|city|county)$",
    r"(^|_)(zip|postal)(_?code)?$",
    r"phone",
    r"(^|_)fax",
    r"e_?mail",
    r"(^|_)ip_?addr",
    r"(^|_)(license|licence|certificate|vehicle|device)_?(number|no|id|serial)",
    r"photo",
    r"(^|_)(account|member)_?(number|no)$",
)
DEFAULT_PHI_TABLE_PATTERNS: tuple[str, ...] = (
    r"patient",
    r"(^|_)phi($|_)",
    r"medical",
    r"clinical",
    r"diagnos",
    r"prescription",
    r"encounter",
    r"health_?record",
)


class PhiOptions(BaseModel):
    """Which columns and tables hold PHI (every ``hipaa`` rule has these options)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phi_column_patterns: Patterns = Field(
        default=DEFAULT_PHI_COLUMN_PATTERNS,
        description="Column names that hold PHI in any table (health information and strong"
        " identifiers: ssn, mrn, diagnosis, date of birth...).",
    )
    linked_identifier_patterns: Patterns = Field(
        default=DEFAULT_LINKED_IDENTIFIER_PATTERNS,
        description="Column names that are PHI in a table holding PHI (names, addresses, phone"
        " numbers, e-mail: identifiers of 45 CFR 164.514(b)(2)).",
    )
    phi_table_patterns: Patterns = Field(
        default=DEFAULT_PHI_TABLE_PATTERNS,
        description="Table names (or schema.name) that hold PHI whatever their columns.",
    )


@dataclass(frozen=True)
class PhiTable:
    """A table holding PHI, its PHI columns (in table order), and why it holds PHI."""

    table: Table
    columns: tuple[Column, ...]
    reason: str

    @property
    def key(self) -> str:
        """The table's key."""
        return self.table.key

    def describe(self) -> str:
        """``public.patients (PHI: column ssn)``: the table and why it is in scope."""
        return f"{self.table.key} (PHI: {self.reason})"


def phi_tables(catalog: Catalog, options: PhiOptions) -> tuple[PhiTable, ...]:
    """The tables of ``catalog`` holding PHI under ``options``, by key (computed once per run)."""
    strong = matcher(options.phi_column_patterns)
    linked = matcher(options.linked_identifier_patterns)
    tables = matcher(options.phi_table_patterns)
    key = ("phi", strong.patterns, linked.patterns, tables.patterns)
    return per_catalog(catalog, key, lambda: _phi_tables(catalog, strong, linked, tables))


def _phi_tables(
    catalog: Catalog, strong: NameMatcher, linked: NameMatcher, tables: NameMatcher
) -> tuple[PhiTable, ...]:
    out = []
    for table in catalog.tables.values():
        labels = [classification(c.comment) if c.comment else None for c in table.columns]
        phi = [
            c
            for c, label in zip(table.columns, labels, strict=True)
            if label == "phi" or (label is None and strong(c.name))
        ]
        table_label = classification(table.comment)
        if phi:
            reason = "column " + ", ".join(c.name for c in phi[:3]) + (", ..." if phi[3:] else "")
        elif table_label == "phi":
            reason = "table comment"
        elif table_label is None and tables.table(table):
            reason = "table name"
        else:
            continue
        chosen = {c.name for c in phi}
        columns = tuple(
            c
            for c, label in zip(table.columns, labels, strict=True)
            if c.name in chosen or (label is None and linked(c.name))
        )
        out.append(PhiTable(table, columns, reason))
    return tuple(out)
