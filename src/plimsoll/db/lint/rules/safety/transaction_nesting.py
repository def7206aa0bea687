"""transaction-nesting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement

_BEGINS = frozenset({"TRANS_STMT_BEGIN", "TRANS_STMT_START"})
_ENDS = frozenset({"TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK"})


class TransactionNesting(StatementRule):
    """Open and close transactions exactly once, and not under the migration tool's.

    **Problem.** PostgreSQL has no nested transactions. A ``BEGIN`` inside an open
    transaction is ignored with a warning, so the first ``COMMIT`` ends the outer transaction
    and everything after it runs outside any transaction; a ``COMMIT`` or ``ROLLBACK`` with no
    transaction open does nothing. When the migration tool wraps each file in a transaction
    (``assume_in_transaction``), the file's own ``BEGIN`` is such a nested one and its
    ``COMMIT`` ends the tool's transaction early: the rest of the file, and the tool's record
    that the migration ran, are no longer atomic with it.

    **Why.** A migration that fails half-way should leave nothing behind. With nested
    transaction statements, part of it is committed and part is not, and re-running it fails
    on what is already there.

    **Fix.** Let one party manage the transaction: remove ``BEGIN``/``COMMIT`` from files the
    tool wraps, and never open a second ``BEGIN`` before the first ``COMMIT``. Use
    ``SAVEPOINT`` for a partial rollback. With ``assume_in_transaction``, every ``BEGIN``,
    ``COMMIT`` and ``ROLLBACK`` of a migration is reported. plimsoll's own migrator runs each
    of the project's migrations in one transaction and accepts one ``BEGIN ... COMMIT``
    around a whole file (it drops the pair); it refuses any other transaction control, so in
    those files each such statement is reported.

    **Example.**

    ```sql
    BEGIN;
    ALTER TABLE orders ADD COLUMN note text;
    BEGIN;  -- ignored: the COMMIT below ends the first transaction
    ALTER TABLE orders ADD COLUMN tag text;
    COMMIT;
    ```
    """

    id = "transaction-nesting"
    severity = Severity.WARNING
    version = "1.1.0"
    help = (
        "Remove the nested BEGIN/COMMIT: let one party (the file or the tool) own the transaction."
    )
    node_types: ClassVar[tuple[str, ...]] = ("TransactionStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag BEGIN inside a transaction, and COMMIT/ROLLBACK outside one or of the tool's."""
        kind = statement.node.get("kind", "")
        run = context.migrator_run
        if run is not None and run.refused is not None:
            yield Violation(
                f"plimsoll's migrator refuses this migration: {_reason(run.refused)}",
                help="Remove the transaction statements (the migrator runs the migration in"
                " one transaction), or split the file into one migration per transaction.",
            )
            return
        tool = context.migration and context.assume_in_transaction
        if kind in _BEGINS:
            if context.explicit_transaction:
                yield Violation(
                    "BEGIN inside an open transaction is ignored: the next COMMIT ends the outer"
                    " transaction, and what follows runs outside any transaction"
                )
            elif tool:
                yield Violation(
                    "BEGIN inside the transaction the migration tool wraps the file in is"
                    " ignored: the file's COMMIT then ends the tool's transaction early"
                )
        elif kind in _ENDS:
            word = "COMMIT" if kind == "TRANS_STMT_COMMIT" else "ROLLBACK"
            if tool:
                yield Violation(
                    f"{word} ends the transaction the migration tool wraps the file in: what"
                    " follows, and the tool's record of the migration, are no longer atomic"
                    " with what came before"
                )
            elif not context.explicit_transaction:
                yield Violation(
                    f"{word} with no transaction open does nothing",
                    help=f"Remove the {word}, or add the BEGIN it was meant to close.",
                )


def _reason(refusal: str) -> str:
    """The migrator's refusal without its ``file:line:`` prefix (the finding has its own)."""
    head, sep, rest = refusal.partition(": ")
    return rest if sep and ":" in head else refusal
