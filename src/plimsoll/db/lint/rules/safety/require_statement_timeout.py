"""require-statement-timeout."""

from __future__ import annotations

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules.safety._blocking_locks import (
    BlockingLock,
    BlockingLockTimeoutRule,
    article,
)


class RequireStatementTimeout(BlockingLockTimeoutRule):
    """Set statement_timeout before a migration statement that takes a blocking lock.

    **Problem.** A statement that holds a lock blocking reads or writes on an existing table
    (``ALTER TABLE``, a non-concurrent ``CREATE INDEX``, ``DROP``, ``TRUNCATE``, ``VACUUM
    FULL``, ``CLUSTER``, ``REFRESH MATERIALIZED VIEW``, ``REINDEX``...) holds it for as long
    as it runs. If it turns out to rewrite or scan a table far larger than expected, nothing
    stops it: the table stays blocked until it finishes.

    **Why.** ``statement_timeout`` bounds the damage of a migration that is slower than
    planned: it is cancelled, its lock released, and the service recovers, instead of an
    outage of unknown length.

    **Fix.** ``SET statement_timeout = '30s'`` (or ``SET LOCAL`` inside the transaction),
    sized for the slowest statement you expect, before the first such statement. Statements
    on tables created earlier in the same migration, and those that take only SHARE UPDATE
    EXCLUSIVE (``CREATE INDEX CONCURRENTLY``, ``VALIDATE CONSTRAINT``), are not reported.
    One finding per file, at the first statement that needs the timeout. If your migration
    tool sets ``statement_timeout`` for every migration, disable this rule.

    What counts as set follows PostgreSQL. A value of 0 in any unit (``0``, ``'0s'``,
    ``'0ms'``) turns the timeout off, as not setting it does. ``SET LOCAL`` lasts until the
    transaction ends: after the ``COMMIT`` (or ``ROLLBACK``) that closes it, the statements
    run without it, and a ``ROLLBACK`` also takes back a plain ``SET`` made since ``BEGIN``.
    ``SET LOCAL`` outside any transaction block has no effect at all (PostgreSQL only warns),
    and the finding says so. A file runs in a transaction block after its ``BEGIN``, under
    ``assume_in_transaction``, or when it is one of the project's migrations that plimsoll's
    migrator runs in one transaction (every migration but those holding a statement that
    cannot run in one, such as ``VACUUM``): there ``SET LOCAL`` at the top of the file lasts
    to its end. (That migrator also sets both timeouts itself, from ``db.lock_timeout`` and
    ``db.statement_timeout``: with ``db.lint.migrator_settings`` on, its migrations start
    with them set.)

    **Example.**

    ```sql
    SET statement_timeout = '30s';
    ALTER TABLE orders ALTER COLUMN total TYPE numeric(14, 2);
    ```
    """

    id = "require-statement-timeout"
    severity = Severity.WARNING
    version = "1.1.0"
    setting = "statement_timeout"
    help = "SET statement_timeout (sized for the slowest expected statement) before this one."

    def timeout_set(self, context: StatementContext) -> bool:
        """Whether ``statement_timeout`` is set."""
        return context.statement_timeout_set

    def message(self, lock: BlockingLock) -> str:
        """What holds which lock, with nothing to stop it if it runs long."""
        return (
            f"{lock.action} holds {article(lock.level)} {lock.level} lock on {lock.relation}"
            f" with no statement_timeout: if it runs long, {lock.blocks} of {lock.relation}"
            " stay blocked until it ends"
        )
