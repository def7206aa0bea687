"""One in-memory model of a PostgreSQL schema: what lint rules, risk and diff read.

A :class:`Catalog` holds schemas (with their comments and grants), default privileges,
extensions, enum, domain and composite types, sequences, tables (with their columns and
their settings, constraints, indexes, triggers, row-level security, policies, comments,
grants, column-level grants included, persistence and storage parameters), views and
materialized views (with a materialized view's indexes), functions, and partitioned tables
and partitions (apart from plain tables), each keyed by its qualified name
(``schema.name``; a function by ``schema.name(argument types)``). Every text is what PostgreSQL itself prints for the object
(``format_type``, ``pg_get_expr``, ``pg_get_constraintdef``, ``pg_get_indexdef``,
``pg_get_viewdef``, ``pg_get_functiondef``, ``pg_get_triggerdef``), taken with an empty
``search_path`` so every name in them is schema-qualified and two databases compare equal
whatever their search path.

The model is plain frozen data: building it (``plimsoll.db.introspect``) is I/O, comparing it
(``plimsoll.db.diff``) is pure logic. Column order is kept (``Table.columns`` is in
``attnum`` order); every other collection is sorted by name so equal schemas give equal
catalogs.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

# Schemas that are PostgreSQL's own, never part of a project's schema.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")
# The migrator's tracking table lives in the database it tracks but is not its schema.
EXCLUDED_TABLES = ("plimsoll_migrations",)

_PLAIN_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_$]*$")
# Any keyword that is not unreserved needs quotes somewhere; quoting them all is always valid.
_QUOTED_KEYWORDS = frozenset(RESERVED_KEYWORDS | COL_NAME_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS)


def quote_ident(name: str) -> str:
    """``name`` as a SQL identifier, quoted only when PostgreSQL needs it (as ``quote_ident``)."""
    if _PLAIN_IDENTIFIER.match(name) and name not in _QUOTED_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a SQL string literal (standard_conforming_strings, the default since 9.1)."""
    return "'" + text.replace("'", "''") + "'"


def qualified(schema: str, name: str) -> str:
    """The key of a schema object: ``schema.name``, unquoted."""
    return f"{schema}.{name}"


def sql_name(schema: str, name: str) -> str:
    """``schema.name`` quoted for SQL."""
    return f"{quote_ident(schema)}.{quote_ident(name)}"


class Origin:
    """Where an object was defined: a file, a line and a column (objects built from DDL files).

    Objects introspected from a live database have no origin. Never part of an object's
    equality: two schemas are equal whatever files they came from. Origins compare and hash
    by their file, line and column, and pickle as those three values.
    """

    __slots__ = ("_file", "_line", "_column")

    def __init__(self, file: str, line: int, column: int = 1) -> None:
        self._file = file
        self._line = line
        self._column = column

    @property
    def file(self) -> str:
        """The file's path, as the build was given it."""
        return self._file

    @property
    def line(self) -> int:
        """The 1-based line."""
        return self._line

    @property
    def column(self) -> int:
        """The 1-based column, in characters."""
        return self._column

    def _values(self) -> tuple[str, int, int]:
        return self.file, self.line, self.column

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Origin):
            return NotImplemented
        return self._values() == other._values()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Origin):
            return NotImplemented
        return self._values() < other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self) -> tuple[type[Origin], tuple[str, int, int]]:
        # A script origin pickles resolved: its line index (the whole script) stays behind.
        return Origin, self._values()

    def __repr__(self) -> str:
        file, line, column = self._values()
        return f"Origin(file={file!r}, line={line!r}, column={column!r})"

    def __str__(self) -> str:
        return "{}:{}:{}".format(*self._values())


class LineIndex:
    """A script's UTF-8 bytes and where its lines start: byte offsets to lines and columns.

    One index is shared by every :class:`ScriptOrigin` of a script; the line starts are found
    the first time a position is asked for (a build makes many origins and may read none).
    """

    __slots__ = ("file", "data", "_starts")

    def __init__(self, file: str, data: bytes) -> None:
        self.file = file
        self.data = data
        self._starts: list[int] | None = None

    def line_column(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, character column) of byte ``offset`` (clamped to the text)."""
        data = self.data
        starts = self._starts
        if starts is None:
            starts = [0]
            starts.extend(match.end() for match in _NEWLINE.finditer(data))
            self._starts = starts
        offset = max(0, min(offset, len(data)))
        line = bisect.bisect_right(starts, offset)
        begin = starts[line - 1]
        prefix = data[begin:offset]
        column = len(prefix) if prefix.isascii() else len(prefix.decode("utf-8", "replace"))
        return line, column + 1

    def origin(self, offset: int) -> ScriptOrigin:
        """The origin of byte ``offset``."""
        return ScriptOrigin(self, offset)


_NEWLINE = re.compile(b"\n")


class ScriptOrigin(Origin):
    """An origin given as a byte offset into a script, its line and column worked out on
    first read.

    A build from DDL files makes one origin per object, column and constraint, and a lint
    run reads a handful of them: keeping the offset costs less than counting lines for each.
    """

    __slots__ = ("_offset", "_lines")

    def __init__(self, lines: LineIndex, offset: int) -> None:
        self._lines = lines
        self._offset = offset
        self._line = 0

    @property
    def file(self) -> str:
        """The file's path, as the build was given it."""
        return self._lines.file

    @property
    def line(self) -> int:
        """The 1-based line."""
        if not self._line:
            self._resolve()
        return self._line

    @property
    def column(self) -> int:
        """The 1-based column, in characters."""
        if not self._line:
            self._resolve()
        return self._column

    @property
    def offset(self) -> int:
        """The byte offset into the script."""
        return self._offset

    def _resolve(self) -> None:
        self._line, self._column = self._lines.line_column(self._offset)

    def _values(self) -> tuple[str, int, int]:
        if not self._line:
            self._resolve()
        return self._lines.file, self._line, self._column


def _origin() -> Any:
    """The ``origin`` field every object carries, left out of comparisons."""
    return field(default=None, compare=False)


def _derived(default: Any) -> Any:
    """A structured field derived from an object's PostgreSQL text, left out of comparisons.

    Lint rules and risk read these (a foreign key's columns, an index's columns); equality
    stays defined by what PostgreSQL prints, so diff is unaffected by how they were filled.
    """
    return field(default=default, compare=False)


class _Named:
    """What every schema object named ``schema.name`` answers: its key and its SQL name."""

    schema: str
    name: str

    @property
    def key(self) -> str:
        """``schema.name``."""
        return qualified(self.schema, self.name)

    @property
    def sql_name(self) -> str:
        """``schema.name`` quoted for SQL."""
        return sql_name(self.schema, self.name)


@dataclass(frozen=True)
class Grant:
    """One privilege on an object granted to a role (``PUBLIC`` for everyone).

    Only grants to roles other than the object's owner are listed: the owner's privileges
    come with ownership, which differs between environments. ``origin`` is the GRANT (or
    the ALTER DEFAULT PRIVILEGES) that gave it, when built from files.
    """

    privilege: str
    grantee: str
    grantable: bool = False
    origin: Origin | None = _origin()


@dataclass(frozen=True)
class DefaultPrivilege:
    """One privilege that objects ``role`` creates get without being asked
    (``ALTER DEFAULT PRIVILEGES FOR ROLE role [IN SCHEMA schema] GRANT ...``).

    ``object_type`` is what it applies to: ``TABLES``, ``SEQUENCES``, ``FUNCTIONS``,
    ``TYPES`` or ``SCHEMAS``; ``schema`` is None for every schema. PostgreSQL's built-in
    defaults (the owner's own privileges, EXECUTE on functions and USAGE on types to PUBLIC)
    are not listed: what is listed is what differs from them, a built-in privilege taken away
    (``ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC``) with ``revoked``
    set. ``origin`` is the statement that made it, when built from files.
    """

    role: str
    object_type: str
    privilege: str
    grantee: str
    grantable: bool = False
    schema: str | None = None
    revoked: bool = False
    origin: Origin | None = _origin()


# What a new function grants without being asked: EXECUTE to PUBLIC (``acldefault('f')``).
# A function's grants are compared with this, so a fresh function shows no difference.
DEFAULT_FUNCTION_GRANTS = frozenset({Grant("EXECUTE", "PUBLIC")})


# The range of each integer type a sequence can have: (MINVALUE, MAXVALUE) of ``NO MINVALUE``
# and ``NO MAXVALUE``.
SEQUENCE_TYPE_BOUNDS = {
    "smallint": (-32768, 32767),
    "integer": (-2147483648, 2147483647),
    "bigint": (-9223372036854775808, 9223372036854775807),
}


@dataclass(frozen=True)
class IdentityOptions:
    """The options of an identity column's sequence that differ from PostgreSQL's defaults.

    None (and 1, 1, false) stand for the default, as ``pg_dump`` prints it: ``minimum`` None
    is ``NO MINVALUE`` (1 ascending, the type's lowest descending), ``maximum`` None is ``NO
    MAXVALUE`` (the type's highest ascending, -1 descending), ``start`` None is the lowest
    value ascending or the highest descending. Defaults are relative to the column's type, so
    an identity whose column widens from integer to bigint keeps the same options, as
    PostgreSQL widens a default MAXVALUE with it.
    """

    increment: int = 1
    minimum: int | None = None
    maximum: int | None = None
    start: int | None = None
    cache: int = 1
    cycle: bool = False

    @classmethod
    def of(
        cls,
        data_type: str,
        start: int,
        increment: int,
        minimum: int,
        maximum: int,
        cache: int,
        cycle: bool,
    ) -> IdentityOptions | None:
        """The options of a sequence read from ``pg_sequence``, or None when all are the
        defaults of a sequence of ``data_type``."""
        lowest, highest = SEQUENCE_TYPE_BOUNDS.get(data_type, SEQUENCE_TYPE_BOUNDS["bigint"])
        default_min, default_max = (1, highest) if increment > 0 else (lowest, -1)
        options = cls(
            increment=increment,
            minimum=None if minimum == default_min else minimum,
            maximum=None if maximum == default_max else maximum,
            start=None if start == (minimum if increment > 0 else maximum) else start,
            cache=cache,
            cycle=cycle,
        )
        return None if options == cls() else options

    def bounds(self, data_type: str) -> tuple[int, int]:
        """The (MINVALUE, MAXVALUE) these options give a sequence of ``data_type``."""
        lowest, highest = SEQUENCE_TYPE_BOUNDS.get(data_type, SEQUENCE_TYPE_BOUNDS["bigint"])
        default_min, default_max = (1, highest) if self.increment > 0 else (lowest, -1)
        return (
            default_min if self.minimum is None else self.minimum,
            default_max if self.maximum is None else self.maximum,
        )

    def first(self, data_type: str) -> int:
        """The START WITH value these options give a sequence of ``data_type``."""
        if self.start is not None:
            return self.start
        low, high = self.bounds(data_type)
        return low if self.increment > 0 else high

    def clauses(self) -> list[str]:
        """The sequence options that differ from the defaults, as SQL clauses in the order
        ``CREATE SEQUENCE`` documents them (``["START WITH 1000"]``)."""
        out = []
        if self.increment != 1:
            out.append(f"INCREMENT BY {self.increment}")
        if self.minimum is not None:
            out.append(f"MINVALUE {self.minimum}")
        if self.maximum is not None:
            out.append(f"MAXVALUE {self.maximum}")
        if self.start is not None:
            out.append(f"START WITH {self.start}")
        if self.cache != 1:
            out.append(f"CACHE {self.cache}")
        if self.cycle:
            out.append("CYCLE")
        return out


@dataclass(frozen=True)
class Column:
    """A table column as PostgreSQL prints it.

    ``default`` is the ``pg_get_expr`` of the default, or of the generation expression when
    ``generated`` is true (a stored generated column); ``identity`` is ``ALWAYS``, ``BY
    DEFAULT`` or None; ``grants`` are column-level privileges (``GRANT SELECT (col)``);
    ``collation`` is the column's collation, schema-qualified and quoted
    (``pg_catalog."C"``), when it is not its type's default. ``identity_options`` are an
    identity's sequence options (None: all defaults). ``statistics`` is the column's
    statistics target (``SET STATISTICS``; None: the default), ``storage`` its storage
    (``PLAIN``, ``EXTERNAL``, ``EXTENDED`` or ``MAIN``; None: its type's) and
    ``compression`` its compression method (``pglz``, ``lz4``; None: the server's default).

    Derived fields: ``local`` (``attislocal``): false for a column a child table or a
    partition has only through its parent (the parent's DROP COLUMN then drops it too);
    ``type_storage``: its type's storage (what ``storage`` None stands for), when known.
    """

    name: str
    type: str
    nullable: bool = True
    default: str | None = None
    identity: str | None = None
    generated: bool = False
    comment: str | None = None
    grants: frozenset[Grant] = frozenset()
    collation: str | None = None
    identity_options: IdentityOptions | None = None
    statistics: int | None = None
    storage: str | None = None
    compression: str | None = None
    local: bool = _derived(True)
    type_storage: str = _derived("")
    origin: Origin | None = _origin()


@dataclass(frozen=True)
class Constraint:
    """A table constraint: ``kind`` is ``p`` (primary key), ``u`` (unique), ``f`` (foreign key),
    ``c`` (check) or ``x`` (exclusion); ``definition`` is ``pg_get_constraintdef``.

    Derived fields: ``columns`` (the constrained columns, in key order; empty for a check),
    ``references`` (a foreign key's referenced table key ``schema.name``), ``ref_columns``,
    ``on_delete`` and ``on_update`` (``NO ACTION``, ``RESTRICT``, ``CASCADE``, ``SET NULL``,
    ``SET DEFAULT``), ``validated`` (false for ``NOT VALID``), ``expression`` (a check's
    expression). ``comment`` is ``COMMENT ON CONSTRAINT``.
    """

    name: str
    kind: str
    definition: str
    columns: tuple[str, ...] = _derived(())
    references: str | None = _derived(None)
    ref_columns: tuple[str, ...] = _derived(())
    on_delete: str = _derived("NO ACTION")
    on_update: str = _derived("NO ACTION")
    validated: bool = _derived(True)
    expression: str | None = _derived(None)
    comment: str | None = None
    origin: Origin | None = _origin()

    @property
    def is_foreign_key(self) -> bool:
        """Whether this is a foreign key (created after every table it may reference)."""
        return self.kind == "f"


@dataclass(frozen=True)
class Index:
    """An index that no constraint owns; ``definition`` is ``pg_get_indexdef``.

    Derived fields: ``columns`` (each key column's name, or an expression's text, in order),
    ``unique``, ``method`` (``btree``, ``gin``, ...) and ``predicate`` (a partial index's WHERE).
    ``comment`` is ``COMMENT ON INDEX``.
    """

    name: str
    definition: str
    columns: tuple[str, ...] = _derived(())
    unique: bool = _derived(False)
    method: str = _derived("btree")
    predicate: str | None = _derived(None)
    comment: str | None = None
    origin: Origin | None = _origin()


@dataclass(frozen=True)
class Trigger:
    """A user trigger; ``definition`` is ``pg_get_triggerdef``.

    Derived fields: ``timing`` (``BEFORE``, ``AFTER``, ``INSTEAD OF``), ``events`` (of
    ``INSERT``, ``UPDATE``, ``DELETE``, ``TRUNCATE``), ``row_level`` (FOR EACH ROW) and
    ``function`` (the trigger function's key ``schema.name``). ``enabled`` is when it fires,
    as ``ALTER TABLE`` sets it: ``ENABLE`` (the default: not in replica sessions),
    ``DISABLE`` (never), ``ENABLE REPLICA`` (only in replica sessions) or ``ENABLE ALWAYS``;
    ``comment`` is ``COMMENT ON TRIGGER``.
    """

    name: str
    definition: str
    timing: str = _derived("AFTER")
    events: tuple[str, ...] = _derived(())
    row_level: bool = _derived(False)
    function: str = _derived("")
    enabled: str = "ENABLE"
    comment: str | None = None
    origin: Origin | None = _origin()


@dataclass(frozen=True)
class Policy:
    """A row-level security policy.

    ``command`` is ``ALL``, ``SELECT``, ``INSERT``, ``UPDATE`` or ``DELETE``; ``roles`` are
    role names (``public`` for everyone); ``using`` and ``with_check`` are ``pg_get_expr``
    texts or None; ``comment`` is ``COMMENT ON POLICY``.
    """

    name: str
    permissive: bool = True
    command: str = "ALL"
    roles: tuple[str, ...] = ("public",)
    using: str | None = None
    with_check: str | None = None
    comment: str | None = None
    origin: Origin | None = _origin()


@dataclass(frozen=True)
class Table(_Named):
    """A table and everything attached to it.

    ``inherits`` lists the keys of the tables it inherits from (``INHERITS``), in order.
    ``partition_by`` is a partitioned table's key (``pg_get_partkeydef``: ``RANGE (day)``);
    a partition has the key of its partitioned table in ``partition_of`` and its bound in
    ``bound`` (``FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')``, ``DEFAULT``); a
    sub-partitioned partition has all three.

    A partition's ``constraints``, ``indexes`` and ``triggers`` are its own: the copies
    PostgreSQL makes of its parent's (a cloned index, a primary key or foreign key with a
    parent constraint, an inherited CHECK, a cloned trigger) come and go with the parent's and
    are left out. The cloned constraints and indexes are kept apart, out of comparisons, in
    ``inherited_constraints`` and ``inherited_indexes``: a partition detached keeps them as
    its own. A partition's columns are all listed (they come from the parent).

    ``unlogged`` is an UNLOGGED table's (or partition's); ``options`` are its storage
    parameters as ``pg_class.reloptions`` prints them (``fillfactor=70``), its TOAST table's
    prefixed with ``toast.``, sorted.

    ``rls_origin`` and ``rls_forced_origin`` (built from files only, out of comparisons) are
    the last ALTER TABLE that enabled or disabled, forced or unforced, row-level security:
    the statement that left the table in its state, which findings about it point at.
    """

    schema: str
    name: str
    columns: tuple[Column, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    indexes: tuple[Index, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    policies: tuple[Policy, ...] = ()
    grants: frozenset[Grant] = frozenset()
    comment: str | None = None
    rls_enabled: bool = False
    rls_forced: bool = False
    unlogged: bool = False
    options: tuple[str, ...] = ()
    inherits: tuple[str, ...] = ()
    partition_by: str | None = None
    partition_of: str | None = None
    bound: str | None = None
    inherited_constraints: tuple[Constraint, ...] = _derived(())
    inherited_indexes: tuple[Index, ...] = _derived(())
    origin: Origin | None = _origin()
    rls_origin: Origin | None = _origin()
    rls_forced_origin: Origin | None = _origin()

    def column(self, name: str) -> Column | None:
        """The column called ``name``, or None."""
        return next((c for c in self.columns if c.name == name), None)

    @property
    def partitioned(self) -> bool:
        """Whether this is a partitioned table (it has a partition key)."""
        return self.partition_by is not None

    @property
    def is_partition(self) -> bool:
        """Whether this table is a partition of another."""
        return self.partition_of is not None


@dataclass(frozen=True)
class View(_Named):
    """A view or materialized view; ``definition`` is ``pg_get_viewdef`` (a SELECT).

    ``depends_on`` lists the keys of the relations (tables, views) its query reads, so views
    can be dropped and created in dependency order; ``indexes`` are a materialized view's;
    ``options`` its parameters as ``pg_class.reloptions`` prints them (``security_barrier=true``,
    ``check_option=local``; a materialized view's storage parameters), sorted.
    """

    schema: str
    name: str
    definition: str
    materialized: bool = False
    comment: str | None = None
    grants: frozenset[Grant] = frozenset()
    depends_on: tuple[str, ...] = ()
    indexes: tuple[Index, ...] = ()
    options: tuple[str, ...] = ()
    origin: Origin | None = _origin()


@dataclass(frozen=True)
class Function:
    """A function or procedure; ``definition`` is ``pg_get_functiondef`` (a CREATE OR REPLACE).

    ``identity_args`` is ``pg_get_function_identity_arguments`` (what DROP needs, with the
    argument names); ``argument_types`` is the input types alone, which identify the function
    (renaming an argument changes the function, it does not make another one);
    ``returns`` is ``pg_get_function_result`` (None for a procedure): when it changes,
    CREATE OR REPLACE is refused and the function must be dropped first. ``grants`` are
    the privileges others hold (a new function's are :data:`DEFAULT_FUNCTION_GRANTS`).
    """

    schema: str
    name: str
    identity_args: str
    definition: str
    argument_types: str = ""
    returns: str | None = None
    procedure: bool = False
    comment: str | None = None
    grants: frozenset[Grant] = DEFAULT_FUNCTION_GRANTS
    language: str = _derived("")
    security_definer: bool = _derived(False)
    volatility: str = _derived("VOLATILE")
    config: tuple[str, ...] = _derived(())
    body: str | None = _derived(None)
    origin: Origin | None = _origin()

    @property
    def key(self) -> str:
        """``schema.name(argument types)``."""
        return f"{qualified(self.schema, self.name)}({self.argument_types})"

    @property
    def signature(self) -> str:
        """``schema.name(identity args)`` quoted for SQL."""
        return f"{sql_name(self.schema, self.name)}({self.identity_args})"


@dataclass(frozen=True)
class Sequence(_Named):
    """A sequence that is not an identity column's; ``owned_by`` is (schema, table, column)."""

    schema: str
    name: str
    data_type: str = "bigint"
    start: int = 1
    increment: int = 1
    minimum: int = 1
    maximum: int = 9223372036854775807
    cache: int = 1
    cycle: bool = False
    owned_by: tuple[str, str, str] | None = None
    comment: str | None = None
    grants: frozenset[Grant] = frozenset()
    origin: Origin | None = _origin()


@dataclass(frozen=True)
class EnumType(_Named):
    """An enum type and its labels in order."""

    schema: str
    name: str
    labels: tuple[str, ...]
    comment: str | None = None
    origin: Origin | None = _origin()


@dataclass(frozen=True)
class DomainConstraint:
    """A domain's CHECK constraint; ``definition`` is ``pg_get_constraintdef``
    (``CHECK ((VALUE > 0))``, ``NOT VALID`` appended when not validated).

    Derived fields: ``expression`` (the check's expression) and ``validated``.
    """

    name: str
    definition: str
    expression: str | None = _derived(None)
    validated: bool = _derived(True)
    origin: Origin | None = _origin()


@dataclass(frozen=True)
class DomainType(_Named):
    """A domain: a base type (``format_type``) with a default, NOT NULL and CHECKs."""

    schema: str
    name: str
    base_type: str
    default: str | None = None
    not_null: bool = False
    constraints: tuple[DomainConstraint, ...] = ()
    comment: str | None = None
    origin: Origin | None = _origin()


@dataclass(frozen=True)
class Attribute:
    """An attribute of a composite type: its name and ``format_type``."""

    name: str
    type: str


@dataclass(frozen=True)
class CompositeType(_Named):
    """A composite type (``CREATE TYPE ... AS (...)``) and its attributes in order."""

    schema: str
    name: str
    attributes: tuple[Attribute, ...] = ()
    comment: str | None = None
    origin: Origin | None = _origin()


@dataclass(frozen=True)
class Catalog:
    """A whole schema: every object keyed by its qualified name.

    ``schema_grants`` holds the grants of each schema that has some (``public`` starts with
    USAGE to PUBLIC); ``extensions`` are the installed extensions' names and
    ``extension_schemas`` the schema each was installed in. ``schema_comments`` holds the
    comment of each schema that has one; ``default_privileges`` what ``ALTER DEFAULT
    PRIVILEGES`` set. ``schema_origins`` (built from files only, out of comparisons) is where
    each schema was created (or last renamed).
    """

    schemas: frozenset[str] = frozenset()
    enums: Mapping[str, EnumType] = field(default_factory=dict)
    sequences: Mapping[str, Sequence] = field(default_factory=dict)
    tables: Mapping[str, Table] = field(default_factory=dict)
    views: Mapping[str, View] = field(default_factory=dict)
    functions: Mapping[str, Function] = field(default_factory=dict)
    extensions: frozenset[str] = _derived(frozenset())
    domains: Mapping[str, DomainType] = field(default_factory=dict)
    composites: Mapping[str, CompositeType] = field(default_factory=dict)
    schema_grants: Mapping[str, frozenset[Grant]] = field(default_factory=dict)
    extension_schemas: Mapping[str, str] = field(default_factory=dict, compare=False)
    partitioned: Mapping[str, Table] = field(default_factory=dict)
    partitions: Mapping[str, Table] = field(default_factory=dict)
    schema_origins: Mapping[str, Origin] = field(default_factory=dict, compare=False)
    schema_comments: Mapping[str, str] = field(default_factory=dict)
    default_privileges: frozenset[DefaultPrivilege] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        schemas: frozenset[str] | set[str] = frozenset(),
        enums: tuple[EnumType, ...] | list[EnumType] = (),
        sequences: tuple[Sequence, ...] | list[Sequence] = (),
        tables: tuple[Table, ...] | list[Table] = (),
        views: tuple[View, ...] | list[View] = (),
        functions: tuple[Function, ...] | list[Function] = (),
        extensions: frozenset[str] | set[str] = frozenset(),
        domains: tuple[DomainType, ...] | list[DomainType] = (),
        composites: tuple[CompositeType, ...] | list[CompositeType] = (),
        schema_grants: Mapping[str, frozenset[Grant]] | None = None,
        extension_schemas: Mapping[str, str] | None = None,
        partitioned: tuple[Table, ...] | list[Table] = (),
        partitions: tuple[Table, ...] | list[Table] = (),
        schema_comments: Mapping[str, str] | None = None,
        default_privileges: Iterable[DefaultPrivilege] = (),
    ) -> Catalog:
        """A catalog from lists of objects, keyed and sorted by name.

        ``extensions`` defaults to the names of ``extension_schemas``; schemas without grants
        are left out of ``schema_grants``.
        """
        schemas_of = dict(sorted((extension_schemas or {}).items()))
        grants_of = {k: frozenset(v) for k, v in sorted((schema_grants or {}).items()) if v}
        return cls(
            schemas=frozenset(schemas),
            enums={e.key: e for e in sorted(enums, key=lambda e: e.key)},
            sequences={s.key: s for s in sorted(sequences, key=lambda s: s.key)},
            tables={t.key: t for t in sorted(tables, key=lambda t: t.key)},
            views={v.key: v for v in sorted(views, key=lambda v: v.key)},
            functions={f.key: f for f in sorted(functions, key=lambda f: f.key)},
            extensions=frozenset(extensions) | frozenset(schemas_of),
            domains={d.key: d for d in sorted(domains, key=lambda d: d.key)},
            composites={c.key: c for c in sorted(composites, key=lambda c: c.key)},
            schema_grants=grants_of,
            extension_schemas=schemas_of,
            partitioned={p.key: p for p in sorted(partitioned, key=lambda p: p.key)},
            partitions={p.key: p for p in sorted(partitions, key=lambda p: p.key)},
            schema_comments=dict(sorted((schema_comments or {}).items())),
            default_privileges=frozenset(default_privileges),
        )

    def all_tables(self, *, partitions: bool = False) -> Iterable[Table]:
        """The plain tables, then the partitioned tables queries name (not sub-partitions).

        With ``partitions``, every partition follows (sub-partitioned ones included): the
        rules about what a table holds look at the tables queries name, since a partition's
        columns, keys and inherited indexes are its parent's; the rules about names and
        direct access look at the partitions too.
        """
        if not self.partitioned and not (partitions and self.partitions):
            return self.tables.values()
        chosen = [*self.tables.values()]
        chosen += (t for t in self.partitioned.values() if t.partition_of is None)
        if partitions:
            chosen += (t for t in self.partitioned.values() if t.partition_of is not None)
            chosen += self.partitions.values()
        return chosen

    def find_table(self, key: str) -> Table | None:
        """The plain table, partitioned table or partition ``key``, or None."""
        return self.tables.get(key) or self.partitioned.get(key) or self.partitions.get(key)

    def partitions_of(self, key: str) -> list[Table]:
        """The partitions of the partitioned table ``key`` (sub-partitioned ones included),
        by name."""
        members = [*self.partitioned.values(), *self.partitions.values()]
        return sorted((t for t in members if t.partition_of == key), key=lambda t: t.key)

    @property
    def object_count(self) -> int:
        """How many top-level objects the catalog holds (schemas not counted)."""
        return (
            len(self.enums)
            + len(self.domains)
            + len(self.composites)
            + len(self.sequences)
            + len(self.tables)
            + len(self.partitioned)
            + len(self.partitions)
            + len(self.views)
            + len(self.functions)
        )
