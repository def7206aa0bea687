"""The lock profile of ``ALTER TABLE``: each subcommand's lock and work, by PostgreSQL version.

Lock levels follow PostgreSQL's ``AlterTableGetLockLevel`` and the ALTER TABLE documentation:
ACCESS EXCLUSIVE unless noted. SHARE UPDATE EXCLUSIVE for ``SET STATISTICS``, ``SET
(attribute options)``, ``CLUSTER ON``, ``SET WITHOUT CLUSTER``, ``VALIDATE CONSTRAINT``,
storage parameters such as ``fillfactor`` and ``autovacuum_*``, ``ATTACH PARTITION`` on the
parent (PostgreSQL 12+) and ``DETACH PARTITION ... CONCURRENTLY`` (14+). SHARE ROW EXCLUSIVE
for ``ENABLE``/``DISABLE TRIGGER`` and ``ADD FOREIGN KEY`` (on both tables). A statement takes
the strongest lock any of its subcommands needs, and rewrites a table at most once (a
validation scan of the same table is then done during the rewrite).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plimsoll.db.risk.locks import LockLevel
from plimsoll.db.risk.operations import (
    Knowledge,
    StatementProfile,
    TableLock,
    Work,
    WorkKind,
    shown,
)
from plimsoll.db.risk.type_changes import default_rewrites, type_change_rewrites
from plimsoll.db.sqljson import (
    SERIAL_TYPES,
    Node,
    constant,
    function_name,
    strings,
    type_name,
    unwrap,
)

AE = LockLevel.ACCESS_EXCLUSIVE
SUE = LockLevel.SHARE_UPDATE_EXCLUSIVE
SRE = LockLevel.SHARE_ROW_EXCLUSIVE

NOT_VALID = "add the constraint NOT VALID, then VALIDATE it in a later migration"
CONCURRENT_INDEX = "create the index CONCURRENTLY (in a migration of its own)"
BACKFILL = (
    "add the column without a default (or with a constant one), SET DEFAULT afterwards, and "
    "backfill existing rows in batches"
)
NEW_COLUMN = (
    "add a new column of the new type, backfill it in batches, switch over, then drop the old one"
)
NOT_NULL = (
    "add CHECK (column IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL: PostgreSQL 12+ "
    "skips the scan"
)
USING_INDEX = (
    "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... USING INDEX "
    "(no index build under the lock)"
)

# Subcommands that only change the catalog, by lock level (all others: ACCESS EXCLUSIVE).
_LIGHT = frozenset(
    {
        "AT_SetStatistics",
        "AT_SetOptions",
        "AT_ResetOptions",
        "AT_ClusterOn",
        "AT_DropCluster",
        "AT_DetachPartitionFinalize",
    }
)
_TRIGGERS = frozenset(
    {
        "AT_EnableTrig",
        "AT_EnableAlwaysTrig",
        "AT_EnableReplicaTrig",
        "AT_EnableTrigAll",
        "AT_EnableTrigUser",
        "AT_DisableTrig",
        "AT_DisableTrigAll",
        "AT_DisableTrigUser",
    }
)
_CATALOG_ONLY = frozenset(
    {
        "AT_DropColumn",
        "AT_ColumnDefault",
        "AT_CookedColumnDefault",
        "AT_DropNotNull",
        "AT_SetStorage",
        "AT_SetCompression",
        "AT_DropConstraint",
        "AT_AlterConstraint",
        "AT_EnableRule",
        "AT_EnableAlwaysRule",
        "AT_EnableReplicaRule",
        "AT_DisableRule",
        "AT_AddIdentity",
        "AT_SetIdentity",
        "AT_DropIdentity",
        "AT_DropExpression",
        "AT_ReplicaIdentity",
        "AT_EnableRowSecurity",
        "AT_DisableRowSecurity",
        "AT_ForceRowSecurity",
        "AT_NoForceRowSecurity",
        "AT_ChangeOwner",
        "AT_GenericOptions",
        "AT_AlterColumnGenericOptions",
        "AT_AddInherit",
        "AT_DropInherit",
        "AT_AddOf",
        "AT_DropOf",
        "AT_ReplaceRelOptions",
        "AT_AddColumnToView",
    }
)
_REWRITES = {
    "AT_SetLogged": "SET LOGGED rewrites the table (and writes it all to the WAL)",
    "AT_SetUnLogged": "SET UNLOGGED rewrites the table",
    "AT_SetTableSpace": "SET TABLESPACE copies the table's files",
    "AT_SetAccessMethod": "SET ACCESS METHOD rewrites the table",
}
# Storage parameters ALTER TABLE/INDEX ... SET (...) changes under SHARE UPDATE EXCLUSIVE
# (checked in pg_locks on PostgreSQL 15); any other (user_catalog_table, an index's
# fastupdate, buffering, pages_per_range, gin_pending_list_limit, autosummarize) takes ACCESS
# EXCLUSIVE.
_LIGHT_PARAMETERS = frozenset(
    {
        "fillfactor",
        "parallel_workers",
        "toast_tuple_target",
        "vacuum_index_cleanup",
        "vacuum_truncate",
        "log_autovacuum_min_duration",
        "deduplicate_items",
    }
)


def name_of(range_var: Node | None) -> str | None:
    """A RangeVar's name as written: ``schema.name`` or ``name``."""
    if not range_var or not range_var.get("relname"):
        return None
    schema = range_var.get("schemaname")
    return f"{schema}.{range_var['relname']}" if schema else range_var["relname"]


_SQL_VALUE_FUNCTIONS = {
    "SVFOP_CURRENT_DATE": "CURRENT_DATE",
    "SVFOP_CURRENT_TIME": "CURRENT_TIME",
    "SVFOP_CURRENT_TIME_N": "CURRENT_TIME",
    "SVFOP_CURRENT_TIMESTAMP": "CURRENT_TIMESTAMP",
    "SVFOP_CURRENT_TIMESTAMP_N": "CURRENT_TIMESTAMP",
    "SVFOP_LOCALTIME": "LOCALTIME",
    "SVFOP_LOCALTIME_N": "LOCALTIME",
    "SVFOP_LOCALTIMESTAMP": "LOCALTIMESTAMP",
    "SVFOP_LOCALTIMESTAMP_N": "LOCALTIMESTAMP",
    "SVFOP_CURRENT_USER": "CURRENT_USER",
    "SVFOP_SESSION_USER": "SESSION_USER",
}


def expression_text(expression: object, depth: int = 0) -> str:
    """A short rendering of an expression for a statement's summary (``gen_random_uuid()``)."""
    kind, node = unwrap(expression)
    if kind == "A_Const":
        if node.get("isnull"):
            return "NULL"
        value = constant(expression)
        if isinstance(value, bool):
            return "true" if value else "false"
        if "sval" in node:
            return "'" + str(value).replace("'", "''") + "'"
        return str(value)
    if kind == "FuncCall":
        args = node.get("args") or []
        if depth >= 2 or len(args) > 3:
            inner = "..." if args else ""
        else:
            inner = ", ".join(expression_text(arg, depth + 1) for arg in args)
        return f"{function_name(node)}({inner})"
    if kind == "TypeCast":
        return f"{expression_text(node.get('arg'), depth)}::{type_name(node.get('typeName'))}"
    if kind == "SQLValueFunction":
        return _SQL_VALUE_FUNCTIONS.get(str(node.get("op", "")), "a SQL value function")
    if kind == "ColumnRef":
        return ".".join(strings(node.get("fields"))) or "a column"
    if kind == "NextValueExpr":
        return "nextval(...)"
    return "an expression"


@dataclass
class _Builder:
    """Locks, work, notes and advice gathered over a statement's subcommands."""

    table: str
    knowledge: Knowledge
    locks: dict[tuple[str, bool], LockLevel] = field(default_factory=dict)
    work: list[Work] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    known: bool = True
    concurrently: bool = False

    def lock(self, level: LockLevel, table: str | None = None, via_index: bool = False) -> None:
        """Take ``level`` on ``table`` (default: the altered one), keeping the strongest."""
        key = (table or self.table, via_index)
        known = self.locks.get(key)
        if known is None or level.rank > known.rank:
            self.locks[key] = level

    def add(self, work: Work) -> None:
        """Add a piece of work (once)."""
        if work not in self.work:
            self.work.append(work)

    def note(self, text: str) -> None:
        """Add a note (once)."""
        if text not in self.notes:
            self.notes.append(text)

    def recommend(self, text: str) -> None:
        """Add advice (once)."""
        if text not in self.advice:
            self.advice.append(text)

    def profile(self) -> StatementProfile:
        """The statement's profile from what the subcommands gathered."""
        work = self.work
        rewritten = {w.table for w in work if w.kind is WorkKind.REWRITE}
        # A rewrite checks new constraints while copying: no separate scan of that table.
        work = [w for w in work if not (w.kind is WorkKind.SCAN and w.table in rewritten)]
        if not work:
            work = [Work(WorkKind.CATALOG, self.table)]
        return StatementProfile(
            kind="AlterTableStmt",
            action=f"ALTER TABLE {shown(self.table)} " + ", ".join(dict.fromkeys(self.actions)),
            locks=tuple(TableLock(t, lvl, via) for (t, via), lvl in self.locks.items()),
            work=tuple(work),
            known=self.known,
            concurrently=self.concurrently,
            notes=tuple(self.notes),
            recommendations=tuple(self.advice),
        )


def alter_table(node: Node, knowledge: Knowledge) -> StatementProfile:
    """The profile of an ``AlterTableStmt`` (tables, and the few index/view forms)."""
    table = name_of(node.get("relation")) or "?"
    objtype = node.get("objtype", "OBJECT_TABLE")
    build = _Builder(table, knowledge)
    if objtype == "OBJECT_INDEX":
        return _alter_index(node, build)
    for item in node.get("cmds") or ():
        _, cmd = unwrap(item)
        _command(cmd, build)
    if objtype in ("OBJECT_VIEW", "OBJECT_SEQUENCE", "OBJECT_TYPE", "OBJECT_FOREIGN_TABLE"):
        # No heap of their own to rewrite or scan.
        build.work = [Work(WorkKind.CATALOG, table)]
    return build.profile()


def _alter_index(node: Node, build: _Builder) -> StatementProfile:
    for item in node.get("cmds") or ():
        _, cmd = unwrap(item)
        subtype = cmd.get("subtype", "")
        build.actions.append(subtype.removeprefix("AT_"))
        if subtype == "AT_SetTableSpace":
            build.lock(AE, via_index=True)
            build.add(Work(WorkKind.REWRITE, build.table))
            build.note("SET TABLESPACE copies the index; queries that use it wait")
        elif subtype == "AT_SetStatistics":
            build.lock(SUE, via_index=True)
        elif subtype in ("AT_SetRelOptions", "AT_ResetRelOptions"):
            build.lock(SUE if _light_options(cmd) else AE, via_index=True)
        elif subtype == "AT_AttachPartition":
            # The parent index takes SHARE UPDATE EXCLUSIVE, the attached one ACCESS EXCLUSIVE
            # (which holds up planning every query on its table).
            build.lock(SUE, via_index=True)
            _, partition = unwrap(cmd.get("def"))
            child = name_of(partition.get("name"))
            if child:
                build.lock(AE, child, via_index=True)
        else:
            build.lock(AE, via_index=True)
    profile = build.profile()
    return StatementProfile(
        kind=profile.kind,
        action=profile.action.replace("ALTER TABLE", "ALTER INDEX", 1),
        fails=profile.fails,
        locks=profile.locks,
        work=profile.work,
        known=profile.known,
        notes=profile.notes,
    )


def _command(cmd: Node, build: _Builder) -> None:  # noqa: C901 - one flat dispatch
    subtype = cmd.get("subtype", "")
    version = build.knowledge.pg_version
    words = subtype.removeprefix("AT_")
    if subtype == "AT_AddColumn":
        _add_column(cmd, build)
    elif subtype == "AT_AlterColumnType":
        _alter_type(cmd, build)
    elif subtype == "AT_SetNotNull":
        build.actions.append(f"ALTER COLUMN {cmd.get('name', '')} SET NOT NULL")
        build.lock(AE)
        _not_null_scan(cmd.get("name", ""), build)
    elif subtype == "AT_AddConstraint":
        _add_constraint(cmd, build)
    elif subtype == "AT_ValidateConstraint":
        _validate(cmd, build)
    elif subtype in _LIGHT:
        build.actions.append(words)
        build.lock(SUE)
    elif subtype in _TRIGGERS:
        build.actions.append(words)
        build.lock(SRE)
    elif subtype in ("AT_SetRelOptions", "AT_ResetRelOptions"):
        build.actions.append(f"SET ({', '.join(_option_names(cmd))})")
        build.lock(SUE if _light_options(cmd) else AE)
    elif subtype in _REWRITES:
        build.actions.append(words)
        build.lock(AE)
        build.add(Work(WorkKind.REWRITE, build.table))
        build.note(_REWRITES[subtype])
        if subtype == "AT_SetAccessMethod" and version < 15:
            build.note("SET ACCESS METHOD needs PostgreSQL 15")
    elif subtype == "AT_AttachPartition":
        _attach(cmd, build)
    elif subtype == "AT_DetachPartition":
        _detach(cmd, build)
    elif subtype in _CATALOG_ONLY:
        build.actions.append(_words(subtype, cmd))
        build.lock(AE)
    else:
        build.actions.append(words or "unknown subcommand")
        build.lock(AE)
        build.add(Work(WorkKind.UNKNOWN, build.table))
        build.known = False
        build.note(
            f"ALTER TABLE subcommand {words or '?'} is not in the lock profile: treated as the "
            "worst case (ACCESS EXCLUSIVE and a rewrite)"
        )


def _words(subtype: str, cmd: Node) -> str:
    name = cmd.get("name")
    words = {
        "AT_DropColumn": "DROP COLUMN",
        "AT_ColumnDefault": "ALTER COLUMN SET/DROP DEFAULT",
        "AT_DropNotNull": "ALTER COLUMN DROP NOT NULL",
        "AT_DropConstraint": "DROP CONSTRAINT",
    }.get(subtype, subtype.removeprefix("AT_"))
    return f"{words} {name}" if name else words


def _option_names(cmd: Node) -> list[str]:
    _, options = unwrap(cmd.get("def"))
    return [unwrap(i)[1].get("defname", "") for i in options.get("items") or ()]


def _light_options(cmd: Node) -> bool:
    """Whether a ``SET``/``RESET (...)`` changes only parameters SHARE UPDATE EXCLUSIVE covers."""
    names = _option_names(cmd)
    return bool(names) and all(_light_parameter(name) for name in names)


def _light_parameter(name: str) -> bool:
    return name in _LIGHT_PARAMETERS or name.startswith(("autovacuum_", "toast.", "toast_"))


def _add_column(cmd: Node, build: _Builder) -> None:
    _, column = unwrap(cmd.get("def"))
    name = column.get("colname", "")
    build.lock(AE)
    type_names = strings((column.get("typeName") or {}).get("names"))
    constraints = [unwrap(c)[1] for c in column.get("constraints") or ()]
    kinds = {c.get("contype") for c in constraints}
    action = f"ADD COLUMN {name}"
    if type_names and type_names[-1] not in SERIAL_TYPES:
        action += f" {type_name(column.get('typeName'))}"
    if len(type_names) == 1 and type_names[0] in SERIAL_TYPES:
        build.actions.append(f"{action} {type_names[0]}")
        build.add(Work(WorkKind.REWRITE, build.table))
        build.note(f"ADD COLUMN {name} {type_names[0]}: a sequence fills every existing row")
        build.recommend(
            "add a nullable bigint column, backfill it in batches, then attach the "
            "sequence default once it is filled"
        )
        return
    default = next((c for c in constraints if c.get("contype") == "CONSTR_DEFAULT"), None)
    if "CONSTR_IDENTITY" in kinds:
        build.actions.append(f"{action} (identity)")
        build.add(Work(WorkKind.REWRITE, build.table))
        build.note(f"ADD COLUMN {name} GENERATED AS IDENTITY fills every existing row")
    elif any(
        c.get("contype") == "CONSTR_GENERATED" and c.get("generated_kind") != "v"
        for c in constraints
    ):
        build.actions.append(f"{action} (stored generated)")
        build.add(Work(WorkKind.REWRITE, build.table))
        build.note(f"ADD COLUMN {name} GENERATED ... STORED computes every existing row")
    elif default is not None:
        verdict = default_rewrites(default.get("raw_expr"), build.knowledge)
        build.actions.append(f"{action} DEFAULT {expression_text(default.get('raw_expr'))}")
        if verdict.rewrites:
            build.add(Work(WorkKind.REWRITE, build.table, assumed=verdict.assumed))
            build.note(f"ADD COLUMN {name}: {verdict.reason}: the table is rewritten")
            build.recommend(BACKFILL)
        else:
            build.note(f"ADD COLUMN {name}: {verdict.reason}")
    else:
        build.actions.append(action)
    if "CONSTR_NOTNULL" in kinds and default is None:
        build.add(Work(WorkKind.SCAN, build.table))
        build.note(f"ADD COLUMN {name} NOT NULL without a default fails if the table has rows")
    if "CONSTR_CHECK" in kinds:
        build.add(Work(WorkKind.SCAN, build.table))
    if kinds & {"CONSTR_PRIMARY", "CONSTR_UNIQUE"}:
        build.add(Work(WorkKind.INDEX_BUILD, build.table, columns=(name,)))
    for constraint in constraints:
        if constraint.get("contype") == "CONSTR_FOREIGN":
            referenced = name_of(constraint.get("pktable"))
            build.lock(SRE, referenced)
            build.add(Work(WorkKind.FOREIGN_KEY_SCAN, build.table, referenced))


def _alter_type(cmd: Node, build: _Builder) -> None:
    column = cmd.get("name", "")
    _, definition = unwrap(cmd.get("def"))
    build.lock(AE)
    info = build.knowledge.column(build.table, column)
    verdict = type_change_rewrites(
        info.type if info else None,
        definition.get("typeName") or {},
        definition.get("raw_default"),
        build.knowledge,
    )
    build.actions.append(f"ALTER COLUMN {column} TYPE {type_name(definition.get('typeName'))}")
    build.note(f"ALTER COLUMN {column}: {verdict.reason}")
    if verdict.rewrites:
        build.add(Work(WorkKind.REWRITE, build.table, assumed=verdict.assumed))
        build.recommend(NEW_COLUMN)


def _not_null_scan(column: str, build: _Builder) -> None:
    knowledge = build.knowledge
    info = knowledge.column(build.table, column)
    if info is not None and info.not_null:
        build.note(f"{column} is already NOT NULL: nothing to check")
        return
    if knowledge.pg_version >= 12 and knowledge.not_null_proven(build.table, column):
        build.note(f"a valid CHECK ({column} IS NOT NULL) proves it: no scan (PostgreSQL 12+)")
        return
    # Without the live constraints a CHECK that spares the scan may exist: assumed.
    build.add(Work(WorkKind.SCAN, build.table, assumed=not knowledge.knows(build.table)))
    build.note(f"SET NOT NULL on {column} scans the table under ACCESS EXCLUSIVE")
    build.recommend(NOT_NULL if knowledge.pg_version >= 12 else NOT_VALID)


def _add_constraint(cmd: Node, build: _Builder) -> None:
    _, constraint = unwrap(cmd.get("def"))
    contype = constraint.get("contype", "")
    name = constraint.get("conname") or ""
    label = f"ADD CONSTRAINT {name}".rstrip()
    not_valid = bool(constraint.get("skip_validation"))
    if contype == "CONSTR_FOREIGN":
        referenced = name_of(constraint.get("pktable"))
        build.actions.append(f"{label} FOREIGN KEY" + (" NOT VALID" if not_valid else ""))
        build.lock(SRE)
        build.lock(SRE, referenced)
        if not not_valid:
            build.add(Work(WorkKind.FOREIGN_KEY_SCAN, build.table, referenced))
            build.note(
                "ADD FOREIGN KEY checks every row under SHARE ROW EXCLUSIVE on both tables: "
                "writes to both wait"
            )
            build.recommend(NOT_VALID)
        return
    build.lock(AE)
    if contype == "CONSTR_CHECK":
        build.actions.append(f"{label} CHECK" + (" NOT VALID" if not_valid else ""))
        if not not_valid:
            build.add(Work(WorkKind.SCAN, build.table))
            build.note("ADD CHECK scans every row under ACCESS EXCLUSIVE")
            build.recommend(NOT_VALID)
    elif contype in ("CONSTR_PRIMARY", "CONSTR_UNIQUE"):
        what = "PRIMARY KEY" if contype == "CONSTR_PRIMARY" else "UNIQUE"
        keys = tuple(strings(constraint.get("keys")))
        if constraint.get("indexname"):
            build.actions.append(f"{label} {what} USING INDEX")
        else:
            build.actions.append(f"{label} {what}")
            build.add(Work(WorkKind.INDEX_BUILD, build.table, columns=keys or None))
            build.note(f"ADD {what} builds its index under ACCESS EXCLUSIVE: reads and writes wait")
            build.recommend(USING_INDEX)
        if contype == "CONSTR_PRIMARY":
            for key in keys or ():
                _not_null_scan(key, build)
    elif contype == "CONSTR_EXCLUSION":
        build.actions.append(f"{label} EXCLUDE")
        build.add(Work(WorkKind.INDEX_BUILD, build.table))
        build.note("ADD EXCLUDE builds its index under ACCESS EXCLUSIVE")
    elif contype == "CONSTR_NOTNULL":
        build.actions.append(f"{label} NOT NULL")
        for key in strings(constraint.get("keys")):
            _not_null_scan(key, build)
    else:
        build.actions.append(f"{label} {contype.removeprefix('CONSTR_')}")


def _validate(cmd: Node, build: _Builder) -> None:
    name = cmd.get("name", "")
    build.actions.append(f"VALIDATE CONSTRAINT {name}")
    build.lock(SUE)
    info = build.knowledge.constraint(build.table, name)
    if info is not None and info.kind == "f" and info.referenced:
        build.lock(LockLevel.ROW_SHARE, info.referenced)
        build.add(Work(WorkKind.FOREIGN_KEY_SCAN, build.table, info.referenced, concurrent=True))
    else:
        build.add(Work(WorkKind.SCAN, build.table, concurrent=True))
    build.note("VALIDATE CONSTRAINT scans under SHARE UPDATE EXCLUSIVE: reads and writes go on")


def _attach(cmd: Node, build: _Builder) -> None:
    _, partition = unwrap(cmd.get("def"))
    child = name_of(partition.get("name"))
    build.actions.append(f"ATTACH PARTITION {child}")
    # PostgreSQL 12 lowered the parent's lock from ACCESS EXCLUSIVE to SHARE UPDATE EXCLUSIVE.
    build.lock(SUE if build.knowledge.pg_version >= 12 else AE)
    if child:
        build.lock(AE, child)
        # A validated CHECK implying the bound spares the scan: not something to learn from.
        build.add(Work(WorkKind.SCAN, child, assumed=True))
    build.note(
        "ATTACH PARTITION scans the partition to check its bound unless a valid CHECK "
        "constraint already implies it"
    )
    checks = sorted(
        name
        for name, info in build.knowledge.constraints.get(child or "", {}).items()
        if info.kind == "c" and info.validated
    )
    if checks:
        # Whether one implies the bound is the server's proof to make: said, not assumed.
        build.note(
            f"{child} has validated CHECK constraints ({', '.join(checks)}): if one implies the"
            " bound, the scan is skipped and the lock is brief"
        )
    build.recommend(
        "add a CHECK constraint matching the partition bound (NOT VALID, then VALIDATE) before "
        "attaching, so the attach does not scan"
    )


def _detach(cmd: Node, build: _Builder) -> None:
    _, partition = unwrap(cmd.get("def"))
    child = name_of(partition.get("name"))
    concurrent = bool(partition.get("concurrent"))
    build.actions.append(f"DETACH PARTITION {child}" + (" CONCURRENTLY" if concurrent else ""))
    if concurrent and build.knowledge.pg_version >= 14:
        build.lock(SUE)
        build.lock(SUE, child)
        build.concurrently = True
        return
    build.lock(AE)
    build.lock(AE, child)
    if build.knowledge.pg_version >= 14:
        build.recommend("DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+, outside a transaction)")
