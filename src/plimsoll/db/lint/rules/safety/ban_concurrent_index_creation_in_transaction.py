"""ban-concurrent-index-creation-in-transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._migration_facts import migration_facts
from plimsoll.db.sqljson import JsonStatement, enabled_options, unwrap


class BanConcurrentIndexCreationInTransaction(StatementRule):
    """Keep CONCURRENTLY index operations out of transaction blocks.

    **Problem.** ``CREATE INDEX CONCURRENTLY``, ``DROP INDEX CONCURRENTLY``, ``REINDEX ...
    CONCURRENTLY`` and ``ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY`` cannot run inside
    a transaction block: PostgreSQL refuses them with *cannot run inside a transaction
    block*, and the migration fails.

    **Why.** A concurrent operation commits several transactions of its own, waiting between
    them for older transactions to finish; it cannot do that inside yours. The statement
    fails after a ``BEGIN`` in the file, and also when the migration tool wraps every file in
    a transaction (``assume_in_transaction``), until the file's own ``COMMIT`` ends that
    transaction. A migration whose only statement is the concurrent one is not reported
    under ``assume_in_transaction``: that is the migration of its own the fix asks for, and
    migration tools can run it outside a transaction. plimsoll's migrator runs any of the
    project's migrations holding one outside a transaction, statement by statement (it drops
    a ``BEGIN ... COMMIT`` around the whole file), so those are not reported.

    **Fix.** Put the concurrent statement in a migration of its own that runs outside a
    transaction (most tools have a per-migration switch for it), or move it after the
    ``COMMIT``.

    **Example.**

    ```sql
    BEGIN;
    CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);  -- fails
    COMMIT;
    ```
    """

    id = "ban-concurrent-index-creation-in-transaction"
    severity = Severity.ERROR
    version = "1.1.0"
    help = "Run the CONCURRENTLY statement outside a transaction block, in a migration of its own."
    node_types: ClassVar[tuple[str, ...]] = (
        "IndexStmt",
        "DropStmt",
        "ReindexStmt",
        "AlterTableStmt",
    )

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag a concurrent index operation that would run in a transaction block."""
        if context.migration and context.wrapped:
            # plimsoll's migrator runs a file holding one outside any transaction (dropping a
            # BEGIN ... COMMIT around the whole file), or refuses the file (another rule's).
            return
        # The cheap questions first: most statements run in no transaction at all.
        wrapped = (
            context.migration
            and context.assume_in_transaction
            # A file of this one statement is the "migration of its own" the fix asks for:
            # tools that wrap files in a transaction can run such a file without one.
            and len(context.script.statements) > 1
        )
        if not context.explicit_transaction and not wrapped:
            return
        what = _concurrent(statement)
        if what is None:
            return
        if context.explicit_transaction:
            where = "inside the transaction block opened by BEGIN"
        elif not migration_facts(context).ended_before(statement.index):
            where = "inside the transaction the migration tool wraps the file in"
        else:
            return
        yield Violation(f"{what} cannot run {where}: PostgreSQL refuses it and the migration fails")


def _concurrent(statement: JsonStatement) -> str | None:
    """The name of the concurrent operation ``statement`` is, or None."""
    node = statement.node
    kind = statement.kind
    if kind == "IndexStmt" and node.get("concurrent"):
        return "CREATE INDEX CONCURRENTLY"
    if kind == "DropStmt" and node.get("concurrent"):
        return "DROP INDEX CONCURRENTLY"
    if kind == "ReindexStmt":
        params = enabled_options(node.get("params"))
        return "REINDEX CONCURRENTLY" if "concurrently" in params else None
    if kind == "AlterTableStmt":
        for command in node.get("cmds") or ():
            _, cmd = unwrap(command)
            if cmd.get("subtype") == "AT_DetachPartition":
                _, partition = unwrap(cmd.get("def"))
                if partition.get("concurrent"):
                    return "DETACH PARTITION CONCURRENTLY"
    return None
