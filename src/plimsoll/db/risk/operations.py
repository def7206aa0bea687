"""What a statement does to the database, as the lock profile describes it (pure data).

A :class:`StatementProfile` says which locks a statement takes on which relations
(:class:`TableLock`), what work it does while holding them (:class:`Work`: a catalog update, a
rewrite of the table, a validation scan, an index build, rows written), whether it is the
``CONCURRENTLY`` form, and what to do instead when there is a safer way. Relation names are
kept as written in the statement (``orders`` or ``app.orders``), like the migrator records
them; the live facts resolve them through the server's ``search_path``.

:class:`Knowledge` is what the profile may know about the live database: function volatility,
column types, constraints. Without it the profile assumes the worst (a function of unknown
volatility is volatile, an old column type that is not known means a rewrite) and says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from plimsoll.db.risk.locks import LockLevel, strongest


def shown(name: str | None) -> str:
    """A relation name for people: each part quoted when SQL needs it (``public."Mixed Case"``)."""
    if not name:
        return "?"
    return ".".join(_quoted(part) for part in name.split("."))


def _quoted(part: str) -> str:
    if part.isidentifier() and part == part.lower() and part.isascii():
        return part
    return '"' + part.replace('"', '""') + '"'


class WorkKind(StrEnum):
    """The kinds of work a statement does; each has its own speed (see ``predict``)."""

    CATALOG = "catalog"
    REWRITE = "rewrite"
    SCAN = "scan"
    FOREIGN_KEY_SCAN = "foreign_key_scan"
    INDEX_BUILD = "index_build"
    ROWS = "rows"
    UNKNOWN = "unknown"

    @property
    def heavy(self) -> bool:
        """Whether the work grows with the table (everything but a catalog update)."""
        return self is not WorkKind.CATALOG


@dataclass(frozen=True)
class Work:
    """One piece of work of a statement.

    ``table`` is the relation worked on (None when the statement does not say which);
    ``referenced`` the other table of a foreign key scan; ``concurrent`` marks the
    ``CONCURRENTLY`` form of an index build or a validation under SHARE UPDATE EXCLUSIVE;
    ``columns`` are an index's key columns (None for expressions or every index of the
    table); ``rows`` the rows written when the statement itself says (``VALUES`` lists);
    ``estimate`` asks for the planner's row estimate (``EXPLAIN``) of the statement;
    ``every_index``: an index build of every index of the table (``REINDEX TABLE``);
    ``assumed``: the kind of work was assumed for want of live facts (a column whose current
    type is not known, a function of unknown volatility, constraints not read): the statement
    may do less, so a recorded run of it cannot teach what this kind of work costs;
    ``row_locks``: the rows changed stay locked until the commit (``UPDATE``, ``DELETE``,
    ``MERGE``): concurrent writes of those rows wait; ``verb`` the DML that writes the rows
    (``INSERT``, ``UPDATE``, ``DELETE``, ``MERGE``), each priced at its own speed.
    """

    kind: WorkKind
    table: str | None = None
    referenced: str | None = None
    concurrent: bool = False
    columns: tuple[str, ...] | None = None
    rows: int | None = None
    estimate: bool = False
    every_index: bool = False
    assumed: bool = False
    row_locks: bool = False
    verb: str | None = None

    def describe(self) -> str:
        """The work in a few words (``rewrite of orders``)."""
        table = shown(self.table)
        where = f" of {table}" if self.table else ""
        if self.kind is WorkKind.CATALOG:
            return "catalog change"
        if self.kind is WorkKind.FOREIGN_KEY_SCAN:
            return f"foreign key scan of {table} against {shown(self.referenced)}"
        if self.kind is WorkKind.INDEX_BUILD:
            how = " (concurrently)" if self.concurrent else ""
            return f"index build on {table}{how}"
        if self.kind is WorkKind.SCAN and self.concurrent:
            return f"validation scan{where} (SHARE UPDATE EXCLUSIVE)"
        if self.kind is WorkKind.ROWS:
            if not self.table:
                return "rows read"
            return {
                "UPDATE": f"rows updated in {table}",
                "MERGE": f"rows merged into {table}",
                "DELETE": f"rows deleted from {table}",
            }.get(self.verb or "", f"rows written to {table}")
        return f"{self.kind.value.replace('_', ' ')}{where}"


@dataclass(frozen=True)
class TableLock:
    """A lock a statement takes on a relation, held until its transaction ends.

    ``via_index``: the relation named is an index; the lock that matters is on its table,
    which the live facts know. ``reason``: why a relation the statement does not name is
    locked (``TRUNCATE ... CASCADE empties it``, ``its foreign key ... is dropped``); these
    come from the live facts. ``emptied``: the statement deletes every row of it (TRUNCATE).
    ``dropped``: the statement drops it.
    """

    table: str
    level: LockLevel
    via_index: bool = False
    reason: str | None = None
    emptied: bool = False
    dropped: bool = False


@dataclass(frozen=True)
class StatementProfile:
    """The lock profile of one statement: its locks, its work, and the safer way if any.

    ``known`` is false for a statement the profile has no entry for: it is then the worst case
    (ACCESS EXCLUSIVE on what it names, a rewrite), and ``notes`` say so. ``fails`` is why the
    statement will fail against the live database (a missing table, a column type change
    under a view), from the live facts; None when nothing says it will.
    """

    kind: str
    action: str
    locks: tuple[TableLock, ...] = ()
    work: tuple[Work, ...] = ()
    known: bool = True
    concurrently: bool = False
    creates: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    recommendations: tuple[str, ...] = ()
    fails: str | None = None

    @property
    def lock_level(self) -> LockLevel | None:
        """The strongest lock the statement takes, or None when it takes no table lock."""
        return strongest([lock.level for lock in self.locks])

    @property
    def blocks_reads(self) -> bool:
        """Whether a lock it takes makes ``SELECT`` wait."""
        return any(lock.level.blocks_reads for lock in self.locks)

    @property
    def blocks_writes(self) -> bool:
        """Whether a lock it takes makes ``INSERT``/``UPDATE``/``DELETE`` wait."""
        return any(lock.level.blocks_writes for lock in self.locks)

    @property
    def rewrites(self) -> bool:
        """Whether it writes a new copy of a table (every row, and its indexes rebuilt)."""
        return any(w.kind in (WorkKind.REWRITE, WorkKind.UNKNOWN) for w in self.work)

    @property
    def scans(self) -> bool:
        """Whether it reads every row of a table (a rewrite, a validation, an index build)."""
        return any(
            w.kind
            in (
                WorkKind.REWRITE,
                WorkKind.SCAN,
                WorkKind.FOREIGN_KEY_SCAN,
                WorkKind.INDEX_BUILD,
                WorkKind.UNKNOWN,
            )
            for w in self.work
        )


@dataclass(frozen=True)
class ColumnInfo:
    """A live column: its type as ``format_type`` prints it, NOT NULL, fixed width."""

    type: str
    not_null: bool = False
    fixed_width: bool = False


@dataclass(frozen=True)
class ConstraintInfo:
    """A live constraint: its kind (``c``, ``f``, ``p``, ``u``, ``x``), validity, definition.

    ``referenced`` is the other table of a foreign key; ``columns`` the constraint's columns
    on its own table; ``index`` the index a primary key, unique or exclusion constraint
    owns (foreign keys referencing the table rely on it); ``not_null`` the columns a CHECK
    proves to hold no NULL (from a parsed expression; live ones are read from ``definition``).
    """

    kind: str
    validated: bool = True
    definition: str = ""
    referenced: str | None = None
    columns: tuple[str, ...] = ()
    index: str | None = None
    not_null: tuple[str, ...] = ()


@dataclass(frozen=True)
class ForeignKeyLink:
    """A foreign key seen from one of its two tables.

    ``name`` is the constraint, ``table`` the other table (named as the migrations would:
    unqualified when on the ``search_path``), ``columns`` the key's columns on *this* table,
    ``index`` (for a key referencing this table) the unique index it relies on.
    """

    name: str
    table: str
    columns: tuple[str, ...] = ()
    index: str | None = None


@dataclass(frozen=True)
class ColumnUser:
    """Something that uses a column in its definition: a view, rule, trigger or policy.

    PostgreSQL refuses to change the column's type while it exists, and ``DROP COLUMN``
    without CASCADE while anything depends on it. ``views`` are the views dropped with it by
    ``DROP COLUMN ... CASCADE`` (itself when it is a view, and the views built on that one).
    """

    kind: str
    name: str
    views: tuple[str, ...] = ()

    def describe(self) -> str:
        """``view big_orders``, ``rule r on t``."""
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Dependents:
    """What depends on a relation, from the live catalog (what CASCADE and RESTRICT reach).

    ``referencing``: other tables' foreign keys to it; ``references``: its foreign keys to
    other tables; ``views``: views and materialized views built on it, directly or through
    other views; ``truncates``: the tables ``TRUNCATE ... CASCADE`` empties with it (those
    referencing it, and those referencing them); ``columns``: per column, what uses it.
    """

    referencing: tuple[ForeignKeyLink, ...] = ()
    references: tuple[ForeignKeyLink, ...] = ()
    views: tuple[str, ...] = ()
    truncates: tuple[str, ...] = ()
    columns: Mapping[str, tuple[ColumnUser, ...]] = field(default_factory=dict)


_NOT_NULL_CHECK = r"^CHECK \(\(?\s*\"?{column}\"?\s+IS\s+NOT\s+NULL\s*\)?\)$"


@dataclass(frozen=True)
class Knowledge:
    """What the lock profile knows of the live database; empty means "assume the worst".

    ``pg_version`` is the major version (15). ``volatility`` maps function names (bare or
    ``schema.name``) to ``pg_proc.provolatile`` (``i``, ``s``, ``v``). ``columns`` and
    ``constraints`` are keyed by the relation name as written in the migration.
    ``timezone_utc`` is whether the migrator's session TimeZone has a fixed offset of zero
    (``UTC``, ``Etc/UTC``, ``GMT``, ``+00:00``...; None: not known). ``partitioned`` holds
    the relations (as written) that are partitioned tables or their indexes: PostgreSQL
    refuses CONCURRENTLY on them. ``live`` is true when the catalog was read (then a
    constraint not in ``constraints`` does not exist); ``missing`` are the relations looked up
    that do not exist; ``dependents`` what depends on each relation; ``parents`` the
    relations with partitions or inheritance children (a column added to one reaches them).
    """

    pg_version: int = 17
    volatility: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[str, Mapping[str, ColumnInfo]] = field(default_factory=dict)
    constraints: Mapping[str, Mapping[str, ConstraintInfo]] = field(default_factory=dict)
    timezone_utc: bool | None = None
    partitioned: frozenset[str] = frozenset()
    live: bool = False
    missing: frozenset[str] = frozenset()
    dependents: Mapping[str, Dependents] = field(default_factory=dict)
    parents: frozenset[str] = frozenset()

    def function_volatility(self, name: str) -> str | None:
        """``i``, ``s`` or ``v`` for a function; the built-in lists when not live; else None."""
        known = self.volatility.get(name) or self.volatility.get(name.rsplit(".", 1)[-1])
        if known:
            return known
        # Imported here: the lint rule's lists are only needed without a live catalog.
        from plimsoll.db.lint.rules.safety.adding_field_with_default import (
            NON_VOLATILE_FUNCTIONS,
            VOLATILE_FUNCTIONS,
        )

        bare = name.rsplit(".", 1)[-1]
        if bare in VOLATILE_FUNCTIONS:
            return "v"
        if bare in NON_VOLATILE_FUNCTIONS:
            return "s"
        return None

    def column(self, table: str, column: str) -> ColumnInfo | None:
        """The live column ``column`` of ``table``, or None when not known."""
        return self.columns.get(table, {}).get(column)

    def constraint(self, table: str, name: str) -> ConstraintInfo | None:
        """The live constraint ``name`` of ``table``, or None when not known."""
        return self.constraints.get(table, {}).get(name)

    def knows(self, table: str) -> bool:
        """Whether the columns and constraints of ``table`` were read from the live catalog."""
        return self.live and table in self.columns

    def depends_on(self, relation: str) -> Dependents:
        """What depends on ``relation`` (nothing known: empty)."""
        return self.dependents.get(relation) or _NO_DEPENDENTS

    def not_null_proven(self, table: str, column: str) -> bool:
        """Whether a valid ``CHECK (column IS NOT NULL)`` already proves the column has no NULL."""
        pattern = re.compile(_NOT_NULL_CHECK.format(column=re.escape(column)), re.IGNORECASE)
        return any(
            info.kind == "c"
            and info.validated
            and (column in info.not_null or bool(pattern.match(info.definition.strip())))
            for info in self.constraints.get(table, {}).values()
        )


_NO_DEPENDENTS = Dependents()
