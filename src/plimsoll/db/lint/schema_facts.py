"""Facts about a catalog that many schema rules ask: pure functions over the model.

Compliance libraries ask the same questions again and again (which columns look like personal
data, does a table have audit columns or an audit trigger, who may read it); they live here so
each rule file stays about its own rule.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator

from plimsoll.db.catalog import Catalog, Column, Constraint, Function, Table

# Privileges that let a role read or change rows.
READ_WRITE_PRIVILEGES = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"})


def name_matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether ``name`` matches one of ``patterns``.

    A pattern is a regular expression searched in the lower-case name (``ssn``,
    ``^dob$``, ``birth_?date``), or, when it starts with ``glob:``, a shell pattern matched
    against the whole name (``glob:*_ssn``).
    """
    lowered = name.lower()
    for pattern in patterns:
        if pattern.startswith("glob:"):
            if fnmatch.fnmatchcase(lowered, pattern[5:].lower()):
                return True
        elif re.search(pattern, lowered):
            return True
    return False


def table_matches(table: Table, patterns: Iterable[str]) -> bool:
    """Whether the table's name or its key ``schema.name`` matches one of ``patterns``."""
    patterns = list(patterns)
    return name_matches(table.name, patterns) or name_matches(table.key, patterns)


def matching_columns(table: Table, patterns: Iterable[str]) -> list[Column]:
    """The table's columns whose name matches one of ``patterns``."""
    patterns = list(patterns)
    return [c for c in table.columns if name_matches(c.name, patterns)]


def tables_with_columns(
    catalog: Catalog, patterns: Iterable[str]
) -> Iterator[tuple[Table, list[Column]]]:
    """Each table that has columns matching ``patterns``, with those columns."""
    patterns = list(patterns)
    for table in catalog.tables.values():
        columns = matching_columns(table, patterns)
        if columns:
            yield table, columns


def has_columns(table: Table, names: Iterable[str]) -> bool:
    """Whether the table has every column in ``names``."""
    own = {c.name for c in table.columns}
    return all(name in own for name in names)


def missing_columns(table: Table, names: Iterable[str]) -> list[str]:
    """The columns of ``names`` the table lacks, in the given order."""
    own = {c.name for c in table.columns}
    return [name for name in names if name not in own]


def triggers_on(table: Table, events: Iterable[str], *, row_level: bool | None = None) -> list:
    """The table's triggers firing on any of ``events`` (and at row level, when asked)."""
    wanted = {e.upper() for e in events}
    return [
        t
        for t in table.triggers
        if wanted & set(t.events) and (row_level is None or t.row_level == row_level)
    ]


def has_audit_trigger(table: Table, events: Iterable[str] = ("INSERT", "UPDATE", "DELETE")) -> bool:
    """Whether row-level triggers on the table cover every one of ``events``."""
    covered: set[str] = set()
    for trigger in table.triggers:
        if trigger.row_level:
            covered |= set(trigger.events)
    return {e.upper() for e in events} <= covered


def public_grants(table: Table) -> list[str]:
    """The privileges granted to PUBLIC on the table, sorted."""
    return sorted(g.privilege for g in table.grants if g.grantee.upper() == "PUBLIC")


def grantees(table: Table, privileges: Iterable[str] = READ_WRITE_PRIVILEGES) -> set[str]:
    """The roles holding any of ``privileges`` on the table (PUBLIC included)."""
    wanted = set(privileges)
    return {g.grantee for g in table.grants if g.privilege in wanted}


def foreign_keys(table: Table) -> list[Constraint]:
    """The table's foreign keys."""
    return [c for c in table.constraints if c.kind == "f"]


def references_to(catalog: Catalog, key: str) -> Iterator[tuple[Table, Constraint]]:
    """Every (table, foreign key) that references the table ``key``."""
    for table in catalog.tables.values():
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


def functions_named(catalog: Catalog, patterns: Iterable[str]) -> list[Function]:
    """The functions whose name matches one of ``patterns``."""
    patterns = list(patterns)
    return [f for f in catalog.functions.values() if name_matches(f.name, patterns)]


def column_key(table: Table, column: Column) -> str:
    """The key of a column: ``schema.table.column``."""
    return f"{table.key}.{column.name}"


def is_text_type(type_text: str) -> bool:
    """Whether a column type holds readable text (text, varchar, char, json, citext)."""
    base = type_text.split("(")[0].strip().lower()
    return base in {
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
