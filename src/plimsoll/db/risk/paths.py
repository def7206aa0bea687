"""``SET search_path`` inside migrations: which table an unqualified name is, statement by statement.

The migrator runs a whole run on one connection, so a migration's ``SET search_path`` holds
for the statements after it and for the later migrations of the run (``SET LOCAL``: until
its migration commits). Without one, names are resolved on the assessment's own session,
which connects as the migrator does (same role, same database, same ``search_path``).

After a ``SET search_path``, each unqualified relation name of the statements that follow is
qualified with the first schema of that path holding a relation of that name (live, or
created earlier in the run), else with the first schema of the path that exists: where
PostgreSQL would find, or create, it. The statements' parse trees are qualified in place (on
copies), so every later step reads ``app.orders`` where the migration wrote ``orders``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from plimsoll.db.sqljson import Node, constant, strings, unwrap

# DROP/COMMENT object kinds whose name list ends with a relation's name, and those whose
# list is ``[table, object]`` (a trigger, policy or rule on a table).
RELATION_OBJECTS = frozenset(
    {
        "OBJECT_TABLE",
        "OBJECT_VIEW",
        "OBJECT_MATVIEW",
        "OBJECT_INDEX",
        "OBJECT_SEQUENCE",
        "OBJECT_FOREIGN_TABLE",
    }
)
_ON_TABLE_OBJECTS = frozenset({"OBJECT_TRIGGER", "OBJECT_POLICY", "OBJECT_RULE", "OBJECT_COLUMN"})
_CREATES = ("CreateStmt", "CreateTableAsStmt", "ViewStmt", "IndexStmt", "CreateSeqStmt")


def search_path_change(kind: str, node: Node) -> tuple[bool, tuple[str, ...] | None] | None:
    """For a ``SET``/``RESET search_path``: (is_local, the new path, None for the default).

    None for any other statement.
    """
    if kind != "VariableSetStmt" or str(node.get("name", "")).lower() != "search_path":
        return None
    local = bool(node.get("is_local"))
    if node.get("kind") != "VAR_SET_VALUE":
        return local, None
    path = tuple(str(constant(arg) or "").strip() for arg in node.get("args") or ())
    return local, tuple(p for p in path if p)


@dataclass(frozen=True)
class Schemas:
    """Where names live: per relation name, the schemas holding one; the schemas that exist."""

    holding: Mapping[str, frozenset[str]] = field(default_factory=dict)
    existing: frozenset[str] = frozenset()
    user: str = ""


@dataclass
class _Path:
    """The run's search_path so far: its session value and a SET LOCAL one (None: default)."""

    session: tuple[str, ...] | None = None
    local: tuple[str, ...] | None = None
    local_set: bool = False

    @property
    def current(self) -> tuple[str, ...] | None:
        return self.local if self.local_set else self.session


def needs_schemas(statements: Iterable[tuple[str, Node]]) -> bool:
    """Whether a statement sets ``search_path`` (only then are schemas looked up)."""
    return any(search_path_change(kind, node) is not None for kind, node in statements)


def names_and_schemas(statements: Iterable[tuple[str, Node]]) -> tuple[list[str], list[str]]:
    """The unqualified relation names, and the schemas the ``SET search_path`` name."""
    names: list[str] = []
    schemas: list[str] = []
    for kind, node in statements:
        change = search_path_change(kind, node)
        if change is not None:
            schemas.extend(change[1] or ())
            continue
        for inner in _range_vars(node):
            names.append(str(inner["relname"]))
        for items in _object_lists(kind, node):
            parts = strings(items)
            if parts:
                names.append(parts[0])
    return list(dict.fromkeys(names)), list(dict.fromkeys(schemas))


def _range_vars(node: Node) -> list[Node]:
    """The RangeVars (wrapped or not) of a tree without a schema name."""
    out: list[Node] = []
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("relname") and not item.get("schemaname"):
                out.append(item)
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(item)
    return out


def _object_lists(kind: str, node: Node) -> list[list[Any]]:
    """The name lists of DROP/COMMENT objects naming a relation (mutable, in the tree)."""
    out: list[list[Any]] = []
    if kind == "DropStmt":
        what = node.get("removeType", "")
        for item in node.get("objects") or ():
            inner_kind, inner = unwrap(item)
            if inner_kind == "List" and isinstance(inner.get("items"), list):
                out.extend(_relation_part(what, inner["items"]))
    elif kind == "CommentStmt":
        inner_kind, inner = unwrap(node.get("object"))
        if inner_kind == "List" and isinstance(inner.get("items"), list):
            out.extend(_relation_part(node.get("objtype", ""), inner["items"]))
    return out


def _relation_part(what: str, items: list[Any]) -> list[list[Any]]:
    # An unqualified relation: [name]; an object on an unqualified table: [table, object].
    if (what in RELATION_OBJECTS and len(items) == 1) or (
        what in _ON_TABLE_OBJECTS and len(items) == 2
    ):
        return [items]
    return []


class Qualifier:
    """Qualifies the unqualified names of a run's statements under its own ``search_path``."""

    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas
        self.path = _Path()
        self.created: dict[str, set[str]] = {}

    def end_migration(self) -> None:
        """A migration committed: its SET LOCAL ends."""
        self.path.local, self.path.local_set = None, False

    def text(self) -> str | None:
        """The path in force as ``search_path`` text (None: the session's own)."""
        path = self.path.current
        return None if path is None else ", ".join(_quoted(p) for p in path)

    def statement(self, kind: str, node: Node) -> Node:
        """The statement's tree with names qualified (a copy; the tree itself when no path)."""
        change = search_path_change(kind, node)
        if change is not None:
            local, path = change
            if local:
                self.path.local, self.path.local_set = path, True
            else:
                self.path.session = path
            return node
        path = self.path.current
        if path is None:
            return node
        tree = copy.deepcopy(node)
        for inner in _range_vars(tree):
            inner["schemaname"] = self._schema(str(inner["relname"]), path)
        for items in _object_lists(kind, tree):
            parts = strings(items)
            if parts:
                items.insert(0, {"String": {"sval": self._schema(parts[0], path)}})
        if kind in _CREATES:
            self._remember(kind, tree)
        return tree

    def _schemas(self, path: Sequence[str]) -> list[str]:
        user = self.schemas.user
        return [user if p == "$user" else p for p in path if p not in ("pg_temp", "pg_catalog")]

    def _schema(self, name: str, path: Sequence[str]) -> str:
        schemas = self._schemas(path)
        holding = self.schemas.holding.get(name, frozenset()) | self.created.get(name, set())
        for schema in schemas:
            if schema in holding:
                return schema
        for schema in schemas:
            if schema in self.schemas.existing:
                return schema
        return schemas[0] if schemas else "public"

    def _remember(self, kind: str, tree: Node) -> None:
        target: Node | None
        if kind == "CreateTableAsStmt":
            target = (tree.get("into") or {}).get("rel")
        elif kind == "ViewStmt":
            target = tree.get("view")
        elif kind in ("CreateStmt", "CreateSeqStmt"):
            target = tree.get("relation") if kind == "CreateStmt" else tree.get("sequence")
        else:  # an index lives in its table's schema
            relation = tree.get("relation") or {}
            if tree.get("idxname") and relation.get("schemaname"):
                self.created.setdefault(str(tree["idxname"]), set()).add(relation["schemaname"])
            return
        if target and target.get("relname") and target.get("schemaname"):
            self.created.setdefault(str(target["relname"]), set()).add(target["schemaname"])


def _quoted(schema: str) -> str:
    if schema.isidentifier() and schema == schema.lower():
        return schema
    return '"' + schema.replace('"', '""') + '"'
