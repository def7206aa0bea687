"""ban-uncommitted-transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement

_BEGINS = frozenset({"TRANS_STMT_BEGIN", "TRANS_STMT_START"})
# What ends a transaction block: COMMIT (and END), ROLLBACK (and ABORT), PREPARE TRANSACTION.
_ENDS = frozenset({"TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE"})


class BanUncommittedTransaction(StatementRule):
    """Close every transaction a file opens.

    **Problem.** A file that says ``BEGIN`` (or ``START TRANSACTION``) and never ``COMMIT``
    leaves its changes in an open transaction when it ends. Run by ``psql`` or most
    migration runners, the session then closes and PostgreSQL rolls everything back: the
    migration reports success and changed nothing. Run by a tool that wraps the file in its
    own transaction, the ``BEGIN`` is only a warning and the tool's ``COMMIT`` decides: the
    same file does different things depending on how it is applied.

    **Why.** A migration recorded as applied but not applied is found later, by the code
    that needs it, in production.

    **Fix.** End the transaction with ``COMMIT`` (or ``ROLLBACK`` on purpose), or remove the
    ``BEGIN`` and let the tool manage the transaction. The finding points at the last
    ``BEGIN`` with no ``COMMIT``, ``ROLLBACK`` or ``PREPARE TRANSACTION`` after it, as
    squawk's does. The rule applies to migrations and schema files alike.

    **Example.**

    ```sql
    BEGIN;
    CREATE TABLE users (id bigint PRIMARY KEY);
    -- no COMMIT: rolled back when the session ends
    ```
    """

    id = "ban-uncommitted-transaction"
    severity = Severity.ERROR
    help = "Add COMMIT at the end of the transaction, or remove the BEGIN."
    node_types: ClassVar[tuple[str, ...]] = ("TransactionStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag a BEGIN that no later statement of the file closes (nor a later BEGIN)."""
        if statement.node.get("kind") not in _BEGINS:
            return
        statements = context.script.statements
        # Stops at the next transaction statement: each BEGIN reads only up to the next one,
        # so a whole file costs one pass however many transactions it has.
        for later in statements[statement.index + 1 :]:
            if later.kind == "TransactionStmt":
                kind = later.node.get("kind")
                if kind in _ENDS or kind in _BEGINS:
                    return
        yield Violation(
            "the transaction opened here is never committed: when the session ends, everything"
            " after this BEGIN is rolled back"
        )
