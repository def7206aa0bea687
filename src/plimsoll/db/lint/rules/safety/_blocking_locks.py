"""Which statements take a lock that blocks the service's reads or writes, and which lock.

The timeout rules (``require-lock-timeout``, ``require-statement-timeout``) ask this of every
statement of a migration. A lock matters when it conflicts with what the application does all
day: ROW EXCLUSIVE (INSERT, UPDATE, DELETE) or ACCESS SHARE (SELECT). SHARE and stronger
block writes, ACCESS EXCLUSIVE blocks reads too; SHARE UPDATE EXCLUSIVE (``CREATE INDEX
CONCURRENTLY``, ``VALIDATE CONSTRAINT``, plain ``VACUUM``) blocks neither, so a statement that
takes only that lock is left out. While a blocking lock waits behind a long transaction, every
later query on the table queues behind it: that wait is what ``lock_timeout`` bounds.

Lock levels follow the PostgreSQL documentation (explicit locking, ALTER TABLE). Relations
created earlier in the same migration are invisible to other sessions and are left out.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel

from plimsoll.db.lint.context import StatementContext, qualified_names
from plimsoll.db.lint.rule import StatementRule, Violation
from plimsoll.db.lint.rules.safety._migration_facts import migration_facts
from plimsoll.db.sqljson import JsonScript, JsonStatement, Node, strings, unwrap

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
EXCLUSIVE = "EXCLUSIVE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
SHARE = "SHARE"
_RANK = {SHARE: 1, SHARE_ROW_EXCLUSIVE: 2, EXCLUSIVE: 3, ACCESS_EXCLUSIVE: 4}

# ALTER TABLE subcommands that take SHARE UPDATE EXCLUSIVE (or less): they block neither
# reads nor writes.
_LIGHT_COMMANDS = frozenset(
    {
        "AT_ValidateConstraint",
        "AT_SetStatistics",
        "AT_SetOptions",
        "AT_ResetOptions",
        "AT_ClusterOn",
        "AT_DropCluster",
        "AT_DetachPartitionFinalize",
    }
)
# ALTER TABLE subcommands that take SHARE ROW EXCLUSIVE (writes blocked, reads go on).
_SHARE_ROW_COMMANDS = frozenset(
    {
        "AT_EnableTrig",
        "AT_EnableAlwaysTrig",
        "AT_EnableReplicaTrig",
        "AT_DisableTrig",
        "AT_EnableTrigAll",
        "AT_DisableTrigAll",
        "AT_EnableTrigUser",
        "AT_DisableTrigUser",
    }
)
# Storage parameters that ALTER TABLE ... SET (...) changes under SHARE UPDATE EXCLUSIVE.
_LIGHT_PARAMETERS = frozenset(
    {
        "fillfactor",
        "parallel_workers",
        "toast_tuple_target",
        "vacuum_index_cleanup",
        "vacuum_truncate",
        "log_autovacuum_min_duration",
    }
)
# DROP of these takes ACCESS EXCLUSIVE on a relation (the object, or the table it is on).
_DROPPED_RELATIONS = frozenset(
    {"OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE", "OBJECT_SEQUENCE"}
)
_DROPPED_ON_TABLE = frozenset({"OBJECT_TRIGGER", "OBJECT_POLICY", "OBJECT_RULE"})
# LOCK TABLE modes (lockdefs.h): SHARE is 5, ACCESS EXCLUSIVE 8.
_LOCK_MODES = {5: SHARE, 6: SHARE_ROW_EXCLUSIVE, 7: EXCLUSIVE, 8: ACCESS_EXCLUSIVE}


@dataclass(frozen=True)
class BlockingLock:
    """A lock a statement takes that blocks reads or writes: its level, and on what."""

    level: str
    relation: str
    action: str

    @property
    def blocks(self) -> str:
        """What the lock blocks, in words."""
        return "reads and writes" if self.level == ACCESS_EXCLUSIVE else "writes"


def article(level: str) -> str:
    """``a`` or ``an`` before a lock level's name."""
    return "an" if level[:1] in "AEIOU" else "a"


Handler = Callable[[JsonStatement, "StatementContext"], "BlockingLock | None"]


# The last statement asked about, its context and the context's state then, and the answer:
# both timeout rules ask about every statement, one after the other.
_State = tuple[int, str, int]
_last: tuple[
    JsonStatement | None, weakref.ref[StatementContext] | None, _State | None, BlockingLock | None
] = (None, None, None, None)


def blocking_lock(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    """The strongest blocking lock ``statement`` takes on an existing relation, or None."""
    global _last
    # What the answer depends on besides the statement: a context only ever adds to the
    # relations it created, and may be asked about one statement under several versions.
    state: _State = (context.pg_version, context.default_schema, len(context.created))
    cached, owner, known, lock = _last
    if cached is statement and owner is not None and owner() is context and known == state:
        return lock
    handler = _HANDLERS.get(statement.kind)
    found = handler(statement, context) if handler is not None else None
    _last = (statement, weakref.ref(context), state, found)
    return found


def _existing(context: StatementContext, range_var: Node | None) -> str | None:
    key = context.key(range_var)
    return key if key and not context.is_new(key) else None


def _alter_table(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    node = statement.node
    relation = node.get("relation")
    objtype = node.get("objtype", "OBJECT_TABLE")
    key = context.key(relation)
    if objtype == "OBJECT_INDEX":
        if context.is_new(key) or migration_facts(context).index_created_before(
            key, statement.index
        ):
            return None
    elif context.is_new(key):
        return _attach_lock(node, context)
    level = ""
    for command in node.get("cmds") or ():
        _, cmd = unwrap(command)
        found = _command_level(cmd)
        if found and _RANK[found] > _RANK.get(level, 0):
            level = found
    if not level:
        return None
    return BlockingLock(level, key, f"ALTER {_word(objtype)}")


def _attach_lock(node: Node, context: StatementContext) -> BlockingLock | None:
    # A new partitioned table attaching an existing one still locks the attached partition.
    for command in node.get("cmds") or ():
        _, cmd = unwrap(command)
        if cmd.get("subtype") == "AT_AttachPartition":
            _, partition = unwrap(cmd.get("def"))
            existing = _existing(context, partition.get("name"))
            if existing:
                return BlockingLock(ACCESS_EXCLUSIVE, existing, "ATTACH PARTITION")
    return None


def _command_level(cmd: Node) -> str:
    subtype = cmd.get("subtype", "")
    if subtype in _LIGHT_COMMANDS:
        return ""
    if subtype == "AT_DetachPartition":
        _, partition = unwrap(cmd.get("def"))
        return "" if partition.get("concurrent") else ACCESS_EXCLUSIVE
    if subtype in ("AT_SetRelOptions", "AT_ResetRelOptions"):
        _, options = unwrap(cmd.get("def"))
        names = [unwrap(item)[1].get("defname", "") for item in options.get("items") or ()]
        if names and all(_light_parameter(name) for name in names):
            return ""
        return ACCESS_EXCLUSIVE
    if subtype in _SHARE_ROW_COMMANDS:
        return SHARE_ROW_EXCLUSIVE
    if subtype == "AT_AddConstraint":
        _, constraint = unwrap(cmd.get("def"))
        if constraint.get("contype") == "CONSTR_FOREIGN":
            return SHARE_ROW_EXCLUSIVE
    return ACCESS_EXCLUSIVE


def _light_parameter(name: str) -> bool:
    return (
        name in _LIGHT_PARAMETERS
        or name.startswith("autovacuum_")
        or name.startswith("toast.")
        or name.startswith("toast_")
    )


def _index(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    node = statement.node
    if node.get("concurrent"):
        return None
    key = _existing(context, node.get("relation"))
    return BlockingLock(SHARE, key, "CREATE INDEX") if key else None


def _drop(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    node = statement.node
    kind = node.get("removeType", "")
    if kind == "OBJECT_INDEX":
        if node.get("concurrent"):
            return None
        facts = migration_facts(context)
        index = statement.index
        for name in qualified_names(node.get("objects")):
            key = facts.name_key_at(name.split("."), index)
            if not facts.index_created_before(key, index):
                return BlockingLock(ACCESS_EXCLUSIVE, key, "DROP INDEX")
        return None
    if kind in _DROPPED_RELATIONS:
        for name in qualified_names(node.get("objects")):
            key = name if "." in name else f"{context.default_schema}.{name}"
            if not context.is_new(key):
                return BlockingLock(ACCESS_EXCLUSIVE, key, f"DROP {_word(kind)}")
        return None
    if kind in _DROPPED_ON_TABLE:
        for item in node.get("objects") or ():
            _, names = unwrap(item)
            parts = strings(names.get("items"))[:-1]
            key = f"{context.default_schema}.{parts[0]}" if len(parts) == 1 else ".".join(parts)
            if key and not context.is_new(key):
                return BlockingLock(ACCESS_EXCLUSIVE, key, f"DROP {_word(kind)}")
        return None
    if kind == "OBJECT_SCHEMA" and node.get("behavior") == "DROP_CASCADE":
        schemas = ", ".join(qualified_names(node.get("objects")))
        return BlockingLock(ACCESS_EXCLUSIVE, schemas, "DROP SCHEMA ... CASCADE")
    return None


def _word(kind: str) -> str:
    return kind.removeprefix("OBJECT_").replace("_", " ").replace("MATVIEW", "MATERIALIZED VIEW")


def _relations(
    node: Node, context: StatementContext, field: str, action: str, level: str
) -> BlockingLock | None:
    for item in node.get(field) or ():
        kind, range_var = unwrap(item)
        if kind == "VacuumRelation":
            range_var = range_var.get("relation") or {}
        key = _existing(context, range_var)
        if key:
            return BlockingLock(level, key, action)
    return None


def _truncate(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    node = statement.node
    return _relations(node, context, "relations", "TRUNCATE", ACCESS_EXCLUSIVE)


def _vacuum(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    node = statement.node
    options = {unwrap(item)[1].get("defname", "") for item in node.get("options") or ()}
    if "full" not in options or not node.get("is_vacuumcmd"):
        return None
    if not node.get("rels"):
        return BlockingLock(ACCESS_EXCLUSIVE, "every table of the database", "VACUUM FULL")
    return _relations(node, context, "rels", "VACUUM FULL", ACCESS_EXCLUSIVE)


def _cluster(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    node = statement.node
    relation = node.get("relation")
    if not relation:
        return BlockingLock(ACCESS_EXCLUSIVE, "every clustered table", "CLUSTER")
    key = _existing(context, relation)
    return BlockingLock(ACCESS_EXCLUSIVE, key, "CLUSTER") if key else None


def _refresh(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    node = statement.node
    if node.get("concurrent"):
        return None
    key = _existing(context, node.get("relation"))
    return BlockingLock(ACCESS_EXCLUSIVE, key, "REFRESH MATERIALIZED VIEW") if key else None


def _reindex(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    node = statement.node
    params = {unwrap(item)[1].get("defname", "") for item in node.get("params") or ()}
    if "concurrently" in params:
        return None
    kind = node.get("kind", "")
    if kind == "REINDEX_OBJECT_INDEX":
        key = context.key(node.get("relation"))
        index = statement.index
        if context.is_new(key) or migration_facts(context).index_created_before(key, index):
            return None
        return BlockingLock(SHARE, key, "REINDEX INDEX")
    if kind == "REINDEX_OBJECT_TABLE":
        table = _existing(context, node.get("relation"))
        return BlockingLock(SHARE, table, "REINDEX TABLE") if table else None
    what = kind.removeprefix("REINDEX_OBJECT_")
    return BlockingLock(SHARE, node.get("name") or "the current database", f"REINDEX {what}")


def _on_table(field: str, level: str, action: str) -> Handler:
    def handler(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
        key = _existing(context, statement.node.get(field))
        return BlockingLock(level, key, action) if key else None

    return handler


def _rename(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    node = statement.node
    relation = node.get("relation")
    if not relation:
        return None
    if node.get("renameType") == "OBJECT_INDEX" and context.pg_version >= 12:
        return None  # SHARE UPDATE EXCLUSIVE since PostgreSQL 12
    key = _existing(context, relation)
    return BlockingLock(ACCESS_EXCLUSIVE, key, "RENAME") if key else None


def _set_schema(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    node = statement.node
    key = _existing(context, node.get("relation"))
    return BlockingLock(ACCESS_EXCLUSIVE, key, "SET SCHEMA") if key else None


def _create(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    node = statement.node
    # PARTITION OF locks the parent ACCESS EXCLUSIVE; REFERENCES locks the referenced table
    # SHARE ROW EXCLUSIVE.
    if node.get("partbound"):
        for item in node.get("inhRelations") or ():
            key = _existing(context, unwrap(item)[1])
            if key:
                return BlockingLock(ACCESS_EXCLUSIVE, key, "CREATE TABLE ... PARTITION OF")
    for element in node.get("tableElts") or ():
        kind, inner = unwrap(element)
        constraints = [element] if kind == "Constraint" else inner.get("constraints") or ()
        for constraint in constraints:
            _, body = unwrap(constraint)
            if body.get("contype") == "CONSTR_FOREIGN":
                key = _existing(context, body.get("pktable"))
                if key:
                    return BlockingLock(SHARE_ROW_EXCLUSIVE, key, "CREATE TABLE ... REFERENCES")
    return None


def _view(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    # CREATE OR REPLACE VIEW locks the view it replaces ACCESS EXCLUSIVE.
    node = statement.node
    if not node.get("replace"):
        return None
    key = _existing(context, node.get("view"))
    return BlockingLock(ACCESS_EXCLUSIVE, key, "CREATE OR REPLACE VIEW") if key else None


def _lock(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    node = statement.node
    level = _LOCK_MODES.get(node.get("mode", 8))
    if level is None:
        return None
    return _relations(node, context, "relations", "LOCK TABLE", level)


_HANDLERS: dict[str, Handler] = {
    "AlterTableStmt": _alter_table,
    "IndexStmt": _index,
    "DropStmt": _drop,
    "TruncateStmt": _truncate,
    "VacuumStmt": _vacuum,
    "ClusterStmt": _cluster,
    "RefreshMatViewStmt": _refresh,
    "ReindexStmt": _reindex,
    "CreateTrigStmt": _on_table("relation", SHARE_ROW_EXCLUSIVE, "CREATE TRIGGER"),
    "CreatePolicyStmt": _on_table("table", ACCESS_EXCLUSIVE, "CREATE POLICY"),
    "AlterPolicyStmt": _on_table("table", ACCESS_EXCLUSIVE, "ALTER POLICY"),
    "RuleStmt": _on_table("relation", ACCESS_EXCLUSIVE, "CREATE RULE"),
    "RenameStmt": _rename,
    "AlterObjectSchemaStmt": _set_schema,
    "CreateStmt": _create,
    "LockStmt": _lock,
    "ViewStmt": _view,
}

#: The statement types :func:`blocking_lock` knows (a rule's ``node_types``).
HANDLED_TYPES: tuple[str, ...] = tuple(_HANDLERS)


class BlockingLockTimeoutRule(StatementRule):
    """A rule asking for a timeout setting before a migration's first blocking statement.

    Subclasses say whether the setting is in effect (:meth:`timeout_set`) and what the finding
    says about the lock (:meth:`message`). One finding per file, at the first statement that
    takes a blocking lock on an existing relation without the setting; schema files are left
    alone.
    """

    node_types: ClassVar[tuple[str, ...]] = HANDLED_TYPES

    def __init__(self, options: BaseModel | None = None) -> None:
        super().__init__(options)
        # The file already reported on: one finding per file.
        self._reported: weakref.ref[JsonScript] | None = None

    def timeout_set(self, context: StatementContext) -> bool:
        """Whether the timeout this rule asks for is in effect."""
        raise NotImplementedError

    def message(self, lock: BlockingLock) -> str:
        """The finding for a blocking lock taken without the timeout."""
        raise NotImplementedError

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag the file's first blocking statement with no timeout set before it."""
        if not context.migration or self.timeout_set(context):
            return
        if self._reported is not None and self._reported() is context.script:
            return
        lock = blocking_lock(statement, context)
        if lock is None:
            return
        self._reported = weakref.ref(context.script)
        yield Violation(self.message(lock))
