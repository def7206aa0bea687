"""require-lock-timeout."""

from __future__ import annotations

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules.safety._blocking_locks import (
    BlockingLock,
    BlockingLockTimeoutRule,
    article,
)


class RequireLockTimeout(BlockingLockTimeoutRule):
    """Set lock_timeout before a migration statement that takes a blocking lock.

    **Problem.** A statement that needs a lock blocking reads or writes (``ALTER TABLE``, a
    non-concurrent ``CREATE INDEX``, ``DROP``, ``TRUNCATE``, ``CREATE TRIGGER``, ``VACUUM
    FULL``, ``CLUSTER``, ``REFRESH MATERIALIZED VIEW``, ``REINDEX``, ``LOCK``...) on an
    existing table waits for every transaction that holds a conflicting lock, however long
    that takes; meanwhile every other query on the table queues behind it.

    **Why.** Even an instant change (adding a nullable column) becomes an outage when it
    waits behind a long report or an idle-in-transaction session: the lock queue, not the
    change, blocks the service. ``lock_timeout`` makes the statement give up instead, so the
    migration fails fast and can be retried.

    **Fix.** ``SET lock_timeout = '2s'`` (or ``SET LOCAL`` inside the transaction) before the
    first such statement, and retry the migration when it times out. Statements on tables
    created earlier in the same migration, and those that take only SHARE UPDATE EXCLUSIVE
    (``CREATE INDEX CONCURRENTLY``, ``VALIDATE CONSTRAINT``, plain ``VACUUM``), are not
    reported. One finding per file, at the first statement that needs the timeout. If your
    migration tool sets ``lock_timeout`` for every migration, disable this rule.

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
    SET lock_timeout = '2s';
    ALTER TABLE orders ADD COLUMN note text;
    ```
    """

    id = "require-lock-timeout"
    severity = Severity.WARNING
    version = "1.1.0"
    setting = "lock_timeout"
    help = "SET lock_timeout (for example '2s') before this statement, and retry on timeout."

    def timeout_set(self, context: StatementContext) -> bool:
        """Whether ``lock_timeout`` is set."""
        return context.lock_timeout_set

    def message(self, lock: BlockingLock) -> str:
        """What waits, on which lock, with nothing to stop it."""
        return (
            f"{lock.action} waits for {article(lock.level)} {lock.level} lock on"
            f" {lock.relation} with no lock_timeout: while it waits behind running transactions,"
            f" every query on {lock.relation} that needs {_conflicts(lock.level)} queues behind it"
        )


def _conflicts(level: str) -> str:
    """What the queued lock holds up, in words."""
    return "to read or write" if level == "ACCESS EXCLUSIVE" else "to write"
