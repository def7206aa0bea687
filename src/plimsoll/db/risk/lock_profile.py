"""The lock profile: what each kind of statement locks and does, by PostgreSQL version.

This is the table of the design (from the PostgreSQL documentation on explicit locking and
each command's page), as code. :func:`profile` reads one statement's JSON parse tree and
returns its :class:`~plimsoll.db.risk.operations.StatementProfile`:

================================  ============================  =================================
statement                         lock (on what)                work
================================  ============================  =================================
ALTER TABLE                       see ``alter_table``           see ``alter_table``
CREATE INDEX                      SHARE (blocks writes)         index build
CREATE INDEX CONCURRENTLY         SHARE UPDATE EXCLUSIVE        index build, no transaction block
DROP INDEX [CONCURRENTLY]         ACCESS EXCLUSIVE [SUE]        catalog
REINDEX [CONCURRENTLY, 12+]       SHARE [SUE] on the table      index build
CREATE TRIGGER                    SHARE ROW EXCLUSIVE           catalog
CREATE/ALTER POLICY, CREATE RULE  ACCESS EXCLUSIVE              catalog
DROP TABLE/VIEW/TRIGGER/...       ACCESS EXCLUSIVE              catalog
TRUNCATE                          ACCESS EXCLUSIVE              catalog (files replaced)
CLUSTER, VACUUM FULL              ACCESS EXCLUSIVE              rewrite
VACUUM, ANALYZE                   SHARE UPDATE EXCLUSIVE        scan (VACUUM: no transaction)
REFRESH MATERIALIZED VIEW         ACCESS EXCLUSIVE              rewrite
  ... CONCURRENTLY                EXCLUSIVE (reads go on)       rewrite
RENAME (index: SUE since 12)      ACCESS EXCLUSIVE              catalog
CREATE TABLE ... REFERENCES       SHARE ROW EXCLUSIVE (parent)  catalog
CREATE TABLE ... PARTITION OF     ACCESS EXCLUSIVE (parent)     catalog
CREATE OR REPLACE VIEW            ACCESS EXCLUSIVE (the view)   catalog
CREATE TABLE AS, SELECT INTO      (new table)                   rows (planner estimate)
INSERT/UPDATE/DELETE/MERGE        ROW EXCLUSIVE                 rows (planner estimate)
LOCK TABLE                        the mode named                catalog
COMMENT ON, CREATE STATISTICS     SHARE UPDATE EXCLUSIVE        catalog
CREATE FUNCTION/TYPE/SCHEMA/...   none on tables                catalog
anything else (DO, CALL, ...)     worst case: ACCESS EXCLUSIVE  unknown (a rewrite)
================================  ============================  =================================

Relations created earlier in the same migration are the caller's business (nobody else sees
them before the commit): the profile describes the statement alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from plimsoll.db.risk.alter_table import AE, CONCURRENT_INDEX, SRE, SUE, alter_table, name_of
from plimsoll.db.risk.locks import LockLevel
from plimsoll.db.risk.operations import (
    Knowledge,
    StatementProfile,
    TableLock,
    Work,
    WorkKind,
    shown,
)
from plimsoll.db.sqljson import Node, strings, unwrap

Handler = Callable[[Node, Knowledge], StatementProfile]

SHARE = LockLevel.SHARE
RE = LockLevel.ROW_EXCLUSIVE
ATTACH_INSTEAD = (
    "create the partition as a plain table (LIKE the parent) with a CHECK matching its bound,"
    " then ATTACH PARTITION: SHARE UPDATE EXCLUSIVE on the parent instead of ACCESS EXCLUSIVE"
)
PARTITIONED_INDEX = (
    "create the index ON ONLY the partitioned table, then CONCURRENTLY on each partition, and"
    " ALTER INDEX ... ATTACH PARTITION each (CONCURRENTLY is refused on a partitioned table)"
)


def profile(kind: str, node: Node, knowledge: Knowledge | None = None) -> StatementProfile:
    """The lock profile of one statement (its node type and JSON fields).

    An unknown kind is the worst case: ACCESS EXCLUSIVE and a rewrite of every relation it
    names (or of unknown relations), and its notes say so.
    """
    knowledge = knowledge or Knowledge()
    handler = _HANDLERS.get(kind)
    if handler is not None:
        return handler(node, knowledge)
    if kind in _CATALOG:
        return StatementProfile(kind, _CATALOG[kind], work=(Work(WorkKind.CATALOG),))
    return unknown(kind, node)


def unknown(kind: str, node: Node | None = None, why: str | None = None) -> StatementProfile:
    """The worst case for a statement the profile cannot read."""
    names = _relations_named(node or {})
    reason = why or f"{_words(kind)} is not in the lock profile"
    return StatementProfile(
        kind,
        _words(kind),
        locks=tuple(TableLock(name, AE) for name in names),
        work=tuple(Work(WorkKind.UNKNOWN, name) for name in names) or (Work(WorkKind.UNKNOWN),),
        known=False,
        notes=(
            f"{reason}: treated as the worst case (ACCESS EXCLUSIVE, every row rewritten"
            + (f" in {', '.join(names)}" if names else " in the tables it touches")
            + ")",
        ),
    )


@dataclass(frozen=True)
class ScopeLock:
    """A lock a statement takes on tables it does not name (each in turn, or all at once).

    ``scope`` says which tables, in words (``every table of the database``).
    """

    level: LockLevel
    scope: str


def unnamed_tables(kind: str, node: Node, knowledge: Knowledge | None = None) -> ScopeLock | None:
    """The lock taken on tables a statement reaches without naming them, or None.

    These are the statements :func:`profile` can only give as the worst case, since it cannot
    say which tables they touch: ``VACUUM FULL`` and ``CLUSTER`` without a table (ACCESS
    EXCLUSIVE on every table they rewrite), ``REINDEX SCHEMA/DATABASE/SYSTEM`` (SHARE on each
    table in turn; SHARE UPDATE EXCLUSIVE with ``CONCURRENTLY`` since 12) and ``DROP SCHEMA
    ... CASCADE`` (ACCESS EXCLUSIVE on every table it drops).
    """
    knowledge = knowledge or Knowledge()
    if kind == "VacuumStmt":
        options = {unwrap(i)[1].get("defname", "") for i in node.get("options") or ()}
        if node.get("is_vacuumcmd") and "full" in options and not node.get("rels"):
            return ScopeLock(AE, "every table of the database")
    elif kind == "ClusterStmt" and not node.get("relation"):
        return ScopeLock(AE, "every clustered table")
    elif kind == "ReindexStmt" and node.get("kind") not in _NAMED_REINDEX:
        params = {unwrap(i)[1].get("defname", "") for i in node.get("params") or ()}
        concurrent = "concurrently" in params and knowledge.pg_version >= 12
        return ScopeLock(SUE if concurrent else SHARE, node.get("name") or "the current database")
    elif kind == "DropStmt":
        if node.get("removeType") == "OBJECT_SCHEMA" and node.get("behavior") == "DROP_CASCADE":
            schemas = [".".join(_dotted(item)) for item in node.get("objects") or ()]
            return ScopeLock(AE, ", ".join(schemas))
    return None


_NAMED_REINDEX = frozenset({"REINDEX_OBJECT_TABLE", "REINDEX_OBJECT_INDEX"})


def _words(kind: str) -> str:
    words = kind.removesuffix("Stmt")
    return {"Do": "DO block", "Call": "CALL", "Python": "Python migration"}.get(words, words)


def _relations_named(node: Node) -> list[str]:
    from plimsoll.db.sqljson import walk

    found: list[str] = []
    for kind, inner in walk(node):
        if kind == "RangeVar":
            name = name_of(inner)
            if name and name not in found:
                found.append(name)
    relation = name_of(node.get("relation")) if isinstance(node.get("relation"), dict) else None
    if relation and relation not in found:
        found.insert(0, relation)
    return found


def _simple(kind: str, action: str, level: LockLevel, field: str = "relation") -> Handler:
    def handler(node: Node, knowledge: Knowledge) -> StatementProfile:
        """The statement's one lock, on the relation in ``field``."""
        table = name_of(node.get(field))
        locks = (TableLock(table, level),) if table else ()
        return StatementProfile(kind, action, locks, (Work(WorkKind.CATALOG, table),))

    return handler


def _index(node: Node, knowledge: Knowledge) -> StatementProfile:
    table = name_of(node.get("relation"))
    columns: list[str] = []
    expressions = False
    for item in node.get("indexParams") or ():
        _, element = unwrap(item)
        if element.get("name"):
            columns.append(element["name"])
        else:
            expressions = True
    keys = None if expressions else tuple(columns)
    unique = "UNIQUE " if node.get("unique") else ""
    if table in knowledge.partitioned:
        return _partitioned_index(node, table, unique, keys)
    if node.get("concurrent"):
        return StatementProfile(
            "IndexStmt",
            f"CREATE {unique}INDEX CONCURRENTLY ON {shown(table)}",
            (TableLock(table, SUE),) if table else (),
            (Work(WorkKind.INDEX_BUILD, table, concurrent=True, columns=keys),),
            concurrently=True,
            notes=(
                "CREATE INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE: reads and writes go on; "
                "it scans the table twice, waits for running transactions, and cannot run in a "
                "transaction block (a failure leaves an INVALID index to drop)",
            ),
        )
    return StatementProfile(
        "IndexStmt",
        f"CREATE {unique}INDEX ON {shown(table)}",
        (TableLock(table, SHARE),) if table else (),
        (Work(WorkKind.INDEX_BUILD, table, columns=keys),),
        notes=("CREATE INDEX takes SHARE: writes wait until the index is built; reads go on",),
        recommendations=(CONCURRENT_INDEX,),
    )


def _partitioned_index(
    node: Node, table: str, unique: str, keys: tuple[str, ...] | None
) -> StatementProfile:
    """CREATE INDEX on a partitioned table: ON ONLY the parent (an empty, invalid index at
    once), or on the parent and every partition; CONCURRENTLY is refused."""
    if not (node.get("relation") or {}).get("inh"):
        return StatementProfile(
            "IndexStmt",
            f"CREATE {unique}INDEX ON ONLY {shown(table)}",
            (TableLock(table, SHARE),),
            (Work(WorkKind.CATALOG, table),),
            notes=(
                "ON ONLY a partitioned table: the index is made at once, empty and invalid; it"
                " becomes valid when every partition's index is attached (ALTER INDEX ..."
                " ATTACH PARTITION)",
            ),
        )
    if node.get("concurrent"):
        return unknown(
            "IndexStmt",
            node,
            "PostgreSQL refuses CREATE INDEX CONCURRENTLY on a partitioned table: this"
            " statement fails",
        )
    return StatementProfile(
        "IndexStmt",
        f"CREATE {unique}INDEX ON {shown(table)}",
        (TableLock(table, SHARE),),
        (Work(WorkKind.INDEX_BUILD, table, columns=keys),),
        notes=(
            "CREATE INDEX on a partitioned table builds it on every partition, each under SHARE:"
            " writes wait until it is built",
        ),
        recommendations=(PARTITIONED_INDEX,),
    )


_DROPPED_RELATIONS = {
    "OBJECT_TABLE": "TABLE",
    "OBJECT_VIEW": "VIEW",
    "OBJECT_MATVIEW": "MATERIALIZED VIEW",
    "OBJECT_FOREIGN_TABLE": "FOREIGN TABLE",
    "OBJECT_SEQUENCE": "SEQUENCE",
}
_DROPPED_ON_TABLE = {"OBJECT_TRIGGER": "TRIGGER", "OBJECT_POLICY": "POLICY", "OBJECT_RULE": "RULE"}


def _dotted(item: object) -> list[str]:
    kind, inner = unwrap(item)
    if kind == "List":
        return strings(inner.get("items"))
    if kind == "String":
        return [inner.get("sval", "")]
    return []


def _drop(node: Node, knowledge: Knowledge) -> StatementProfile:
    kind = node.get("removeType", "")
    cascade = node.get("behavior") == "DROP_CASCADE"
    notes = ["CASCADE also drops what depends on it"] if cascade else []
    names = [".".join(_dotted(item)) for item in node.get("objects") or ()]
    if kind == "OBJECT_INDEX":
        parted = [n for n in names if n in knowledge.partitioned]
        if parted and node.get("concurrent"):
            return unknown(
                "DropStmt",
                node,
                f"PostgreSQL refuses DROP INDEX CONCURRENTLY on {', '.join(parted)}, a"
                " partitioned table's index: this statement fails",
            )
        if parted:
            return StatementProfile(
                "DropStmt",
                "DROP INDEX",
                tuple(TableLock(n, AE, via_index=True) for n in names),
                (Work(WorkKind.CATALOG),),
                notes=(
                    "DROP INDEX of a partitioned table's index takes ACCESS EXCLUSIVE on the"
                    " table and its partitions; it cannot be dropped CONCURRENTLY: set a short"
                    " lock_timeout",
                    *notes,
                ),
            )
        if node.get("concurrent"):
            return StatementProfile(
                "DropStmt",
                "DROP INDEX CONCURRENTLY",
                tuple(TableLock(n, SUE, via_index=True) for n in names),
                (Work(WorkKind.CATALOG),),
                concurrently=True,
                notes=tuple(notes),
            )
        return StatementProfile(
            "DropStmt",
            "DROP INDEX",
            tuple(TableLock(n, AE, via_index=True) for n in names),
            (Work(WorkKind.CATALOG),),
            notes=("DROP INDEX takes ACCESS EXCLUSIVE on the index's table", *notes),
            recommendations=("DROP INDEX CONCURRENTLY (in a migration of its own)",),
        )
    if kind in _DROPPED_RELATIONS:
        return StatementProfile(
            "DropStmt",
            f"DROP {_DROPPED_RELATIONS[kind]} {', '.join(shown(n) for n in names)}"
            + (" CASCADE" if cascade else ""),
            tuple(TableLock(n, AE, dropped=True) for n in names),
            tuple(Work(WorkKind.CATALOG, n) for n in names),
            notes=tuple(notes),
        )
    if kind in _DROPPED_ON_TABLE:
        tables = [".".join(_dotted(item)[:-1]) for item in node.get("objects") or ()]
        return StatementProfile(
            "DropStmt",
            f"DROP {_DROPPED_ON_TABLE[kind]}",
            tuple(TableLock(t, AE) for t in tables if t),
            (Work(WorkKind.CATALOG),),
            notes=tuple(notes),
        )
    if kind == "OBJECT_SCHEMA" and cascade:
        return unknown(
            "DropStmt", None, "DROP SCHEMA ... CASCADE drops tables the statement does not name"
        )
    what = kind.removeprefix("OBJECT_").replace("_", " ")
    return StatementProfile(
        "DropStmt", f"DROP {what}", (), (Work(WorkKind.CATALOG),), notes=tuple(notes)
    )


def _relations(node: Node, field: str) -> list[str]:
    out: list[str] = []
    for item in node.get(field) or ():
        kind, inner = unwrap(item)
        if kind == "VacuumRelation":
            inner = inner.get("relation") or {}
        name = name_of(inner)
        if name:
            out.append(name)
    return out


def _truncate(node: Node, knowledge: Knowledge) -> StatementProfile:
    tables = _relations(node, "relations")
    return StatementProfile(
        "TruncateStmt",
        "TRUNCATE "
        + ", ".join(shown(t) for t in tables)
        + (" CASCADE" if node.get("behavior") == "DROP_CASCADE" else ""),
        tuple(TableLock(t, AE, emptied=True) for t in tables),
        tuple(Work(WorkKind.CATALOG, t) for t in tables),
        notes=("TRUNCATE takes ACCESS EXCLUSIVE but only replaces the files: it is quick",),
    )


def _vacuum(node: Node, knowledge: Knowledge) -> StatementProfile:
    options = {unwrap(i)[1].get("defname", "") for i in node.get("options") or ()}
    tables = _relations(node, "rels")
    if not node.get("is_vacuumcmd"):
        return StatementProfile(
            "VacuumStmt",
            "ANALYZE",
            tuple(TableLock(t, SUE) for t in tables),
            tuple(Work(WorkKind.CATALOG, t) for t in tables) or (Work(WorkKind.CATALOG),),
            notes=("ANALYZE reads a sample of rows under SHARE UPDATE EXCLUSIVE",),
        )
    if "full" in options:
        if not tables:
            return unknown("VacuumStmt", None, "VACUUM FULL without a table rewrites every table")
        return StatementProfile(
            "VacuumStmt",
            "VACUUM FULL " + ", ".join(shown(t) for t in tables),
            tuple(TableLock(t, AE) for t in tables),
            tuple(Work(WorkKind.REWRITE, t) for t in tables),
            notes=("VACUUM FULL rewrites the table under ACCESS EXCLUSIVE",),
            recommendations=(
                "use pg_repack or pg_squeeze, or a plain VACUUM, which blocks nothing",
            ),
        )
    return StatementProfile(
        "VacuumStmt",
        "VACUUM",
        tuple(TableLock(t, SUE) for t in tables),
        tuple(Work(WorkKind.SCAN, t, concurrent=True) for t in tables) or (Work(WorkKind.CATALOG),),
        concurrently=True,
        notes=("VACUUM takes SHARE UPDATE EXCLUSIVE and cannot run in a transaction block",),
    )


def _cluster(node: Node, knowledge: Knowledge) -> StatementProfile:
    table = name_of(node.get("relation"))
    if table is None:
        return unknown(
            "ClusterStmt", None, "CLUSTER without a table rewrites every clustered table"
        )
    return StatementProfile(
        "ClusterStmt",
        f"CLUSTER {shown(table)}",
        (TableLock(table, AE),),
        (Work(WorkKind.REWRITE, table),),
        notes=("CLUSTER rewrites the table in index order under ACCESS EXCLUSIVE",),
        recommendations=("use pg_repack, which reorders a table without the long lock",),
    )


def _refresh(node: Node, knowledge: Knowledge) -> StatementProfile:
    view = name_of(node.get("relation"))
    locks_on = (view,) if view else ()
    if node.get("concurrent"):
        return StatementProfile(
            "RefreshMatViewStmt",
            "REFRESH MATERIALIZED VIEW CONCURRENTLY",
            tuple(TableLock(v, LockLevel.EXCLUSIVE) for v in locks_on),
            (Work(WorkKind.REWRITE, view),),
            concurrently=True,
            notes=("CONCURRENTLY takes EXCLUSIVE: the view stays readable while it is refreshed",),
        )
    return StatementProfile(
        "RefreshMatViewStmt",
        "REFRESH MATERIALIZED VIEW",
        tuple(TableLock(v, AE) for v in locks_on),
        (Work(WorkKind.REWRITE, view),),
        notes=("REFRESH MATERIALIZED VIEW blocks reads of the view until its query is rerun",),
        recommendations=("REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index)",),
    )


def _reindex(node: Node, knowledge: Knowledge) -> StatementProfile:
    params = {unwrap(i)[1].get("defname", "") for i in node.get("params") or ()}
    kind = node.get("kind", "")
    relation = name_of(node.get("relation"))
    concurrent = "concurrently" in params and knowledge.pg_version >= 12
    if kind not in ("REINDEX_OBJECT_TABLE", "REINDEX_OBJECT_INDEX") or relation is None:
        return unknown(
            "ReindexStmt", None, f"REINDEX {kind.removeprefix('REINDEX_OBJECT_')} names no table"
        )
    via_index = kind == "REINDEX_OBJECT_INDEX"
    level = SUE if concurrent else SHARE
    notes = []
    if via_index and not concurrent:
        notes.append("REINDEX INDEX also locks the index ACCESS EXCLUSIVE: reads using it wait")
    elif not concurrent:
        notes.append(
            "REINDEX TABLE also locks each index ACCESS EXCLUSIVE while rebuilding it: reads "
            "using that index wait"
        )
    return StatementProfile(
        "ReindexStmt",
        "REINDEX" + (" CONCURRENTLY" if concurrent else ""),
        (TableLock(relation, level, via_index=via_index),),
        (
            Work(
                WorkKind.INDEX_BUILD,
                relation,
                concurrent=concurrent,
                every_index=kind == "REINDEX_OBJECT_TABLE",
            ),
        ),
        concurrently=concurrent,
        notes=tuple(notes),
        recommendations=()
        if concurrent or knowledge.pg_version < 12
        else ("REINDEX CONCURRENTLY (PostgreSQL 12+, outside a transaction block)",),
    )


_RELATION_RENAMES = frozenset(
    {
        "OBJECT_TABLE",
        "OBJECT_VIEW",
        "OBJECT_MATVIEW",
        "OBJECT_FOREIGN_TABLE",
        "OBJECT_COLUMN",
        "OBJECT_TABCONSTRAINT",
        "OBJECT_TRIGGER",
        "OBJECT_POLICY",
        "OBJECT_RULE",
        "OBJECT_SEQUENCE",
    }
)


def _rename(node: Node, knowledge: Knowledge) -> StatementProfile:
    kind = node.get("renameType", "")
    relation = name_of(node.get("relation"))
    what = kind.removeprefix("OBJECT_").replace("_", " ")
    if kind == "OBJECT_INDEX" and relation:
        # PostgreSQL 12 lowered ALTER INDEX ... RENAME to SHARE UPDATE EXCLUSIVE.
        level = SUE if knowledge.pg_version >= 12 else AE
        return StatementProfile(
            "RenameStmt",
            "RENAME INDEX",
            (TableLock(relation, level, via_index=True),),
            (Work(WorkKind.CATALOG),),
        )
    if kind in _RELATION_RENAMES and relation:
        return StatementProfile(
            "RenameStmt",
            f"RENAME {what}",
            (TableLock(relation, AE),),
            (Work(WorkKind.CATALOG, relation),),
            notes=("a rename breaks running code that uses the old name",),
        )
    return StatementProfile("RenameStmt", f"RENAME {what}", (), (Work(WorkKind.CATALOG),))


def _set_schema(node: Node, knowledge: Knowledge) -> StatementProfile:
    relation = name_of(node.get("relation"))
    locks = (TableLock(relation, AE),) if relation else ()
    return StatementProfile("AlterObjectSchemaStmt", "SET SCHEMA", locks, (Work(WorkKind.CATALOG),))


def _create_table(node: Node, knowledge: Knowledge) -> StatementProfile:
    table = name_of(node.get("relation"))
    locks: list[TableLock] = []
    notes: list[str] = []
    recommendations: list[str] = []
    parents = [name_of(unwrap(item)[1]) for item in node.get("inhRelations") or ()]
    if node.get("partbound"):
        for parent in parents:
            if parent:
                locks.append(TableLock(parent, AE))
        notes.append("CREATE TABLE ... PARTITION OF takes ACCESS EXCLUSIVE on the parent")
        if knowledge.pg_version >= 12:
            recommendations.append(ATTACH_INSTEAD)
    else:
        locks.extend(TableLock(p, SUE) for p in parents if p)
    for element in node.get("tableElts") or ():
        kind, inner = unwrap(element)
        constraints = [element] if kind == "Constraint" else inner.get("constraints") or ()
        for constraint in constraints:
            _, body = unwrap(constraint)
            if body.get("contype") == "CONSTR_FOREIGN":
                referenced = name_of(body.get("pktable"))
                if referenced and referenced != table:
                    locks.append(TableLock(referenced, SRE))
    if any(lock.level is SRE for lock in locks):
        notes.append("REFERENCES takes SHARE ROW EXCLUSIVE on the referenced table (briefly)")
    return StatementProfile(
        "CreateStmt",
        f"CREATE TABLE {shown(table)}",
        tuple(dict.fromkeys(locks)),
        (Work(WorkKind.CATALOG, table),),
        creates=(table,) if table else (),
        notes=tuple(notes),
        recommendations=tuple(recommendations),
    )


def _create_table_as(node: Node, knowledge: Knowledge) -> StatementProfile:
    into = node.get("into") or {}
    table = name_of(into.get("rel"))
    what = "MATERIALIZED VIEW" if node.get("objtype") == "OBJECT_MATVIEW" else "TABLE"
    if into.get("skipData"):
        work = Work(WorkKind.CATALOG, table)
    else:
        work = Work(WorkKind.ROWS, table, estimate=True)
    return StatementProfile(
        "CreateTableAsStmt",
        f"CREATE {what} {shown(table)} AS",
        (),
        (work,),
        creates=(table,) if table else (),
        notes=("writes the query's rows into a new relation; the tables read stay available",),
    )


def _view(node: Node, knowledge: Knowledge) -> StatementProfile:
    view = name_of(node.get("view"))
    if node.get("replace") and view:
        return StatementProfile(
            "ViewStmt",
            "CREATE OR REPLACE VIEW",
            (TableLock(view, AE),),
            (Work(WorkKind.CATALOG, view),),
            notes=("CREATE OR REPLACE VIEW takes ACCESS EXCLUSIVE on the view it replaces",),
        )
    return StatementProfile(
        "ViewStmt",
        f"CREATE VIEW {shown(view)}",
        (),
        (Work(WorkKind.CATALOG, view),),
        creates=(view,) if view else (),
    )


def _lock(node: Node, knowledge: Knowledge) -> StatementProfile:
    level = LockLevel.from_rank(int(node.get("mode", 8)))
    tables = _relations(node, "relations")
    return StatementProfile(
        "LockStmt",
        f"LOCK TABLE {', '.join(shown(t) for t in tables)} IN {level.value} MODE",
        tuple(TableLock(t, level) for t in tables),
        (Work(WorkKind.CATALOG),),
        notes=("LOCK TABLE holds the lock until the transaction ends",),
    )


def _dml(action: str) -> Handler:
    def handler(node: Node, knowledge: Knowledge) -> StatementProfile:
        """ROW EXCLUSIVE on the target, and the rows written."""
        table = name_of(node.get("relation"))
        rows = None
        _, select = unwrap(node.get("selectStmt"))
        if select.get("valuesLists") is not None:
            rows = len(select["valuesLists"])
        changes_rows = action in ("UPDATE", "DELETE", "MERGE")
        notes = [
            "ROW EXCLUSIVE blocks no reads or writes of the table; every row it changes stays "
            "locked until the commit: concurrent UPDATE, DELETE and SELECT FOR UPDATE of those "
            "rows wait"
            if changes_rows
            else "ROW EXCLUSIVE blocks no reads or writes; the rows it inserts are unseen "
            "until the commit"
        ]
        advice: tuple[str, ...] = ()
        if action in ("UPDATE", "DELETE") and not node.get("whereClause"):
            notes.append(f"{action} without WHERE changes every row in one transaction")
            advice = ("change the rows in batches (by key ranges), each in its own transaction",)
        return StatementProfile(
            _DML_KINDS[action],
            f"{action} {shown(table)}",
            (TableLock(table, RE),) if table else (),
            (
                Work(
                    WorkKind.ROWS,
                    table,
                    rows=rows,
                    estimate=rows is None,
                    row_locks=changes_rows,
                    verb=action,
                ),
            ),
            notes=tuple(notes),
            recommendations=advice,
        )

    return handler


_DML_KINDS = {
    "INSERT": "InsertStmt",
    "UPDATE": "UpdateStmt",
    "DELETE": "DeleteStmt",
    "MERGE": "MergeStmt",
}


def _copy(node: Node, knowledge: Knowledge) -> StatementProfile:
    table = name_of(node.get("relation"))
    if not node.get("is_from"):
        return StatementProfile("CopyStmt", "COPY TO", (), (Work(WorkKind.CATALOG),))
    return StatementProfile(
        "CopyStmt",
        "COPY FROM",
        (TableLock(table, RE),) if table else (),
        (Work(WorkKind.ROWS, table),),
        notes=("COPY FROM: the number of rows comes from its input and is not known here",),
    )


def _select(node: Node, knowledge: Knowledge) -> StatementProfile:
    into = node.get("intoClause")
    if into:
        table = name_of(into.get("rel"))
        return StatementProfile(
            "SelectStmt",
            "SELECT INTO",
            (),
            (Work(WorkKind.ROWS, table, estimate=True),),
            creates=(table,) if table else (),
        )
    return StatementProfile(
        "SelectStmt",
        "SELECT",
        (),
        (Work(WorkKind.CATALOG),),
        notes=("a SELECT takes ACCESS SHARE only (functions it calls are not followed)",),
    )


def _alter_domain(node: Node, knowledge: Knowledge) -> StatementProfile:
    subtype = node.get("subtype", "")
    _, constraint = unwrap(node.get("def"))
    if subtype == "C" and not constraint.get("skip_validation"):
        return unknown(
            "AlterDomainStmt",
            None,
            "ALTER DOMAIN ... ADD CONSTRAINT checks every column of the domain in tables the "
            "statement does not name",
        )
    return StatementProfile("AlterDomainStmt", "ALTER DOMAIN", (), (Work(WorkKind.CATALOG),))


def _comment(node: Node, knowledge: Knowledge) -> StatementProfile:
    kind = node.get("objtype", "")
    parts = _dotted(node.get("object"))
    table = None
    if kind in ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE"):
        table = ".".join(parts)
    elif kind == "OBJECT_COLUMN" and len(parts) >= 2:
        table = ".".join(parts[:-1])
    locks = (TableLock(table, SUE),) if table else ()
    return StatementProfile("CommentStmt", "COMMENT ON", locks, (Work(WorkKind.CATALOG),))


def _statistics(node: Node, knowledge: Knowledge) -> StatementProfile:
    tables = [name_of(unwrap(item)[1]) for item in node.get("relations") or ()]
    return StatementProfile(
        "CreateStatsStmt",
        "CREATE STATISTICS",
        tuple(TableLock(t, SUE) for t in tables if t),
        (Work(WorkKind.CATALOG),),
    )


def _alter_enum(node: Node, knowledge: Knowledge) -> StatementProfile:
    notes: tuple[str, ...] = ()
    if node.get("newVal") and not node.get("oldVal") and knowledge.pg_version < 12:
        notes = ("ALTER TYPE ... ADD VALUE cannot run in a transaction block before PostgreSQL 12",)
    return StatementProfile(
        "AlterEnumStmt", "ALTER TYPE (enum)", (), (Work(WorkKind.CATALOG),), notes=notes
    )


def _trigger(node: Node, knowledge: Knowledge) -> StatementProfile:
    table = name_of(node.get("relation"))
    return StatementProfile(
        "CreateTrigStmt",
        f"CREATE TRIGGER ON {shown(table)}",
        (TableLock(table, SRE),) if table else (),
        (Work(WorkKind.CATALOG, table),),
        notes=("CREATE TRIGGER takes SHARE ROW EXCLUSIVE: writes wait (briefly)",),
    )


_HANDLERS: dict[str, Handler] = {
    "AlterTableStmt": alter_table,
    "IndexStmt": _index,
    "DropStmt": _drop,
    "TruncateStmt": _truncate,
    "VacuumStmt": _vacuum,
    "ClusterStmt": _cluster,
    "RefreshMatViewStmt": _refresh,
    "ReindexStmt": _reindex,
    "CreateTrigStmt": _trigger,
    "CreatePolicyStmt": _simple("CreatePolicyStmt", "CREATE POLICY", AE, "table"),
    "AlterPolicyStmt": _simple("AlterPolicyStmt", "ALTER POLICY", AE, "table"),
    "RuleStmt": _simple("RuleStmt", "CREATE RULE", AE),
    "RenameStmt": _rename,
    "AlterObjectSchemaStmt": _set_schema,
    "CreateStmt": _create_table,
    "CreateTableAsStmt": _create_table_as,
    "ViewStmt": _view,
    "LockStmt": _lock,
    "InsertStmt": _dml("INSERT"),
    "UpdateStmt": _dml("UPDATE"),
    "DeleteStmt": _dml("DELETE"),
    "MergeStmt": _dml("MERGE"),
    "CopyStmt": _copy,
    "SelectStmt": _select,
    "AlterDomainStmt": _alter_domain,
    "CommentStmt": _comment,
    "CreateStatsStmt": _statistics,
    "AlterEnumStmt": _alter_enum,
}

# Statements that change only the catalog and lock no table the application uses.
_CATALOG: dict[str, str] = {
    "CreateFunctionStmt": "CREATE FUNCTION",
    "AlterFunctionStmt": "ALTER FUNCTION",
    "CreateSchemaStmt": "CREATE SCHEMA",
    "CreateSeqStmt": "CREATE SEQUENCE",
    "AlterSeqStmt": "ALTER SEQUENCE",
    "CreateEnumStmt": "CREATE TYPE (enum)",
    "CompositeTypeStmt": "CREATE TYPE (composite)",
    "CreateRangeStmt": "CREATE TYPE (range)",
    "DefineStmt": "CREATE (aggregate, operator, collation or type)",
    "CreateDomainStmt": "CREATE DOMAIN",
    "AlterTypeStmt": "ALTER TYPE",
    "GrantStmt": "GRANT/REVOKE",
    "GrantRoleStmt": "GRANT/REVOKE role",
    "CreateRoleStmt": "CREATE ROLE",
    "AlterRoleStmt": "ALTER ROLE",
    "AlterRoleSetStmt": "ALTER ROLE SET",
    "DropRoleStmt": "DROP ROLE",
    "AlterDefaultPrivilegesStmt": "ALTER DEFAULT PRIVILEGES",
    "AlterOwnerStmt": "ALTER ... OWNER TO",
    "CreateExtensionStmt": "CREATE EXTENSION",
    "AlterExtensionStmt": "ALTER EXTENSION",
    "AlterExtensionContentsStmt": "ALTER EXTENSION ADD/DROP",
    "VariableSetStmt": "SET",
    "VariableShowStmt": "SHOW",
    "CreateCastStmt": "CREATE CAST",
    "CreateConversionStmt": "CREATE CONVERSION",
    "CreatePublicationStmt": "CREATE PUBLICATION",
    "AlterPublicationStmt": "ALTER PUBLICATION",
    "CreateEventTrigStmt": "CREATE EVENT TRIGGER",
    "AlterEventTrigStmt": "ALTER EVENT TRIGGER",
    "SecLabelStmt": "SECURITY LABEL",
    "AlterStatsStmt": "ALTER STATISTICS",
    "AlterCollationStmt": "ALTER COLLATION",
    "CreateFdwStmt": "CREATE FOREIGN DATA WRAPPER",
    "CreateForeignServerStmt": "CREATE SERVER",
    "CreateUserMappingStmt": "CREATE USER MAPPING",
    "ImportForeignSchemaStmt": "IMPORT FOREIGN SCHEMA",
    "CreatePLangStmt": "CREATE LANGUAGE",
    "CreateTransformStmt": "CREATE TRANSFORM",
    "CreateAmStmt": "CREATE ACCESS METHOD",
    "CreateOpClassStmt": "CREATE OPERATOR CLASS",
    "CreateOpFamilyStmt": "CREATE OPERATOR FAMILY",
    "AlterOpFamilyStmt": "ALTER OPERATOR FAMILY",
    "AlterOperatorStmt": "ALTER OPERATOR",
    "AlterTSDictionaryStmt": "ALTER TEXT SEARCH DICTIONARY",
    "AlterTSConfigurationStmt": "ALTER TEXT SEARCH CONFIGURATION",
    "NotifyStmt": "NOTIFY",
    "ListenStmt": "LISTEN",
    "UnlistenStmt": "UNLISTEN",
    "DiscardStmt": "DISCARD",
    "CheckPointStmt": "CHECKPOINT",
    "TransactionStmt": "transaction control",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "AlterSystemStmt": "ALTER SYSTEM",
    "CreatedbStmt": "CREATE DATABASE",
    "DeallocateStmt": "DEALLOCATE",
    "PrepareStmt": "PREPARE",
    "CreateSubscriptionStmt": "CREATE SUBSCRIPTION",
    "AlterSubscriptionStmt": "ALTER SUBSCRIPTION",
    "DropSubscriptionStmt": "DROP SUBSCRIPTION",
}
