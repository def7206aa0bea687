"""How plimsoll's own migrator will run a migration file, for the rules that depend on it.

The project's migrations (``wrapped`` in the lint context) are run by
:mod:`plimsoll.db.migrator`: each in one transaction; a file holding a statement that cannot
run in a transaction block (``CREATE INDEX CONCURRENTLY``, ``VACUUM``, ...) statement by
statement outside one; a file with transaction control other than one ``BEGIN ... COMMIT``
around all of it is refused. The answer here comes from the migrator's own planning
(:func:`plimsoll.db.migration_plan.plan_text`), so the lint and the migrator cannot disagree.

Planning parses the file again with pglast's Python AST, which is slow on large files; it is
only asked for files that hold a statement that might change the answer (a cheap look at the
JSON trees), so a file of plain DDL costs nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from plimsoll.core.errors import InputError
from plimsoll.db.sqljson import JsonScript, unwrap

# Statement kinds the migrator may run outside a transaction, or refuse (transaction control):
# those PostgreSQL may refuse inside a transaction block.
MAY_NEED_NO_TRANSACTION = frozenset(
    {
        "TransactionStmt",
        "ReindexStmt",
        "VacuumStmt",
        "ClusterStmt",
        "CreatedbStmt",
        "DropdbStmt",
        "AlterDatabaseStmt",
        "AlterSystemStmt",
        "CreateTableSpaceStmt",
        "DropTableSpaceStmt",
        "AlterEnumStmt",
        "CreateSubscriptionStmt",
        "AlterSubscriptionStmt",
        "DropSubscriptionStmt",
        "DiscardStmt",
    }
)


@dataclass(frozen=True)
class MigratorRun:
    """How the migrator runs one file.

    ``refused`` is the migrator's message when it will not run the file at all; ``outside``
    says why it runs the file outside a transaction (``line 2: VACUUM``); with neither, the
    whole file runs in one transaction.
    """

    refused: str | None = None
    outside: str | None = None

    @property
    def in_transaction(self) -> bool:
        """Whether the whole file runs in one transaction."""
        return self.refused is None and self.outside is None


def migrator_run(script: JsonScript, pg_version: int) -> MigratorRun:
    """How plimsoll's migrator will run ``script`` on PostgreSQL ``pg_version`` (a major)."""
    if not _may_matter(script):
        return MigratorRun()
    from plimsoll.db.migration_plan import plan_text
    from plimsoll.db.sql import SqlSyntaxError

    try:
        plan = plan_text(script.text, script.source, pg_version * 10000)
    except SqlSyntaxError:  # the JSON parse of the same text succeeded: not expected
        return MigratorRun()
    except InputError as exc:
        return MigratorRun(refused=str(exc))
    return MigratorRun(outside=None if plan.transactional else plan.reason)


def _may_matter(script: JsonScript) -> bool:
    """Whether a statement of ``script`` might make the migrator leave the transaction."""
    for statement in script.statements:
        kind, node = statement.kind, statement.node
        if kind in MAY_NEED_NO_TRANSACTION:
            return True
        if kind in ("IndexStmt", "DropStmt") and node.get("concurrent"):
            return True
        if kind == "AlterTableStmt" and any(
            unwrap(command)[1].get("subtype") == "AT_DetachPartition"
            for command in node.get("cmds") or ()
        ):
            return True
    return False
