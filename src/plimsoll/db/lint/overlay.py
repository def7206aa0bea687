"""The live database with the linted files applied on top: what the schema rules check with
``--env`` and files.

The static DDL builder (:mod:`plimsoll.db.ddl`) starts from an empty database. To start it
from a live one, the introspected catalog is written out as DDL with the differ
(:func:`plimsoll.db.diff.engine.diff` from an empty build to the live catalog, the same DDL
``plimsoll db diff`` writes) and that script is applied first, as if it were a file named
:data:`DATABASE_SOURCE`; the linted files follow. Objects that come from it are the
database's: their findings carry no file, only the object, as a lint of the live database
alone gives them.

Nothing is dropped silently. What cannot be carried over is said in the report: an object
the differ writes no DDL for, an object that the rebuilt catalog lacks or has in excess
compared with the live one (the catalog is built, then compared with the live one again:
texts PostgreSQL prints differently, a view's query or an index predicate, do not count),
and a statement of a file that changes a relation neither the database nor an earlier file
has (PostgreSQL would refuse it; the builder leaves it out).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plimsoll.db.sqljson import JsonScript, JsonStatement, Node, constant, relation_key

if TYPE_CHECKING:
    from plimsoll.db.catalog import Catalog

DATABASE_SOURCE = "<database>"
# Statement kinds that change a relation that must exist, and where its RangeVar is.
_CHANGES = {"AlterTableStmt": "relation", "IndexStmt": "relation", "CreateTrigStmt": "relation"}
_WORDS = {
    "AlterTableStmt": "ALTER TABLE",
    "IndexStmt": "CREATE INDEX",
    "CreateTrigStmt": "CREATE TRIGGER",
}
# Statement kinds that create a relation, and the path to its RangeVar.
_CREATES = {
    "CreateStmt": ("relation",),
    "CreateTableAsStmt": ("into", "rel"),
    "ViewStmt": ("view",),
    "CreateSeqStmt": ("sequence",),
    "CompositeTypeStmt": ("typevar",),
}


@dataclass(frozen=True)
class DatabaseScript:
    """The live catalog as a DDL script, and what could not be written as DDL."""

    script: JsonScript
    problems: tuple[str, ...] = ()


def database_script(live: Catalog) -> DatabaseScript:
    """The DDL that builds ``live`` from an empty database, parsed, named
    :data:`DATABASE_SOURCE`."""
    from plimsoll.db.ddl import CatalogBuilder
    from plimsoll.db.diff.engine import diff
    from plimsoll.db.diff.write import migration_sql
    from plimsoll.db.sqljson import parse_json

    changes = diff(CatalogBuilder().catalog(), live)
    missing = [c for c in changes if not c.steps and not c.covered_by]
    problems = tuple(
        f"the database's {c.object_type} {c.name} cannot be written as DDL ({c.detail}): the"
        " schema rules check the files without it"
        for c in missing
    )
    up, _ = migration_sql(c for c in changes if c.steps or c.covered_by)
    return DatabaseScript(parse_json(up, DATABASE_SOURCE), problems)


def lost_objects(live: Catalog, rebuilt: Catalog) -> list[str]:
    """What the catalog rebuilt from the database's DDL lacks or adds, compared with ``live``
    (objects only: texts PostgreSQL prints differently are not differences that matter)."""
    from plimsoll.db.diff.engine import diff
    from plimsoll.db.diff.model import ChangeKind

    out = []
    for change in diff(live, rebuilt):
        if change.kind is ChangeKind.REMOVED:
            out.append(
                f"the database's {change.object_type} {change.name} could not be rebuilt: the"
                " schema rules check the files without it"
            )
        elif change.kind is ChangeKind.ADDED:
            out.append(
                f"rebuilding the database's schema made a {change.object_type} {change.name}"
                " it does not have: findings about it may not hold for the database"
            )
    return out


@dataclass
class RelationTracker:
    """Follows which relations exist as the files are applied on top of the database, and says
    which statements change a relation that exists nowhere."""

    known: set[str] = field(default_factory=set)
    # Unqualified names known in any schema: an unqualified reference may find them on the
    # search path.
    names: set[str] = field(default_factory=set)
    default_schema: str = "public"
    problems: list[str] = field(default_factory=list)

    @classmethod
    def of_catalog(cls, catalog: Catalog) -> RelationTracker:
        """The relations of ``catalog`` (tables, views, sequences, composite types)."""
        tracker = cls()
        groups: Iterable[Iterable[str]] = (
            catalog.tables,
            catalog.partitioned,
            catalog.partitions,
            catalog.views,
            catalog.sequences,
            catalog.composites,
        )
        for group in groups:
            for key in group:
                tracker._add(key)
        return tracker

    def _add(self, key: str) -> None:
        self.known.add(key)
        self.names.add(key.rsplit(".", 1)[-1])

    def take(self, statement: JsonStatement, script: JsonScript) -> bool:
        """Whether ``statement`` of ``script`` can be applied (noting why not when it cannot),
        and follow what it creates."""
        kind, node = statement.kind, statement.node
        if kind == "VariableSetStmt" and node.get("name") == "search_path" and node.get("args"):
            self.default_schema = str(constant(node["args"][0]))
            return True
        path = _CREATES.get(kind)
        if path is not None:
            target: Node = node
            for step in path:
                target = target.get(step) or {}
            if target:
                self._add(relation_key(target, self.default_schema))
            return True
        if kind == "RenameStmt" and node.get("relation") and node.get("newname"):
            if node.get("renameType") in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW"):
                schema = relation_key(node["relation"], self.default_schema).split(".", 1)[0]
                self._add(f"{schema}.{node['newname']}")
            return True
        field_name = _CHANGES.get(kind)
        if field_name is None:
            return True
        if kind == "AlterTableStmt" and node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
            return True
        range_var = node.get(field_name) or {}
        if range_var.get("schemaname"):
            exists = relation_key(range_var, self.default_schema) in self.known
        else:
            exists = range_var.get("relname", "") in self.names
        if exists or node.get("missing_ok"):
            return True
        line, _ = script.line_column(statement.start)
        self.problems.append(
            f"{script.source}:{line}: {_WORDS[kind]} on"
            f" {relation_key(range_var, self.default_schema)}, which neither the database nor"
            " an earlier file has: not applied to the schema the schema rules check"
        )
        return False
