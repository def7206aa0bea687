"""What a lint run knows of the relations statements name: partitioned tables, materialized views.

Some statements are refused by PostgreSQL for what the relation *is*, which the statement alone
does not say: ``CREATE INDEX CONCURRENTLY`` on a partitioned table, ``REFRESH MATERIALIZED VIEW
CONCURRENTLY`` of a view without a unique index covering all its rows (or not populated).
:class:`KnownRelations` collects those facts from the live database's catalog (``--env``) and
from every file linted before the statement (schema files, then migrations in order), one
statement at a time, as the :class:`~plimsoll.db.lint.context.StatementContext` advances. A
relation it has never seen is unknown, and rules asking about it say nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plimsoll.db.sqljson import Node, strings, unwrap

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
class KnownRelations:
    """Partitioned tables and materialized views by ``schema.name`` key, and where each fact
    came from (``origin``: ``the database``, or the file that made it so)."""

    partitioned: set[str] = field(default_factory=set)
    materialized: dict[str, MaterializedView] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    # The materialized view each usable unique index (by key) is on: DROP INDEX takes it away.
    index_view: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_catalog(cls, catalog: Catalog) -> KnownRelations:
        """What a live database's catalog says (a materialized view is taken as populated:
        introspection does not read ``relispopulated``)."""
        known = cls()
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


def usable_unique(index: Index) -> bool:
    """Whether a catalog index lets ``REFRESH ... CONCURRENTLY`` run: unique, on plain columns,
    covering every row (no ``WHERE``)."""
    return (
        index.unique
        and index.predicate is None
        and bool(index.columns)
        and all(_COLUMN_NAME.match(column) for column in index.columns)
    )
