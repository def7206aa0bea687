"""The tables a build works on (with their constraints, indexes and triggers), and their
freezing into catalog objects.

Each draft holds what a statement may still change (a constraint's columns, a table's
comment) and prints its PostgreSQL text (``pg_get_constraintdef``, ``pg_get_indexdef``,
``pg_get_triggerdef``) only when frozen. Views and functions have their drafts in their own
modules. A column is a plain dict of
:class:`~plimsoll.db.catalog.Column`'s fields; freezing a table hands those dicts to the
frozen columns as they are, and the table copies them again before its next change.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from plimsoll.db.catalog import (
    Column,
    Constraint,
    Grant,
    Index,
    Origin,
    Policy,
    Table,
    Trigger,
    quote_ident,
    quote_literal,
)

if TYPE_CHECKING:
    from plimsoll.db.ddl.views import ViewDraft

_T = TypeVar("_T")

# Constraint kinds that own an index of the same name: primary key, unique, exclusion.
INDEX_KINDS = frozenset({"p", "u", "x"})
# The index name label of each index-backed constraint kind (t_pkey, t_a_key, t_a_excl).
INDEX_LABELS = {"p": "pkey", "u": "key", "x": "excl"}
# CreateTrigStmt / pg_trigger.tgtype bits.
TRIGGER_BEFORE = 2
TRIGGER_INSTEAD = 64
_TRIGGER_EVENTS = ((4, "INSERT"), (16, "UPDATE"), (8, "DELETE"), (32, "TRUNCATE"))
# pg_get_triggerdef prints the events in this order.
_TRIGGER_DEF_EVENTS = ((4, "INSERT"), (8, "DELETE"), (16, "UPDATE"), (32, "TRUNCATE"))

# Definitions quote the same few thousand names again and again.
quote = functools.lru_cache(maxsize=1 << 16)(quote_ident)


def sql_name(schema: str, name: str) -> str:
    """``schema.name`` quoted for SQL (``catalog.sql_name``, through the quoting cache)."""
    return f"{quote(schema)}.{quote(name)}"


@functools.lru_cache(maxsize=1 << 14)
def quoted_list(names: tuple[str, ...]) -> str:
    """Names quoted for SQL and joined by commas (a column list; the same few lists recur)."""
    return ", ".join([quote(n) for n in names])


def _plain(cls: type) -> bool:
    """Whether instances of a frozen dataclass can be made by handing them their ``__dict__``:
    the class has one, no ``__post_init__``, no default factories, every field in ``__init__``."""
    fields = dataclasses.fields(cls)
    return (
        "__slots__" not in vars(cls)
        and not hasattr(cls, "__post_init__")
        and all(f.default_factory is dataclasses.MISSING for f in fields)
        and all(f.init for f in fields)
    )


def _made_from(cls: type[_T]) -> Callable[[dict[str, Any]], _T]:
    """A constructor of a plain frozen dataclass (:func:`_plain`) from a dict of all its
    fields, which becomes the instance's ``__dict__`` as it is: the same object the generated
    ``__init__`` would make, without its ``object.__setattr__`` per field (a large schema has
    tens of thousands of columns and constraints)."""
    if not _plain(cls):
        raise RuntimeError(f"{cls.__name__} is not a plain frozen dataclass")

    def make(values: dict[str, Any]) -> _T:
        instance = _new_object(cls)
        _set_attribute(instance, "__dict__", values)
        return instance

    return make


_new_object = object.__new__
_set_attribute = object.__setattr__
_NO_GRANTS: frozenset[Grant] = frozenset()
_new_constraint = _made_from(Constraint)
_new_index = _made_from(Index)
_new_table = _made_from(Table)


# Every field of a column record, at its default (a new record is a copy: cheaper than
# building the dict anew, and a large schema has tens of thousands of columns).
COLUMN_DEFAULTS: dict[str, Any] = {
    "name": "",
    "type": "",
    "nullable": True,
    "default": None,
    "identity": None,
    "generated": False,
    "comment": None,
    "grants": frozenset(),
    "collation": None,
    "identity_options": None,
    "statistics": None,
    "storage": None,
    "compression": None,
    "local": True,
    "type_storage": "",
    "origin": None,
}
# A record becomes a frozen Column's own __dict__ (TableDraft.frozen): Column must be plain
# and a record must hold every field, no other.
if not _plain(Column) or COLUMN_DEFAULTS.keys() != {f.name for f in dataclasses.fields(Column)}:
    raise RuntimeError("column records do not match plimsoll.db.catalog.Column")


def column_record(name: str, type_: str, origin: Origin | None) -> dict[str, Any]:
    """A new column record: every Column field, at its default unless given."""
    record = COLUMN_DEFAULTS.copy()
    record["name"] = name
    record["type"] = type_
    record["origin"] = origin
    return record


# Privileges held on an object, by (privilege, grantee): each a catalog Grant (its grant
# option, and the origin of the statement that gave it).
Privileges = dict[tuple[str, str], Grant]


def grant_set(grants: Privileges) -> frozenset[Grant]:
    """Privileges by (privilege, grantee) as the catalog's set of Grants."""
    return frozenset(grants.values())


def privileges_of(grants: Iterable[Grant]) -> Privileges:
    """A set of Grants (a column's) keyed by (privilege, grantee), to change in place."""
    return {(g.privilege, g.grantee): g for g in grants}


@functools.lru_cache(maxsize=1 << 12)
def _primary_key(columns: tuple[str, ...]) -> str:
    return f"PRIMARY KEY ({quoted_list(columns)})"


@functools.lru_cache(maxsize=1 << 12)
def _unique(columns: tuple[str, ...]) -> str:
    return f"UNIQUE ({quoted_list(columns)})"


_KEY_DEFINITIONS = {"p": _primary_key, "u": _unique}


class ConstraintDraft:
    """A constraint being built. Fields left at their defaults live on the class: most
    constraints set three or four of them, and schemas have tens of thousands."""

    columns: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    references: tuple[str, str] | None = None
    ref_columns: tuple[str, ...] = ()
    on_delete = "NO ACTION"
    on_update = "NO ACTION"
    # ON DELETE SET NULL / SET DEFAULT (columns): the only columns cleared (PostgreSQL 15).
    delete_columns: tuple[str, ...] = ()
    match_full = False
    validated = True
    expression: str | None = None
    deferrable = False
    deferred = False
    nulls_not_distinct = False
    exclusion = ""
    # The columns a check mentions (dropping one of them drops the check).
    refs: frozenset[str] = frozenset()
    # On a partition: the name of the parent's constraint this is the copy of (None for
    # the partition's own).
    parent: str | None = None

    def __init__(self, name: str, kind: str, origin: Origin | None) -> None:
        self.name = name
        self.kind = kind
        self.origin = origin

    def copy(self) -> ConstraintDraft:
        """An independent copy (LIKE and INHERITS copy a table's constraints)."""
        other = ConstraintDraft(self.name, self.kind, self.origin)
        other.__dict__.update(self.__dict__)
        return other

    def mentions(self, column: str) -> bool:
        """Whether the constraint goes when ``column`` is dropped."""
        return column in self.columns or column in self.include or column in self.refs

    def definition(self) -> str:
        """The constraint as pg_get_constraintdef prints it."""
        kind = self.kind
        if (
            kind in _KEY_DEFINITIONS
            and not (self.include or self.nulls_not_distinct or self.deferrable)
            and not self.deferred
        ):
            # A plain primary key or unique constraint: the same few texts again and again.
            return _KEY_DEFINITIONS[kind](self.columns)
        if kind == "c":
            text = f"CHECK ({self.expression})"
        elif kind == "f":
            text = f"FOREIGN KEY ({quoted_list(self.columns)}) REFERENCES "
            if self.references is not None:
                text += sql_name(*self.references)
            if self.ref_columns:
                text += f"({quoted_list(self.ref_columns)})"
            if self.match_full:
                text += " MATCH FULL"
            if self.on_update != "NO ACTION":
                text += f" ON UPDATE {self.on_update}"
            if self.on_delete != "NO ACTION":
                text += f" ON DELETE {self.on_delete}"
                if self.delete_columns:
                    text += f" ({quoted_list(self.delete_columns)})"
        elif kind == "x":
            text = f"EXCLUDE {self.exclusion}"
        else:
            text = "PRIMARY KEY " if kind == "p" else "UNIQUE "
            if self.nulls_not_distinct:
                text += "NULLS NOT DISTINCT "
            text += f"({quoted_list(self.columns)})"
        if self.include:
            text += f" INCLUDE ({quoted_list(self.include)})"
        if self.deferrable:
            text += " DEFERRABLE"
        if self.deferred:
            text += " INITIALLY DEFERRED"
        if not self.validated:
            text += " NOT VALID"
        return text

    def frozen(self) -> Constraint:
        """The catalog's Constraint."""
        references = self.references
        return _new_constraint(
            {
                "name": self.name,
                "kind": self.kind,
                "definition": self.definition(),
                "columns": self.columns,
                "references": f"{references[0]}.{references[1]}" if references else None,
                "ref_columns": self.ref_columns,
                "on_delete": self.on_delete,
                "on_update": self.on_update,
                "validated": self.validated,
                "expression": self.expression,
                "comment": None,
                "origin": self.origin,
            }
        )


class IndexDraft:
    """An index being built (defaults on the class, as for constraints)."""

    include: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    unique = False
    method = "btree"
    predicate: str | None = None
    nulls_not_distinct = False
    refs: frozenset[str] = frozenset()
    # On a partition: the name of the parent's index this is the copy of.
    parent: str | None = None
    # CREATE INDEX ON ONLY a partitioned table with partitions: invalid, and printed
    # ``ON ONLY``, until each partition attaches a copy (ALTER INDEX ... ATTACH PARTITION).
    only = False

    def __init__(self, name: str, origin: Origin | None) -> None:
        self.name = name
        self.origin = origin
        # Each key as pg_get_indexdef prints it, with its options.
        self.elements: list[str] = []
        # Each key's name as index names are made from it (FigureColname for expressions).
        self.keys: list[str] = []

    def copy(self) -> IndexDraft:
        """An independent copy (LIKE ... INCLUDING INDEXES)."""
        other = IndexDraft(self.name, self.origin)
        other.__dict__.update(self.__dict__)
        other.elements = list(self.elements)
        other.keys = list(self.keys)
        return other

    def mentions(self, column: str) -> bool:
        """Whether the index goes when ``column`` is dropped."""
        return column in self.columns or column in self.include or column in self.refs

    def frozen(self, table: TableDraft | ViewDraft, only: bool = False) -> Index:
        """The catalog's Index, its definition naming ``table`` (or materialized view);
        ``only`` for a partitioned table's index not yet on every partition."""
        text = "CREATE UNIQUE INDEX " if self.unique else "CREATE INDEX "
        text += f"{quote(self.name)} ON {'ONLY ' if only else ''}"
        text += sql_name(table.schema, table.name)
        text += f" USING {self.method} ({', '.join(self.elements)})"
        if self.include:
            text += f" INCLUDE ({quoted_list(self.include)})"
        if self.nulls_not_distinct:
            text += " NULLS NOT DISTINCT"
        if self.predicate is not None:
            text += f" WHERE ({self.predicate})"
        return _new_index(
            {
                "name": self.name,
                "definition": text,
                "columns": self.columns,
                "unique": self.unique,
                "method": self.method,
                "predicate": self.predicate,
                "comment": None,
                "origin": self.origin,
            }
        )


class TriggerDraft:
    """A trigger being built."""

    timing = 0
    events = 0
    update_columns: tuple[str, ...] = ()
    row_level = False
    function: tuple[str, str] = ("", "")
    arguments: tuple[str, ...] = ()
    when: str | None = None
    constraint = False
    deferrable = False
    deferred = False
    referencing = ""

    def __init__(self, name: str, origin: Origin | None) -> None:
        self.name = name
        self.origin = origin

    def frozen(self, table: TableDraft) -> Trigger:
        """The catalog's Trigger, its definition naming ``table``."""
        timing = "AFTER"
        if self.timing & TRIGGER_BEFORE:
            timing = "BEFORE"
        elif self.timing & TRIGGER_INSTEAD:
            timing = "INSTEAD OF"
        printed = []
        for bit, word in _TRIGGER_DEF_EVENTS:
            if self.events & bit:
                if bit == 16 and self.update_columns:
                    word += f" OF {quoted_list(self.update_columns)}"
                printed.append(word)
        text = "CREATE CONSTRAINT TRIGGER " if self.constraint else "CREATE TRIGGER "
        text += f"{quote(self.name)} {timing} {' OR '.join(printed)}"
        text += f" ON {sql_name(table.schema, table.name)}"
        if self.deferrable:
            text += " DEFERRABLE INITIALLY " + ("DEFERRED" if self.deferred else "IMMEDIATE")
        if self.referencing:
            text += f" REFERENCING {self.referencing}"
        text += " FOR EACH ROW" if self.row_level else " FOR EACH STATEMENT"
        if self.when is not None:
            text += f" WHEN ({self.when})"
        arguments = ", ".join(quote_literal(a) for a in self.arguments)
        schema, name = self.function
        text += f" EXECUTE FUNCTION {sql_name(schema, name)}({arguments})"
        return Trigger(
            self.name,
            text,
            timing,
            tuple(word for bit, word in _TRIGGER_EVENTS if self.events & bit),
            self.row_level,
            f"{schema}.{name}",
            origin=self.origin,
        )


class TableDraft:
    """A table being built.

    Its column records are shared with the frozen columns of the last catalog handed out:
    :attr:`columns` copies them before the table is changed again, so a catalog never sees a
    later statement.
    """

    __slots__ = (
        "schema",
        "name",
        "key",
        "_columns",
        "_shared",
        "constraints",
        "indexes",
        "triggers",
        "policies",
        "grants",
        "comment",
        "rls_enabled",
        "rls_forced",
        "rls_origin",
        "rls_forced_origin",
        "unlogged",
        "inherits",
        "owned",
        "origin",
        "partition_by",
        "partition_keys",
        "partition_of",
        "bound",
        "partitions",
    )

    def __init__(self, schema: str, name: str, origin: Origin | None) -> None:
        self.schema = schema
        self.name = name
        #: ``schema.name``.
        self.key = f"{schema}.{name}"
        # Each column is a dict of Column's fields, in attnum order.
        self._columns: dict[str, dict[str, Any]] = {}
        self._shared = False
        self.constraints: dict[str, ConstraintDraft] = {}
        self.indexes: dict[str, IndexDraft] = {}
        self.triggers: dict[str, TriggerDraft] = {}
        self.policies: dict[str, Policy] = {}
        self.grants: Privileges = {}
        self.comment: str | None = None
        self.rls_enabled = False
        self.rls_forced = False
        # The ALTER TABLE that last set each row-level security flag (None: never set).
        self.rls_origin: Origin | None = None
        self.rls_forced_origin: Origin | None = None
        self.unlogged = False
        # The keys of the tables it inherits from, in order.
        self.inherits: list[str] = []
        # Relations living and dying with the table: serial and identity sequences.
        self.owned: list[str] = []
        self.origin = origin
        # A partitioned table: its key's text, the column of each key (None for an
        # expression) and the keys of its partitions, in the order they were made.
        self.partition_by: str | None = None
        self.partition_keys: list[str | None] = []
        self.partitions: list[str] = []
        # A partition: its partitioned table's key and its bound's text.
        self.partition_of: str | None = None
        self.bound: str | None = None

    @property
    def columns(self) -> dict[str, dict[str, Any]]:
        """The column records by name, in attnum order, free to change."""
        if self._shared:
            self._columns = {name: record.copy() for name, record in self._columns.items()}
            self._shared = False
        return self._columns

    @columns.setter
    def columns(self, columns: dict[str, dict[str, Any]]) -> None:
        self._columns = columns
        self._shared = False

    def move(self, schema: str, name: str) -> None:
        """Rename the table and/or move it to another schema."""
        self.schema = schema
        self.name = name
        self.key = f"{schema}.{name}"

    def primary_key(self) -> tuple[str, ...]:
        """The primary key's columns (empty without one)."""
        for constraint in self.constraints.values():
            if constraint.kind == "p":
                return constraint.columns
        return ()

    def frozen(self) -> Table:
        """The catalog's Table, with everything attached to it."""
        # The column records become the frozen columns' own dicts: no copy (see columns).
        self._shared = True
        columns = []
        for record in self._columns.values():
            column = _new_object(Column)
            _set_attribute(column, "__dict__", record)
            columns.append(column)
        triggers = self.triggers
        policies = self.policies
        if self.partition_by is not None or self.partition_of is not None:
            return self._frozen_partitioned(tuple(columns))
        return _new_table(
            {
                "schema": self.schema,
                "name": self.name,
                "columns": tuple(columns),
                "constraints": _frozen_by_name(self.constraints, ConstraintDraft.frozen),
                "indexes": _frozen_by_name(self.indexes, IndexDraft.frozen, self),
                "triggers": _frozen_by_name(triggers, TriggerDraft.frozen, self)
                if triggers
                else (),
                "policies": tuple([policies[n] for n in sorted(policies)]) if policies else (),
                "grants": grant_set(self.grants) if self.grants else _NO_GRANTS,
                "comment": self.comment,
                "rls_enabled": self.rls_enabled,
                "rls_forced": self.rls_forced,
                "unlogged": self.unlogged,
                "options": (),
                "inherits": tuple(self.inherits),
                "partition_by": None,
                "partition_of": None,
                "bound": None,
                "inherited_constraints": (),
                "inherited_indexes": (),
                "origin": self.origin,
                "rls_origin": self.rls_origin,
                "rls_forced_origin": self.rls_forced_origin,
            }
        )

    def _frozen_partitioned(self, columns: tuple[Column, ...]) -> Table:
        """A partitioned table or a partition: the copies of its parent's constraints and
        indexes kept apart from its own, as introspection keeps them."""
        own = {n: c for n, c in self.constraints.items() if c.parent is None}
        copied = {n: c for n, c in self.constraints.items() if c.parent is not None}
        own_indexes = {n: i for n, i in self.indexes.items() if i.parent is None}
        copied_indexes = {n: i for n, i in self.indexes.items() if i.parent is not None}
        policies = self.policies
        indexes = tuple(
            own_indexes[n].frozen(self, own_indexes[n].only) for n in sorted(own_indexes)
        )
        return _new_table(
            {
                "schema": self.schema,
                "name": self.name,
                "columns": columns,
                "constraints": _frozen_by_name(own, ConstraintDraft.frozen),
                "indexes": indexes,
                "triggers": _frozen_by_name(self.triggers, TriggerDraft.frozen, self),
                "policies": tuple([policies[n] for n in sorted(policies)]),
                "grants": grant_set(self.grants),
                "comment": self.comment,
                "rls_enabled": self.rls_enabled,
                "rls_forced": self.rls_forced,
                "unlogged": self.unlogged,
                "options": (),
                "inherits": tuple(self.inherits),
                "partition_by": self.partition_by,
                "partition_of": self.partition_of,
                "bound": self.bound,
                "inherited_constraints": _frozen_by_name(copied, ConstraintDraft.frozen),
                "inherited_indexes": _frozen_by_name(copied_indexes, IndexDraft.frozen, self),
                "origin": self.origin,
                "rls_origin": self.rls_origin,
                "rls_forced_origin": self.rls_forced_origin,
            }
        )


def _frozen_by_name(drafts: dict[str, Any], freeze: Any, *arguments: Any) -> tuple[Any, ...]:
    """``freeze(draft, *arguments)`` of each draft, sorted by name."""
    if len(drafts) == 1:
        for draft in drafts.values():
            return (freeze(draft, *arguments),)
    return tuple([freeze(drafts[n], *arguments) for n in sorted(drafts)])
