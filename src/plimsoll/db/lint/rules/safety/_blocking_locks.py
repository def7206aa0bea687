"""Which statements take a lock that blocks the service's reads or writes, and which lock.

The timeout rules (``require-lock-timeout``, ``require-statement-timeout``) ask this of every
statement of a migration. A lock matters when it conflicts with what the application does all
day: ROW EXCLUSIVE (INSERT, UPDATE, DELETE) or ACCESS SHARE (SELECT). SHARE and stronger
block writes, ACCESS EXCLUSIVE blocks reads too; SHARE UPDATE EXCLUSIVE (``CREATE INDEX
CONCURRENTLY``, ``VALIDATE CONSTRAINT``, plain ``VACUUM``) blocks neither, so a statement that
takes only that lock is left out. While a blocking lock waits behind a long transaction, every
later query on the table queues behind it: that wait is what ``lock_timeout`` bounds.

Which lock each statement takes on which relation comes from the risk lock profile
(:mod:`plimsoll.db.risk.lock_profile`, checked against ``pg_locks``), the one table of lock
facts. What is lint's own: relations created earlier in the same migration (or by the
statement itself) are invisible to other sessions and are left out, a materialized view is
never written so only a lock that blocks its reads matters, and the words of the finding.
"""

from __future__ import annotations

import weakref
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import StatementRule, Violation
from plimsoll.db.lint.rules.safety._migration_facts import migration_facts
from plimsoll.db.risk.alter_table import name_of
from plimsoll.db.risk.lock_profile import profile, unnamed_tables
from plimsoll.db.risk.locks import LockLevel
from plimsoll.db.risk.operations import Knowledge, StatementProfile, TableLock
from plimsoll.db.sqljson import JsonScript, JsonStatement, Node, relation_key, unwrap

ACCESS_EXCLUSIVE = LockLevel.ACCESS_EXCLUSIVE.value


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
    found = _find(statement, context) if statement.kind in _ACTIONS else None
    _last = (statement, weakref.ref(context), state, found)
    return found


def _find(statement: JsonStatement, context: StatementContext) -> BlockingLock | None:
    kind, node = statement.kind, statement.node
    knowledge = _knowledge(context.pg_version)
    found = profile(kind, node, knowledge)
    best: tuple[TableLock, str] | None = None
    for lock in found.locks:
        if not _blocks(kind, lock.level) or (best and lock.level.rank <= best[0].level.rank):
            continue
        key = _existing_key(lock, found, statement, context)
        if key:
            best = (lock, key)
    if best is not None:
        lock, key = best
        return BlockingLock(lock.level.value, key, _ACTIONS[kind](node, key, context))
    scope = unnamed_tables(kind, node, knowledge)
    if scope is None or not _blocks(kind, scope.level):
        return None
    return BlockingLock(scope.level.value, scope.scope, _ACTIONS[kind](node, "", context))


def statement_locks(statement: JsonStatement, context: StatementContext) -> dict[str, LockLevel]:
    """The strongest lock ``statement`` takes on each relation it names, by ``schema.name``
    key (the lock profile's: ``ALTER TABLE p ADD COLUMN w_id bigint REFERENCES w`` takes
    ACCESS EXCLUSIVE on p for the ADD COLUMN and SHARE ROW EXCLUSIVE on w)."""
    node, schema = statement.node, context.default_schema
    out: dict[str, LockLevel] = {}
    for lock in profile(statement.kind, node, _knowledge(context.pg_version)).locks:
        if lock.via_index:
            continue
        key = _key(lock.table, node, schema)
        known = out.get(key)
        if known is None or lock.level.rank > known.rank:
            out[key] = lock.level
    return out


def blocked_by(level: LockLevel | str) -> str:
    """What a lock blocks, in words: ``reads and writes``, ``writes`` or ``nothing``."""
    level = LockLevel(level)
    if level.blocks_reads:
        return "reads and writes"
    return "writes" if level.blocks_writes else "nothing"


def foreign_key_locks(table: str, referenced: str, levels: Mapping[str, LockLevel]) -> str:
    """``takes ... lock(s) on ... and checks every row: ... blocked until the check ends``, with
    the lock the statement takes on each table (``levels``; SHARE ROW EXCLUSIVE, what the
    foreign key alone takes, when the profile does not say)."""
    mine = levels.get(table, LockLevel.SHARE_ROW_EXCLUSIVE)
    theirs = levels.get(referenced, LockLevel.SHARE_ROW_EXCLUSIVE)
    if table == referenced:
        locks = f"{article(mine)} {mine} lock on {table}"
        blocked = f"{blocked_by(mine)} to {table} are"
    elif mine == theirs:
        locks = f"{article(mine)} {mine} lock on {table} and {referenced}"
        blocked = f"{blocked_by(mine)} to both tables are"
    else:
        locks = (
            f"{article(mine)} {mine} lock on {table} and {article(theirs)} {theirs} lock on"
            f" {referenced}"
        )
        blocked = f"{blocked_by(mine)} to {table}, and {blocked_by(theirs)} to {referenced}, are"
    return f"takes {locks} and checks every row: {blocked} blocked until the check ends"


_KNOWLEDGE: dict[int, Knowledge] = {}


def _knowledge(version: int) -> Knowledge:
    # Lint has no live database: the profile's worst-case assumptions, at the target version.
    known = _KNOWLEDGE.get(version)
    if known is None:
        known = _KNOWLEDGE[version] = Knowledge(pg_version=version)
    return known


def _blocks(kind: str, level: LockLevel) -> bool:
    # Nothing writes a materialized view but REFRESH: on one, only a lock that blocks reads
    # holds the service up (REFRESH ... CONCURRENTLY's EXCLUSIVE does not).
    return level.blocks_reads if kind == "RefreshMatViewStmt" else level.blocks_writes


def _key(name: str, node: Node, schema: str) -> str:
    """The ``schema.name`` key of a relation name as the profile writes it (``name_of``)."""
    if "." not in name:
        return f"{schema}.{name}"
    # Schema-qualified, or a quoted name with a dot in it: the RangeVar it came from says which
    # (RangeVars sit in fields unwrapped as often as wrapped, hence the search for ``relname``).
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "relname" in item and name_of(item) == name:
                return relation_key(item, schema)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    parts = name.split(".")
    return f"{parts[-2]}.{parts[-1]}"


def _existing_key(
    lock: TableLock, found: StatementProfile, statement: JsonStatement, context: StatementContext
) -> str | None:
    """The key of the locked relation, or None when it is new to this migration."""
    if lock.via_index:
        # The context tracks the relations a migration creates, not its indexes.
        facts = migration_facts(context)
        key = facts.name_key_at(lock.table.split("."), statement.index)
        new = context.is_new(key) or facts.index_created_before(key, statement.index)
        return None if new else key
    node, schema = statement.node, context.default_schema
    key = _key(lock.table, node, schema)
    created = {_key(name, node, schema) for name in found.creates}
    return None if context.is_new(key) or key in created else key


# The words of a finding: what the statement is doing when it takes the lock on ``key``
# (empty for tables it does not name).
def _alter_table(node: Node, key: str, context: StatementContext) -> str:
    objtype = node.get("objtype", "OBJECT_TABLE")
    what = _word(objtype)
    if not key or key == context.key(node.get("relation")):
        return f"ALTER {what}"
    for command in node.get("cmds") or ():
        _, cmd = unwrap(command)
        subtype = cmd.get("subtype", "")
        if subtype in _PARTITION_WORDS:
            _, partition = unwrap(cmd.get("def"))
            if context.key(partition.get("name")) == key:
                return _PARTITION_WORDS[subtype]
    return f"ALTER {what} ... REFERENCES"


_PARTITION_WORDS = {
    "AT_AttachPartition": "ATTACH PARTITION",
    "AT_DetachPartition": "DETACH PARTITION",
}


def _drop(node: Node, key: str, context: StatementContext) -> str:
    kind = node.get("removeType", "")
    return "DROP SCHEMA ... CASCADE" if kind == "OBJECT_SCHEMA" else f"DROP {_word(kind)}"


def _word(kind: str) -> str:
    return kind.removeprefix("OBJECT_").replace("_", " ").replace("MATVIEW", "MATERIALIZED VIEW")


def _reindex(node: Node, key: str, context: StatementContext) -> str:
    return f"REINDEX {node.get('kind', '').removeprefix('REINDEX_OBJECT_')}"


def _create(node: Node, key: str, context: StatementContext) -> str:
    if node.get("partbound"):
        parents = {context.key(unwrap(item)[1]) for item in node.get("inhRelations") or ()}
        if key in parents:
            return "CREATE TABLE ... PARTITION OF"
    return "CREATE TABLE ... REFERENCES"


_Action = Callable[[Node, str, StatementContext], str]


def _fixed(action: str) -> _Action:
    def words(node: Node, key: str, context: StatementContext) -> str:
        return action

    return words


_ACTIONS: dict[str, _Action] = {
    "AlterTableStmt": _alter_table,
    "IndexStmt": _fixed("CREATE INDEX"),
    "DropStmt": _drop,
    "TruncateStmt": _fixed("TRUNCATE"),
    "VacuumStmt": _fixed("VACUUM FULL"),
    "ClusterStmt": _fixed("CLUSTER"),
    "RefreshMatViewStmt": _fixed("REFRESH MATERIALIZED VIEW"),
    "ReindexStmt": _reindex,
    "CreateTrigStmt": _fixed("CREATE TRIGGER"),
    "CreatePolicyStmt": _fixed("CREATE POLICY"),
    "AlterPolicyStmt": _fixed("ALTER POLICY"),
    "RuleStmt": _fixed("CREATE RULE"),
    "RenameStmt": _fixed("RENAME"),
    "AlterObjectSchemaStmt": _fixed("SET SCHEMA"),
    "CreateStmt": _create,
    "LockStmt": _fixed("LOCK TABLE"),
    "ViewStmt": _fixed("CREATE OR REPLACE VIEW"),
}

#: The statement types :func:`blocking_lock` knows (a rule's ``node_types``).
HANDLED_TYPES: tuple[str, ...] = tuple(_ACTIONS)


class BlockingLockTimeoutRule(StatementRule):
    """A rule asking for a timeout setting before a migration's first blocking statement.

    Subclasses say whether the setting is in effect (:meth:`timeout_set`) and what the finding
    says about the lock (:meth:`message`). One finding per file, at the first statement that
    takes a blocking lock on an existing relation without the setting; schema files are left
    alone.
    """

    node_types: ClassVar[tuple[str, ...]] = HANDLED_TYPES
    # The setting asked for (``lock_timeout``): a SET LOCAL of it that had no effect is named.
    setting: ClassVar[str]

    def __init__(self, options: BaseModel | None = None) -> None:
        super().__init__(options)
        # The file already reported on: one finding per file.
        self._reported: weakref.ref[JsonScript] | None = None

    @abstractmethod
    def timeout_set(self, context: StatementContext) -> bool:
        """Whether the timeout this rule asks for is in effect."""

    @abstractmethod
    def message(self, lock: BlockingLock) -> str:
        """The finding for a blocking lock taken without the timeout."""

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
        message = self.message(lock)
        ignored = context.ineffective.get(self.setting)
        if ignored is not None:
            line, _ = context.script.line_column(ignored)
            message += (
                f" (the SET LOCAL {self.setting} at line {line} had no effect: it ran outside"
                " any transaction block)"
            )
        yield Violation(message)
