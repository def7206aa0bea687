"""Facts about a catalog that many schema rules ask: pure functions over the model.

Every library asks the same questions again and again (which names match the configured
patterns, how a comment classifies a column, what a type is once its spelling is set aside,
which events an audit trigger records, who holds which privilege); they live here so each
rule file, and each library's ``_common`` module, stays about its own rules.

**Name patterns.** A pattern is a regular expression searched in the lower-case name
(``ssn``, ``^dob$``, ``birth_?date``), or, when it starts with ``glob:``, a shell pattern
matched against the whole lower-case name (``glob:*_ssn``). :func:`matcher` compiles a tuple
of patterns once per process into one expression, with a memo of the names already asked:
schemas repeat the same names (``id``, ``created_at``) thousands of times.

**Classification comments.** A ``COMMENT ON COLUMN`` (or ``ON TABLE``) classifies the object
with a ``classification: <label>`` tag anywhere in the comment (``=`` may stand for ``:``;
case does not matter). The word ``PHI`` in capitals, standing alone, is shorthand for
``classification: phi``; an explicit label wins over it. What each label means is the
business of each library.
"""

from __future__ import annotations

import fnmatch
import re
import weakref
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import AfterValidator

from plimsoll.db.catalog import (
    Catalog,
    Column,
    Constraint,
    DomainType,
    Function,
    Grant,
    Origin,
    Table,
    Trigger,
    View,
    quote_ident,
)
from plimsoll.db.lint.rule import Violation

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------
# Name patterns


def _check_pattern(pattern: str) -> str:
    """Refuse a pattern that is not a valid regular expression (a config error, not a crash)."""
    if not pattern.startswith("glob:"):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return pattern


# One name pattern, checked when the options are read (the error names its index).
Pattern = Annotated[str, AfterValidator(_check_pattern)]
# A tuple of name patterns, each checked when the options are read.
Patterns = tuple[Pattern, ...]

# Past this many distinct names a matcher forgets what it was asked (a long-lived process).
_MEMO_LIMIT = 200_000
# A numbered back-reference (``\1``) counts groups across the whole expression: a pattern
# with one cannot be joined to others without changing what it means.
_BACKREFERENCE = re.compile(r"\\[1-9]")


class NameMatcher:
    """Patterns compiled into one expression (one each when they cannot be joined), with a
    memo of the names already asked.

    Schemas repeat the same column names (``id``, ``created_at``) thousands of times, so the
    memo keeps a 5,000-table lint to one regular-expression search per distinct name.
    """

    def __init__(self, patterns: tuple[str, ...]) -> None:
        # Each pattern as an expression of its own: a glob translated, a regex as written.
        parts = [
            "^" + fnmatch.translate(p[5:].lower()) if p.startswith("glob:") else p for p in patterns
        ]
        self.patterns = patterns
        self._regexes = _compile(parts) if parts else ()
        self._memo: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        """Whether ``name`` matches one of the patterns."""
        known = self._memo.get(name)
        if known is None:
            lowered = name.lower()
            known = any(regex.search(lowered) is not None for regex in self._regexes)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[name] = known
        return known

    def __bool__(self) -> bool:
        return bool(self._regexes)

    def table(self, table: Table) -> bool:
        """Whether the table's name or its key ``schema.name`` matches."""
        return self(table.name) or self(table.key)


def _compile(parts: list[str]) -> tuple[re.Pattern[str], ...]:
    """One expression for all ``parts`` when they can be joined, else one each.

    Joining fails on what only holds within one expression (a global flag such as ``(?i)``,
    which must open it; a group name used twice) and is wrong with numbered back-references.
    """
    if len(parts) > 1 and not any(_BACKREFERENCE.search(part) for part in parts):
        try:
            return (re.compile("|".join(f"(?:{part})" for part in parts)),)
        except re.error:
            pass
    return tuple(re.compile(part) for part in parts)


@lru_cache(maxsize=256)
def matcher(patterns: tuple[str, ...]) -> NameMatcher:
    """The compiled matcher of ``patterns`` (one per distinct tuple in the process)."""
    return NameMatcher(patterns)


# Patterns as configured, or already compiled.
PatternsLike = Iterable[str] | NameMatcher


def _matcher_of(patterns: PatternsLike) -> NameMatcher:
    return patterns if isinstance(patterns, NameMatcher) else matcher(tuple(patterns))


def name_matches(name: str, patterns: PatternsLike) -> bool:
    """Whether ``name`` matches one of ``patterns`` (see the module docstring)."""
    return _matcher_of(patterns)(name)


def table_matches(table: Table, patterns: PatternsLike) -> bool:
    """Whether the table's name or its key ``schema.name`` matches one of ``patterns``."""
    return _matcher_of(patterns).table(table)


def matching_columns(table: Table, patterns: PatternsLike) -> list[Column]:
    """The table's columns whose name matches one of ``patterns``."""
    found = _matcher_of(patterns)
    return [c for c in table.columns if found(c.name)]


def tables_with_columns(
    catalog: Catalog, patterns: PatternsLike
) -> Iterator[tuple[Table, list[Column]]]:
    """Each table that has columns matching ``patterns``, with those columns."""
    found = _matcher_of(patterns)
    for table in catalog.all_tables():
        columns = matching_columns(table, found)
        if columns:
            yield table, columns


def functions_named(catalog: Catalog, patterns: PatternsLike) -> list[Function]:
    """The functions whose name matches one of ``patterns``."""
    found = _matcher_of(patterns)
    return [f for f in catalog.functions.values() if found(f.name)]


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
FLOAT_TYPES = frozenset({"real", "double precision"})
_TEXT_TYPES = frozenset(
    {
        "text",
        "character varying",
        "character",
        "varchar",
        "char",
        "json",
        "jsonb",
        "citext",
        "public.citext",
    }
)


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


def is_text_type(type_text: str) -> bool:
    """Whether a column type holds readable text (text, varchar, char, json, citext)."""
    return type_text.split("(")[0].strip().lower() in _TEXT_TYPES


_QUOTED_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')


def _element(type_text: str) -> str:
    """The element type of an array type (``text[]``, ``varchar(10)[][]`` give ``text``,
    ``varchar(10)``); any other type as it is."""
    text = type_text.strip()
    while text.endswith("]") and "[" in text:
        text = text[: text.rindex("[")].rstrip()
    return text


def _type_key(type_text: str) -> str | None:
    """The catalog key (``schema.name``, unquoted) of a schema-qualified type name, or None
    (PostgreSQL's own types are printed unqualified, user types qualified)."""
    if "(" in type_text:
        return None
    parts = [
        quoted.replace('""', '"') if quoted or not plain else plain.strip()
        for quoted, plain in _QUOTED_PART.findall(type_text)
    ]
    return ".".join(parts) if len(parts) == 2 else None


@dataclass(frozen=True)
class ResolvedType:
    """What a column's type stores underneath: ``element`` is the type under its array
    brackets and domains (``text`` for ``text[]`` or a domain over ``text``), ``domains``
    the domains passed through (outermost first), ``array`` whether it held an array."""

    element: str
    domains: tuple[DomainType, ...] = ()
    array: bool = False


def resolve_type(catalog: Catalog, type_text: str) -> ResolvedType:
    """The type ``type_text`` stores underneath, domains (of ``catalog``) and arrays unwrapped.

    A domain over a domain or over an array is followed to the end; a domain the catalog does
    not hold (another schema not read) stays as it is.
    """
    text = type_text
    domains: list[DomainType] = []
    array = False
    while True:
        element = _element(text)
        array = array or element != text.strip()
        key = _type_key(element)
        domain = catalog.domains.get(key) if key else None
        if domain is None or domain in domains:
            return ResolvedType(element, tuple(domains), array)
        domains.append(domain)
        text = domain.base_type


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
# Columns, keys and where findings point


class _Located(Protocol):
    @property
    def origin(self) -> Origin | None: ...


class _Keyed(_Located, Protocol):
    @property
    def key(self) -> str: ...


def column_key(table: Table, column: Column) -> str:
    """The key of a column: ``schema.table.column``."""
    return f"{table.key}.{column.name}"


def origin_of(table: Table, obj: _Located | None = None) -> Origin | None:
    """Where to point a finding: the object's origin (a column, a constraint...), else its table's."""
    if obj is not None and obj.origin is not None:
        return obj.origin
    return table.origin


# Columns with their tables, in catalog order.
ColumnList = list[tuple[Table, Column]]


def columns_by_name(catalog: Catalog) -> dict[str, ColumnList]:
    """Every column of the catalog grouped by name, each group in catalog order (built once).

    Schemas repeat the same names over thousands of tables: a rule that decides by a column's
    name alone asks once per distinct name, and looks only at the columns it picks, instead
    of walking every column of every table.
    """

    def build() -> dict[str, ColumnList]:
        by_name: dict[str, ColumnList] = {}
        get = by_name.get
        for table in catalog.all_tables():
            for column in table.columns:
                # Not setdefault: it would build a list for every column of a large schema.
                found = get(column.name)
                if found is None:
                    by_name[column.name] = [(table, column)]
                else:
                    found.append((table, column))
        return by_name

    return per_catalog(catalog, "columns_by_name", build)


def columns_named(
    catalog: Catalog, accept: Callable[[str], bool]
) -> Iterator[tuple[Table, Column]]:
    """The (table, column) pairs whose column name ``accept`` takes, each name asked once."""
    for name, columns in columns_by_name(catalog).items():
        if accept(name):
            yield from columns


def finding(
    obj: _Keyed, message: str, *, help: str | None = None, origin: Origin | None = None
) -> Violation:
    """A finding about a table, view or function: its key, pointing at ``origin`` when
    given (the statement that made the state found), else at its definition."""
    return Violation(message, object=obj.key, origin=origin or obj.origin, help=help)


def rls_origin(table: Table, *, forced: bool = False) -> Origin | None:
    """Where the table's row-level security got its state: the last ALTER TABLE that enabled
    or disabled it (with ``forced``: that forced or unforced it, else that enabled it), or
    the CREATE TABLE when none did (and live, where no statement is known)."""
    if forced and table.rls_forced_origin is not None:
        return table.rls_forced_origin
    return table.rls_origin or table.origin


def column_finding(
    table: Table, column: Column, message: str, *, help: str | None = None
) -> Violation:
    """A finding about a column: ``schema.table.column``, pointing at its definition.

    (At its table's when the column has no origin of its own.)
    """
    return Violation(
        message, object=column_key(table, column), origin=origin_of(table, column), help=help
    )


def has_columns(table: Table, names: Iterable[str]) -> bool:
    """Whether the table has every column in ``names``."""
    own = {c.name for c in table.columns}
    return all(name in own for name in names)


def missing_columns(table: Table, names: Iterable[str]) -> list[str]:
    """The columns of ``names`` the table lacks, in the given order."""
    own = {c.name for c in table.columns}
    return [name for name in names if name not in own]


def foreign_keys(table: Table) -> list[Constraint]:
    """The table's foreign keys."""
    return [c for c in table.constraints if c.kind == "f"]


def references_to(catalog: Catalog, key: str) -> Iterator[tuple[Table, Constraint]]:
    """Every (table, foreign key) that references the table ``key``."""
    for table in catalog.all_tables():
        for constraint in table.constraints:
            if constraint.kind == "f" and constraint.references == key:
                yield table, constraint


def primary_key(table: Table) -> Constraint | None:
    """The table's primary key constraint, or None."""
    return next((c for c in table.constraints if c.kind == "p"), None)


def index_column_lists(table: Table) -> list[tuple[str, ...]]:
    """The key columns of every index on the table, those owned by constraints included."""
    lists = [c.columns for c in table.constraints if c.kind in ("p", "u", "x") and c.columns]
    lists.extend(i.columns for i in table.indexes if i.columns)
    return lists


# ---------------------------------------------------------------------------------------------
# Functions and triggers

DML_EVENTS = ("INSERT", "UPDATE", "DELETE")
# A matcher without patterns: every trigger counts.
ANY_TRIGGER = matcher(())


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


def triggers_on(table: Table, events: Iterable[str], *, row_level: bool | None = None) -> list:
    """The table's triggers firing on any of ``events`` (and at row level, when asked)."""
    wanted = {e.upper() for e in events}
    return [
        t
        for t in table.triggers
        if wanted & set(t.events) and (row_level is None or t.row_level == row_level)
    ]


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


def missing_audit_events(
    table: Table, events: Iterable[str], names: NameMatcher, pg_version: int
) -> list[str]:
    """The ones of ``events`` (upper case, in order) that no audit trigger of ``table`` records."""
    covered = audited_events(table, names, pg_version)
    return [e for e in events if e not in covered]


def has_audit_trigger(
    table: Table, events: Iterable[str] = DML_EVENTS, *, pg_version: int = 10
) -> bool:
    """Whether the table's triggers record every one of ``events`` (see :func:`audited_events`)."""
    wanted = [e.upper() for e in events]
    return not missing_audit_events(table, wanted, ANY_TRIGGER, pg_version)


# ---------------------------------------------------------------------------------------------
# Grants

# Privileges that let a role read or change rows.
READ_WRITE_PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"})
# What GRANT ALL gives on a table, as the catalog stores it: the DDL builder spells ``ALL``
# out into these (a static build does not know the server, so MAINTAIN, PostgreSQL 17's, is
# left out) and a live database lists each privilege (aclexplode). ``ALL`` only reaches the
# rules from a catalog built by hand; it is spelled out the same way.
ALL_TABLE_PRIVILEGES = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}
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


def public_grants(relation: Table | View) -> list[str]:
    """The privileges granted to PUBLIC on a table or view (``ALL`` spelled out), sorted."""
    return sorted(privileges_by_grantee(relation.grants).get("PUBLIC", ()))


# SELECT * (or t.*) exposes every column of what it reads.
_STAR = re.compile(r"\bselect\s+(?:distinct\s+)?\*|\.\s*\*", re.IGNORECASE)


def exposed_columns(view: View, sensitive: Mapping[str, Iterable[str]]) -> list[str]:
    """The sensitive columns (``schema.table.column``) a view exposes, sorted.

    ``sensitive`` maps table keys to their sensitive column names. A view exposes a column of
    a table it reads (its dependencies, or the table's name in its query) when its query
    names the column or selects ``*``.
    """
    words = identifiers(view.definition)
    read = [key for key in view.depends_on if key in sensitive]
    read += [
        key for key in sensitive if key not in read and key.rsplit(".", 1)[-1].lower() in words
    ]
    star = bool(_STAR.search(view.definition))
    return sorted(
        f"{key}.{name}" for key in read for name in sensitive[key] if star or name.lower() in words
    )


def public_grant_origin(grants: Iterable[Grant]) -> Origin | None:
    """Where the first PUBLIC grant among ``grants`` was made (a GRANT of the files), or None."""
    origins = [g.origin for g in grants if g.grantee.upper() == "PUBLIC" and g.origin is not None]
    return min(origins) if origins else None


def grant_finding(obj: _Keyed, grants: Iterable[Grant], message: str, **extra: Any) -> Violation:
    """A finding about a PUBLIC grant on a table or view: pointing at the GRANT when the
    files made it, else at the object's definition."""
    origin = public_grant_origin(grants) or obj.origin
    return Violation(message, object=obj.key, origin=origin, **extra)


@dataclass(frozen=True)
class ColumnGrant:
    """Privileges PUBLIC holds on one column (``GRANT SELECT (col) ... TO PUBLIC``)."""

    table: Table
    column: Column
    privileges: tuple[str, ...]

    @property
    def statement(self) -> str:
        """The GRANT that gives them, as SQL: ``GRANT SELECT (email) ON public.users TO PUBLIC``."""
        return (
            f"GRANT {', '.join(self.privileges)} ({quote_ident(self.column.name)})"
            f" ON {self.table.sql_name} TO PUBLIC"
        )

    def finding(self, message: str, *, help: str | None = None) -> Violation:
        """A finding about this column grant, pointing at the GRANT (else at the column)."""
        origin = public_grant_origin(self.column.grants) or origin_of(self.table, self.column)
        return Violation(
            message, object=column_key(self.table, self.column), origin=origin, help=help
        )


def public_column_grants(
    table: Table, columns: Iterable[Column] | None = None
) -> list[ColumnGrant]:
    """The column-level privileges PUBLIC holds on ``table`` (on ``columns`` only, when
    given), in column order: what ``pg_attribute.attacl`` grants beyond the table's ACL."""
    wanted = None if columns is None else {c.name for c in columns}
    out = []
    for column in table.columns:
        if not column.grants or (wanted is not None and column.name not in wanted):
            continue
        held = privileges_by_grantee(column.grants).get("PUBLIC")
        if held:
            out.append(ColumnGrant(table, column, tuple(sorted(held))))
    return out


def revoke_column_help(grant: ColumnGrant) -> str:
    """The remedy for a PUBLIC column grant: the REVOKE that undoes it."""
    return (
        f"REVOKE {', '.join(grant.privileges)} ({quote_ident(grant.column.name)})"
        f" ON {grant.table.sql_name} FROM PUBLIC; grant to the roles that need the column."
    )


def grantees(table: Table, privileges: Iterable[str] = READ_WRITE_PRIVILEGES) -> set[str]:
    """The roles holding any of ``privileges`` on the table (PUBLIC included, ``ALL`` counted)."""
    return set(holders(table.grants, privileges))
