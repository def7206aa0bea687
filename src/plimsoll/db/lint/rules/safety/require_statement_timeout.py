"""require-statement-timeout."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import ClassVar

from pydantic import BaseModel

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._blocking_locks import HANDLED_TYPES, article, blocking_lock
from plimsoll.db.sqljson import JsonScript, JsonStatement


class RequireStatementTimeout(StatementRule):
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

    **Example.**

    ```sql
    SET statement_timeout = '30s';
    ALTER TABLE orders ALTER COLUMN total TYPE numeric(14, 2);
    ```
    """

    id = "require-statement-timeout"
    severity = Severity.WARNING
    help = "SET statement_timeout (sized for the slowest expected statement) before this one."
    node_types: ClassVar[tuple[str, ...]] = HANDLED_TYPES

    def __init__(self, options: BaseModel | None = None) -> None:
        super().__init__(options)
        # The file already reported on: one finding per file.
        self._reported: weakref.ref[JsonScript] | None = None

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag the file's first blocking statement with no statement_timeout set before it."""
        if not context.migration or context.statement_timeout_set:
            return
        if self._reported is not None and self._reported() is context.script:
            return
        lock = blocking_lock(statement, context)
        if lock is None:
            return
        self._reported = weakref.ref(context.script)
        yield Violation(
            f"{lock.action} holds {article(lock.level)} {lock.level} lock on {lock.relation} with no"
            f" statement_timeout: if it runs long, {lock.blocks} of {lock.relation} stay"
            " blocked until it ends"
        )
