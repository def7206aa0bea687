"""What a lint run knows of the relations and types statements name: partitioned tables,
materialized views, domains.

Some statements are refused by PostgreSQL for what the relation *is*, which the statement alone
does not say: ``CREATE INDEX CONCURRENTLY`` on a partitioned table, ``REFRESH MATERIALIZED VIEW
CONCURRENTLY`` of a view without a unique index covering all its rows (or not populated). Others
cost more for what a type is: ``ADD COLUMN`` of a domain with constraints rewrites the table,
``ALTER COLUMN ... TYPE`` from a domain over ``text`` to ``text`` does not.
:class:`KnownRelations` collects those facts from the live database's catalog (``--env``) and
from every file linted before the statement (schema files, then migrations in order), one
statement at a time, as the :class:`~plimsoll.db.lint.context.StatementContext` advances. A
relation or type it has never seen is unknown, and rules asking about it say nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plimsoll.db.sqljson import Node, strings, type_name, unwrap

if TYPE_CHECKING:
    from plimsoll.db.catalog import Catalog, Index
    from plimsoll.db.sqljson import JsonStatement

# A RangeVar's ``schema.name`` key (the statement context's ``key``).
_KeyOf = Callable[[Node | None], str]
# A key column as pg_get_indexdef prints it: a plain (or quoted) name, not an expression.
_COLUMN_NAME = re.compile(r'^(?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+")$')


@dataclass
class MaterializedView:
    """A materialized view: whether it holds data, and its unique indexes that allow
    ``REFRESH ... CONCURRENTLY`` (on plain columns, no ``WHERE``)."""

    populated: bool = True
    unique_indexes: set[str] = field(default_factory=set)


@dataclass
class Domain:
    """A domain: its base type (as ``format_type`` prints it: another domain's name for a
    domain over a domain), the names of its CHECK constraints, whether it is NOT NULL, and
    where it was seen (``the database``, or the file that made it)."""

    base_type: str
    checks: set[str] = field(default_factory=set)
    not_null: bool = False
    origin: str = "the database"


@dataclass
class KnownRelations:
    """Partitioned tables, materialized views and domains by ``schema.name`` key, and where
    each relation fact came from (``origin``: ``the database``, or the file that made it so)."""

    partitioned: set[str] = field(default_factory=set)
    materialized: dict[str, MaterializedView] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    # The materialized view each usable unique index (by key) is on: DROP INDEX takes it away.
    index_view: dict[str, str] = field(default_factory=dict)
    domains: dict[str, Domain] = field(default_factory=dict)

    @classmethod
    def of_catalog(cls, catalog: Catalog) -> KnownRelations:
        """What a live database's catalog says (a materialized view is taken as populated:
        introspection does not read ``relispopulated``)."""
        known = cls()
        for key, domain in catalog.domains.items():
            checks = {constraint.name for constraint in domain.constraints}
            known.domains[key] = Domain(domain.base_type, checks, domain.not_null)
        for key in catalog.partitioned:
            known.partitioned.add(key)
            known.origin[key] = "the database"
        for key, view in catalog.views.items():
            if not view.materialized:
                continue
            entry = known.materialized[key] = MaterializedView()
            known.origin[key] = "the database"
            for index in view.indexes:
                if usable_unique(index):
                    index_key = f"{view.schema}.{index.name}"
                    entry.unique_indexes.add(index_key)
                    known.index_view[index_key] = key
        return known

    def take(self, statement: JsonStatement, key_of: _KeyOf, schema: str, where: str) -> None:
        """Follow ``statement`` (of the file shown as ``where``; ``key_of`` gives a RangeVar's
        key, ``schema`` is the default schema)."""
        kind, node = statement.kind, statement.node
        if kind == "CreateStmt":
            key = key_of(node.get("relation"))
            self._forget(key)
            if node.get("partspec"):
                self.partitioned.add(key)
                self.origin[key] = where
        elif kind == "CreateTableAsStmt" and node.get("objtype") == "OBJECT_MATVIEW":
            into = node.get("into") or {}
            key = key_of(into.get("rel"))
            self._forget(key)
            self.materialized[key] = MaterializedView(populated=not into.get("skipData"))
            self.origin[key] = where
        elif kind == "IndexStmt":
            self._index(statement, key_of, schema)
        elif kind == "RefreshMatViewStmt":
            view = self.materialized.get(key_of(node.get("relation")))
            if view is not None and not node.get("concurrent"):
                view.populated = not node.get("skipData")
        elif kind == "DropStmt":
            self._drop(node, schema)
        elif kind == "RenameStmt" and node.get("renameType") in ("OBJECT_TABLE", "OBJECT_MATVIEW"):
            old = key_of(node.get("relation"))
            new = f"{old.split('.', 1)[0]}.{node.get('newname', '')}"
            self._move(old, new)
        elif kind == "RenameStmt" and node.get("renameType") == "OBJECT_DOMAIN":
            _, names = unwrap(node.get("object"))
            old = _type_key(strings(names.get("items")), schema)
            domain = self.domains.pop(old, None)
            if domain is not None:
                self.domains[f"{old.split('.', 1)[0]}.{node.get('newname', '')}"] = domain
        elif kind == "CreateDomainStmt":
            self._create_domain(node, schema, where)
        elif kind == "AlterDomainStmt":
            self._alter_domain(node, schema)

    def _create_domain(self, node: Node, schema: str, where: str) -> None:
        names = strings(node.get("domainname"))
        if not names:
            return
        domain = Domain(type_name(node.get("typeName")), origin=where)
        for item in node.get("constraints") or ():
            _, constraint = unwrap(item)
            _constrain(domain, constraint, names[-1])
        self.domains[_type_key(names, schema)] = domain

    def _alter_domain(self, node: Node, schema: str) -> None:
        names = strings(node.get("typeName"))
        domain = self.domains.get(_type_key(names, schema)) if names else None
        if domain is None:
            return
        subtype = node.get("subtype")
        if subtype == "C":
            _, constraint = unwrap(node.get("def"))
            _constrain(domain, constraint, names[-1])
        elif subtype == "X":
            domain.checks.discard(node.get("name", ""))
        elif subtype in ("N", "O"):
            domain.not_null = subtype == "O"

    def domain(self, type_node: Node | None, schema: str) -> tuple[str, Domain] | None:
        """The domain a column's TypeName names, with its key (not an array of one: an array
        type is no domain), searched in ``schema`` then ``public`` when unqualified."""
        if not type_node or type_node.get("arrayBounds"):
            return None
        return self.domain_named(strings(type_node.get("names")), schema)

    def domain_named(self, names: list[str], schema: str) -> tuple[str, Domain] | None:
        """The domain of a type name given as its parts (``["app", "zip"]``), or None."""
        if not names or len(names) > 2 or (len(names) == 2 and names[0] == "pg_catalog"):
            return None
        keys = (
            [".".join(names)] if len(names) == 2 else [f"{schema}.{names[0]}", f"public.{names[0]}"]
        )
        for key in keys:
            domain = self.domains.get(key)
            if domain is not None:
                return key, domain
        return None

    def domain_of_type(self, written: str, schema: str) -> tuple[str, Domain] | None:
        """The domain a type as ``format_type`` prints it names (``zip``, ``app."Zip"``)."""
        if written.endswith("]") or "(" in written:
            return None
        return self.domain_named(_type_parts(written), schema)

    def constrained(self, key: str, schema: str) -> bool:
        """Whether values of domain ``key`` are checked: a CHECK or NOT NULL of its own or of
        a domain it is based on."""
        seen: set[str] = set()
        found: tuple[str, Domain] | None = (key, self.domains[key]) if key in self.domains else None
        while found is not None and found[0] not in seen:
            seen.add(found[0])
            domain = found[1]
            if domain.checks or domain.not_null:
                return True
            found = self.domain_of_type(domain.base_type, schema)
        return False

    def base_type(self, written: str, schema: str) -> str:
        """``written`` with every domain replaced by the type it is based on, as
        ``format_type`` prints it (itself when it names no known domain)."""
        seen: set[str] = set()
        found = self.domain_of_type(written, schema)
        while found is not None and found[0] not in seen:
            seen.add(found[0])
            written = found[1].base_type
            found = self.domain_of_type(written, schema)
        return written

    def _index(self, statement: JsonStatement, key_of: _KeyOf, schema: str) -> None:
        node = statement.node
        view_key = key_of(node.get("relation"))
        view = self.materialized.get(view_key)
        if view is None or not node.get("unique") or node.get("whereClause"):
            return
        for param in node.get("indexParams") or ():
            _, element = unwrap(param)
            if element.get("expr") is not None or not element.get("name"):
                return
        name = node.get("idxname")
        relation_schema = (node.get("relation") or {}).get("schemaname") or schema
        # An unnamed index gets a name PostgreSQL makes up: no DROP here can name it.
        index_key = f"{relation_schema}.{name}" if name else f"{view_key}#{statement.index}"
        view.unique_indexes.add(index_key)
        self.index_view[index_key] = view_key

    def _drop(self, node: Node, schema: str) -> None:
        what = node.get("removeType")
        if what == "OBJECT_DOMAIN":
            for item in node.get("objects") or ():
                _, type_node = unwrap(item)
                self.domains.pop(_type_key(strings(type_node.get("names")), schema), None)
            return
        for item in node.get("objects") or ():
            kind, inner = unwrap(item)
            names = strings(inner.get("items")) if kind == "List" else [inner.get("sval", "")]
            key = ".".join(names[-2:]) if len(names) > 1 else f"{schema}.{names[0]}"
            if what == "OBJECT_INDEX":
                view_key = self.index_view.pop(key, None)
                if view_key in self.materialized:
                    self.materialized[view_key].unique_indexes.discard(key)
            elif what in ("OBJECT_TABLE", "OBJECT_MATVIEW"):
                self._forget(key)

    def _forget(self, key: str) -> None:
        self.partitioned.discard(key)
        self.materialized.pop(key, None)
        self.origin.pop(key, None)

    def _move(self, old: str, new: str) -> None:
        if old in self.partitioned:
            self.partitioned.discard(old)
            self.partitioned.add(new)
        if old in self.materialized:
            self.materialized[new] = self.materialized.pop(old)
            for index_key, view_key in self.index_view.items():
                if view_key == old:
                    self.index_view[index_key] = new
        if old in self.origin:
            self.origin[new] = self.origin.pop(old)


def _type_key(names: list[str], schema: str) -> str:
    """The ``schema.name`` key of a type name's parts (in ``schema`` when unqualified)."""
    return ".".join(names[-2:]) if len(names) > 1 else f"{schema}.{names[0] if names else ''}"


def _type_parts(written: str) -> list[str]:
    """The parts of a type name as ``format_type`` prints it: ``app."My Zip"`` is
    ``["app", "My Zip"]`` (quotes taken off, a dot inside quotes kept)."""
    parts: list[str] = []
    current = ""
    quoted = False
    index = 0
    while index < len(written):
        char = written[index]
        if char == '"':
            if quoted and written[index + 1 : index + 2] == '"':
                current += '"'
                index += 1
            else:
                quoted = not quoted
        elif char == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
        index += 1
    parts.append(current)
    return parts


def usable_unique(index: Index) -> bool:
    """Whether a catalog index lets ``REFRESH ... CONCURRENTLY`` run: unique, on plain columns,
    covering every row (no ``WHERE``)."""
    return (
        index.unique
        and index.predicate is None
        and bool(index.columns)
        and all(_COLUMN_NAME.match(column) for column in index.columns)
    )


def _constrain(domain: Domain, constraint: Node, name: str) -> None:
    """Apply a constraint of CREATE DOMAIN or ALTER DOMAIN ... ADD to ``domain`` (named ``name``)."""
    contype = constraint.get("contype")
    if contype == "CONSTR_CHECK":
        # An unnamed one is named as PostgreSQL names it.
        domain.checks.add(constraint.get("conname") or f"{name}_check")
    elif contype == "CONSTR_NOTNULL":
        domain.not_null = True
    elif contype == "CONSTR_NULL":
        domain.not_null = False
