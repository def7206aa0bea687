"""The database a build works on: every object by key, the search path, the statement at hand.

:class:`Model` holds the mutable state the statement modules change (tables, views,
functions, sequences, enums, the relation names taken in each schema, the constraint names
PostgreSQL's generated names avoid) and answers what they all ask: the key an unqualified
name resolves to on the search path, a type as ``format_type`` prints it, the origin of a
node and the tokens of the statement being applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from plimsoll.db.catalog import EnumType, Grant, LineIndex, Origin, ScriptOrigin
from plimsoll.db.ddl.names import choose_name, make_object_name
from plimsoll.db.ddl.state import (
    INDEX_KINDS,
    ConstraintDraft,
    IndexDraft,
    Privileges,
    TableDraft,
)
from plimsoll.db.ddl.tokens import Tokens
from plimsoll.db.ddl.types import PG_TYPES, ROW_TYPE_KINDS, type_key
from plimsoll.db.sqljson import SERIAL_TYPES, JsonScript, JsonStatement, Node, strings, type_name

if TYPE_CHECKING:
    from plimsoll.db.ddl.functions import FunctionDraft
    from plimsoll.db.ddl.user_types import CompositeDraft, DomainDraft
    from plimsoll.db.ddl.views import ViewDraft

# What a fresh database grants on schema ``public`` (PostgreSQL 15 on: USAGE to PUBLIC;
# CREATE too before 15). Privileges are (privilege, grantee) -> Grant.
PUBLIC_SCHEMA_GRANTS: Privileges = {("USAGE", "PUBLIC"): Grant("USAGE", "PUBLIC")}


_NONE_TAKEN: dict[str, int] = {}


class Model:
    """A database being built from DDL (mutable; frozen by the builder's ``catalog()``)."""

    def __init__(self, default_schema: str = "public") -> None:
        """An empty database: schemas ``public`` and ``default_schema``, extension plpgsql."""
        self.default_schema = default_schema
        self.path: list[str] = [default_schema]
        # Where an unqualified new object goes: the first existing schema of the path.
        self.create_in = default_schema
        self.schemas: set[str] = {"public", default_schema}
        # Where each schema the scripts created (or renamed) was, for findings about it.
        self.schema_origins: dict[str, Origin] = {}
        self.extensions: set[str] = {"plpgsql"}
        # The schema of each extension (plpgsql's is pg_catalog, as its control file says).
        self.extension_schemas: dict[str, str] = {"plpgsql": "pg_catalog"}
        # The grants of each schema (a new schema has none; public has PUBLIC's USAGE).
        self.schema_grants: dict[str, Privileges] = {"public": dict(PUBLIC_SCHEMA_GRANTS)}
        # ALTER DEFAULT PRIVILEGES: by (TABLES|SEQUENCES|FUNCTIONS|..., schema or None for
        # every schema), what new objects are granted (see plimsoll.db.ddl.privileges).
        self.default_privileges: dict[tuple[str, str | None], Privileges] = {}
        # The role each of those was set for (FOR ROLE; CURRENT_USER when not named).
        self.default_privilege_roles: dict[tuple[str, str | None], str] = {}
        self.domains: dict[str, DomainDraft] = {}
        self.composites: dict[str, CompositeDraft] = {}
        self.tables: dict[str, TableDraft] = {}
        self.views: dict[str, ViewDraft] = {}
        self.functions: dict[str, FunctionDraft] = {}
        # The keys of the functions of each ``schema.name`` (overloads).
        self.function_names: dict[str, set[str]] = {}
        # Each sequence is a dict of Sequence's fields.
        self.sequences: dict[str, dict[str, Any]] = {}
        self.enums: dict[str, tuple[EnumType, list[str]]] = {}
        # Every relation name taken in a schema, by key: r table, v view, m materialized
        # view, i index, S sequence, c composite type, p a table left out (the migrator's).
        self.relations: dict[str, str] = {}
        # Which table (or materialized view) each index (its own or a constraint's) is on.
        self.index_table: dict[str, str] = {}
        # Constraint names taken in each schema (PostgreSQL's generated names avoid them).
        self.constraint_names: dict[str, dict[str, int]] = {}
        # Types a column may name: enums, domains, composite and range types.
        self.types: set[str] = set()
        # PostgreSQL's own types, spelled once per type_key.
        self.builtin_types: dict[Any, str] = {}
        # The statement being applied: its script and span, and where the object being
        # made starts (an element of CREATE SCHEMA moves it).
        self.lines = LineIndex("", b"")
        self.data = b""
        self.start = 0
        self._span = (0, 0)
        self._tokens: Tokens | None = None

    # --- the statement being applied ---------------------------------------------------------

    def begin(self, statement: JsonStatement, script: JsonScript) -> None:
        """Make ``statement`` of ``script`` the one being applied."""
        if script.lines is not self.lines:
            self.lines = script.lines
            self.data = script.data
        self.start = statement.start
        self._span = (statement.start, statement.length)
        self._tokens = None

    def end(self) -> None:
        """Forget the statement's tokens (the caller frees its parse tree)."""
        self._tokens = None

    def here(self) -> Origin:
        """The origin of the object being made (the statement's start)."""
        return ScriptOrigin(self.lines, self.start)

    def at(self, node: Node) -> Origin:
        """The origin of a node with a location (the statement's when it has none)."""
        location = node.get("location", -1)
        return ScriptOrigin(self.lines, location if location >= 0 else self.start)

    def tokens(self) -> Tokens:
        """The statement's tokens, scanned on first need."""
        if self._tokens is None:
            self._tokens = Tokens(self.data, *self._span)
        return self._tokens

    def keyword_group(self, node: Node, keyword: str) -> str:
        """The parenthesized text after ``keyword``, in a clause starting at ``node``."""
        tokens = self.tokens()
        return tokens.group(tokens.find(tokens.at(node.get("location", self.start)), keyword))

    # --- names and the search path ----------------------------------------------------------

    def qualify(self, schema: str | None, name: str, kinds: Iterable[str] | None = None) -> str:
        """The key of relation ``name`` (``schema`` when written, else found on the path)."""
        if schema:
            return f"{schema}.{name}"
        relations = self.relations
        for candidate in self.path:
            key = f"{candidate}.{name}"
            kind = relations.get(key)
            if kind is not None and (kinds is None or kind in kinds):
                return key
        if name.startswith("pg_") and kinds is None:
            return f"pg_catalog.{name}"
        return f"{self.create_in}.{name}"

    def relation(self, range_var: Node | None, kinds: Iterable[str] | None = None) -> str:
        """The key of a RangeVar ("" for none)."""
        if not range_var:
            return ""
        return self.qualify(range_var.get("schemaname"), range_var.get("relname", ""), kinds)

    def names_key(self, names: list[str], kinds: Iterable[str] | None = None) -> str:
        """The key of a dotted relation name (``[schema,] name``; a catalog prefix is dropped)."""
        if not names:
            return ""
        if len(names) == 1:
            return self.qualify(None, names[0], kinds)
        return f"{names[-2]}.{names[-1]}"

    def table(self, range_var: Node | None) -> TableDraft | None:
        """The table a RangeVar names, when it is one."""
        if not range_var:
            return None
        return self.tables.get(self.relation(range_var, ("r",)))

    def creation_key(self, range_var: Node) -> tuple[str, str]:
        """Where a new relation goes: (schema, name)."""
        return range_var.get("schemaname") or self.create_in, range_var.get("relname", "")

    def set_path(self, schemas: list[str]) -> None:
        """``SET search_path``: the schemas unqualified names are looked up in."""
        self.path = [s for s in schemas if s and s != "$user" and not s.startswith("pg_temp")]
        self.refresh_creation_schema()

    def refresh_creation_schema(self) -> None:
        """The first existing schema of the path is where unqualified objects are created."""
        self.create_in = next(
            (s for s in self.path if s in self.schemas and s != "pg_catalog"),
            self.default_schema,
        )

    # --- types --------------------------------------------------------------------------------

    def type_text(self, type_node: Node | None) -> str:
        """A TypeName as ``format_type`` prints it, user types schema-qualified."""
        if not type_node:
            return ""
        key = type_key(type_node)
        cached = self.builtin_types.get(key) if key is not None else None
        if cached is not None:
            return cached
        text = type_name(type_node)
        if text.endswith("[][]"):
            # PostgreSQL ignores declared array dimensions: format_type prints one [].
            text = text[: text.index("[]")] + "[]"
        parts = strings(type_node.get("names"))
        base = parts[-1] if parts else ""
        if len(parts) == 1:
            if base in SERIAL_TYPES:
                return text
            if base not in PG_TYPES:
                return f"{self.type_schema(base)}.{text}"
        elif len(parts) != 2 or parts[0] != "pg_catalog" or base not in PG_TYPES:
            # Another schema's type, or not one of PostgreSQL's own: not cached.
            return text
        # PostgreSQL's own types print the same whatever the search path: worth remembering.
        if key is not None:
            self.builtin_types[key] = text
        return text

    def type_schema(self, name: str) -> str:
        """The schema an unqualified user type ``name`` is found in (or would be created in)."""
        for schema in self.path:
            key = f"{schema}.{name}"
            if key in self.types or self.relations.get(key) in ROW_TYPE_KINDS:
                return schema
        return self.create_in

    def type_names_key(self, names: list[str]) -> str:
        """The key of a type named ``[schema,] name`` (found on the search path)."""
        if len(names) > 1:
            return f"{names[-2]}.{names[-1]}"
        name = names[-1] if names else ""
        return f"{self.type_schema(name)}.{name}"

    def new_type_key(self, names: list[str]) -> str:
        """The key of a type being created as ``[schema,] name``."""
        if len(names) > 1:
            return f"{names[-2]}.{names[-1]}"
        return f"{self.create_in}.{names[-1] if names else ''}"

    # --- functions -----------------------------------------------------------------------------

    def add_function(self, function: FunctionDraft) -> None:
        """Add (or replace) a function under its key."""
        key = function.key
        self.functions[key] = function
        self.function_names.setdefault(f"{function.schema}.{function.name}", set()).add(key)

    def pop_function(self, key: str) -> FunctionDraft:
        """Take the function ``key`` out of the model."""
        function = self.functions.pop(key)
        self.function_names.get(f"{function.schema}.{function.name}", set()).discard(key)
        return function

    # --- constraint and index names -------------------------------------------------------------

    def take_constraint_name(self, schema: str, name: str) -> None:
        """Note a constraint called ``name`` in ``schema`` (names may repeat across tables)."""
        names = self.constraint_names.setdefault(schema, {})
        names[name] = names.get(name, 0) + 1

    def free_constraint_name(self, schema: str, name: str) -> None:
        """Forget one constraint called ``name`` in ``schema``."""
        names = self.constraint_names.get(schema)
        if names and name in names:
            names[name] -= 1
            if not names[name]:
                del names[name]

    def choose_relation_name(
        self, schema: str, name1: str, name2: str | None, label: str, constraint: bool = False
    ) -> str:
        """``ChooseRelationName``: a relation name free in ``schema`` (and a constraint name
        too, for a constraint's index)."""
        relations = self.relations
        taken = self.constraint_names.get(schema, _NONE_TAKEN) if constraint else _NONE_TAKEN
        first = make_object_name(name1, name2, label)
        if f"{schema}.{first}" not in relations and first not in taken:
            return first
        return choose_name(
            name1, name2, label, lambda name: f"{schema}.{name}" in relations or name in taken
        )

    def choose_constraint_name(self, schema: str, name1: str, name2: str | None, label: str) -> str:
        """``ChooseConstraintName``: a constraint name free in ``schema``."""
        taken = self.constraint_names.get(schema, _NONE_TAKEN)
        first = make_object_name(name1, name2, label)
        if first not in taken:
            return first
        return choose_name(name1, name2, label, taken.__contains__)

    # --- constraints and indexes of a table -----------------------------------------------------

    def store_constraint(self, table: TableDraft, constraint: ConstraintDraft) -> None:
        """Add a constraint to ``table``, replacing one of the same name."""
        previous = table.constraints.get(constraint.name)
        if previous is not None:
            self.remove_constraint(table, previous)
        table.constraints[constraint.name] = constraint
        self.take_constraint_name(table.schema, constraint.name)

    def register_index_constraint(self, table: TableDraft, constraint: ConstraintDraft) -> None:
        """A primary key, unique or exclusion constraint and the index of the same name."""
        self.store_constraint(table, constraint)
        key = f"{table.schema}.{constraint.name}"
        self.relations[key] = "i"
        self.index_table[key] = table.key

    def register_index(self, table: TableDraft | ViewDraft, index: IndexDraft) -> None:
        """Add an index to ``table`` (or a materialized view), its name taken in its schema."""
        key = f"{table.schema}.{index.name}"
        self.relations[key] = "i"
        self.index_table[key] = table.key
        table.indexes[index.name] = index

    def remove_constraint(self, table: TableDraft, constraint: ConstraintDraft) -> None:
        """Drop a constraint from ``table`` (and its index)."""
        table.constraints.pop(constraint.name, None)
        self.free_constraint_name(table.schema, constraint.name)
        if constraint.kind in INDEX_KINDS:
            key = f"{table.schema}.{constraint.name}"
            self.relations.pop(key, None)
            self.index_table.pop(key, None)

    def rename_constraint(self, table: TableDraft, constraint: ConstraintDraft, new: str) -> None:
        """Give ``constraint`` of ``table`` the name ``new`` (its index is the caller's)."""
        del table.constraints[constraint.name]
        self.free_constraint_name(table.schema, constraint.name)
        constraint.name = new
        table.constraints[new] = constraint
        self.take_constraint_name(table.schema, new)

    def set_not_null(self, table: TableDraft, columns: Iterable[str]) -> None:
        """A primary key's columns are NOT NULL."""
        records = table.columns
        for name in columns:
            record = records.get(name)
            if record is not None:
                record["nullable"] = False
