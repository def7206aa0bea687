"""Which transaction block a migration's statement runs in, as the lint sees the file run.

Three things put a statement in a transaction block: a ``BEGIN`` earlier in the file (until
its ``COMMIT`` or ``ROLLBACK``); a migration tool wrapping every file in one transaction
(``assume_in_transaction``, until the file's own ``COMMIT`` ends it); and plimsoll's own
migrator, which runs each of the project's migrations (``wrapped``) in one transaction, except
a file holding a statement that cannot run in one (``VACUUM``, ``CREATE INDEX CONCURRENTLY``,
``ALTER TYPE ... ADD VALUE`` before PostgreSQL 12...), which it runs statement by statement
outside any; it drops one ``BEGIN ... COMMIT`` pair around a whole file and refuses any other
transaction control (``transaction-nesting`` reports that). The answer for the migrator
comes from its own planning (:mod:`plimsoll.db.lint.migrator_view`).
"""

from __future__ import annotations

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rules.safety._migration_facts import migration_facts
from plimsoll.db.sqljson import JsonStatement

BEGIN_BLOCK = "the transaction block opened by BEGIN"
TOOL_BLOCK = "the transaction the migration tool wraps the file in"
MIGRATOR_BLOCK = "the transaction plimsoll's migrator runs the migration in"


def transaction_block(statement: JsonStatement, context: StatementContext) -> str | None:
    """The transaction block ``statement`` runs in (in words), or None when it runs alone.

    A file the migrator refuses runs nowhere: None (another rule says why).
    """
    run = context.migrator_run
    if run is not None:
        return MIGRATOR_BLOCK if run.in_transaction else None
    if context.explicit_transaction:
        return BEGIN_BLOCK
    if (
        context.migration
        and context.assume_in_transaction
        and not migration_facts(context).ended_before(statement.index)
    ):
        return TOOL_BLOCK
    return None
