"""ban-non-transactional-statement-in-transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.migrator_view import MAY_NEED_NO_TRANSACTION
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._transactions import TOOL_BLOCK, transaction_block
from plimsoll.db.sqljson import JsonStatement


class BanNonTransactionalStatementInTransaction(StatementRule):
    """Keep statements that cannot run in a transaction block out of one.

    **Problem.** PostgreSQL refuses a number of statements inside a transaction block, with
    *cannot run inside a transaction block*: ``VACUUM`` (not ``ANALYZE`` alone), ``CREATE
    DATABASE``, ``DROP DATABASE``, ``ALTER DATABASE ... SET TABLESPACE``, ``ALTER SYSTEM``,
    ``CREATE TABLESPACE``, ``DROP TABLESPACE``, ``REINDEX SCHEMA|DATABASE|SYSTEM``,
    ``CLUSTER`` without a table, ``DISCARD ALL``, ``CREATE SUBSCRIPTION`` that creates a
    slot, ``ALTER SUBSCRIPTION ... REFRESH PUBLICATION``, ``DROP SUBSCRIPTION`` of a
    subscription with a slot, ``COMMIT PREPARED`` and ``ROLLBACK PREPARED``, and before
    PostgreSQL 12 ``ALTER TYPE ... ADD VALUE``. The migration fails at that statement.

    **Why.** These statements commit work of their own, or act on things outside the
    database that cannot be rolled back; PostgreSQL will not let a transaction's rollback
    promise something it cannot keep. Which statements are refused is decided as plimsoll's
    migrator decides it (:func:`plimsoll.db.sql.transactional`), for the PostgreSQL version
    linted against.

    **Fix.** Move the statement out of the ``BEGIN ... COMMIT`` block, or into a migration of
    its own that runs outside a transaction. Reported after a ``BEGIN`` in the file, and
    under ``assume_in_transaction`` (the tool's transaction) unless the statement is the
    file's only one: such a migration of its own can run outside the tool's transaction.
    plimsoll's migrator runs a migration holding such a statement outside any transaction,
    statement by statement (it drops a ``BEGIN ... COMMIT`` around the whole file), so its
    migrations are not reported. The ``CONCURRENTLY`` forms are
    ``ban-concurrent-index-creation-in-transaction``'s.

    **Example.**

    ```sql
    BEGIN;
    DELETE FROM events WHERE created_at < now() - interval '1 year';
    VACUUM events;  -- refused: VACUUM cannot run inside a transaction block
    COMMIT;
    ```
    """

    id = "ban-non-transactional-statement-in-transaction"
    severity = Severity.ERROR
    help = (
        "Run the statement outside the transaction block: after the COMMIT, or in a migration"
        " of its own that runs outside a transaction."
    )
    # The statements the migrator's own test looks at (it decides which of them qualify).
    node_types: ClassVar[tuple[str, ...]] = tuple(sorted(MAY_NEED_NO_TRANSACTION))

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag a statement PostgreSQL refuses in the transaction block it would run in."""
        block = transaction_block(statement, context)
        if block is None:
            return
        if block == TOOL_BLOCK and len(context.script.statements) == 1:
            return  # a migration of its own: the tool can run it without a transaction
        reason = refusal(statement, context)
        if reason is None or "CONCURRENTLY" in reason:
            return
        yield Violation(
            f"{reason} cannot run inside {block}: PostgreSQL refuses it and the migration fails"
        )


def refusal(statement: JsonStatement, context: StatementContext) -> str | None:
    """Why PostgreSQL refuses ``statement`` in a transaction block (as the migrator says it),
    or None when it does not.

    The migrator's own test reads pglast's Python tree: the statement alone is parsed again
    for it, which only statements of the kinds above, inside a transaction block, ever cost.
    """
    from plimsoll.db.sql import SqlSyntaxError, parse_sql, transactional

    try:
        parsed = parse_sql(context.text(statement), context.file)
    except SqlSyntaxError:  # the whole file parsed: its statement alone does too
        return None
    if len(parsed.statements) != 1:
        return None
    requirement = transactional(parsed.statements[0], context.pg_version * 10000)
    return None if requirement.in_transaction else requirement.reason
