"""constraint-missing-not-valid."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.safety._migration_facts import migration_facts
from plimsoll.db.lint.rules.safety._statement_parts import AlterCommand, AlterTableRule
from plimsoll.db.sqljson import JsonStatement, Node

_ADD_OR_VALIDATE = frozenset({"AT_AddConstraint", "AT_ValidateConstraint"})


class ConstraintMissingNotValid(AlterTableRule):
    """Add CHECK and FOREIGN KEY constraints to existing tables as NOT VALID, then validate.

    **Problem.** ``ALTER TABLE ... ADD CONSTRAINT ... CHECK`` checks every existing row while
    holding an ACCESS EXCLUSIVE lock (reads and writes blocked); ``ADD ... FOREIGN KEY`` does
    it under SHARE ROW EXCLUSIVE on both tables (writes blocked). Running ``VALIDATE
    CONSTRAINT`` in the same transaction as the ``NOT VALID`` add is no better: the add's
    lock is held until the transaction ends, through the whole validation scan.

    **Why.** ``NOT VALID`` makes the add instant (new rows are checked from then on) and
    ``VALIDATE CONSTRAINT`` checks the old rows under SHARE UPDATE EXCLUSIVE, which blocks
    neither reads nor writes, but only when it runs in its own transaction.

    **Fix.** ``ADD CONSTRAINT ... NOT VALID``, commit, then ``VALIDATE CONSTRAINT`` in a
    separate transaction (a separate migration when the tool wraps each one in a
    transaction: plimsoll's migrator runs each of the project's migrations in one). A table
    created in the same migration is exempt.

    **Example.**

    ```sql
    ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
    COMMIT;  -- or: the next migration
    ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
    ```
    """

    id = "constraint-missing-not-valid"
    severity = Severity.WARNING
    version = "1.1.0"
    help = "Add the constraint NOT VALID, then VALIDATE CONSTRAINT in a separate transaction."
    subtypes = _ADD_OR_VALIDATE

    def judge(self, command: AlterCommand) -> Iterator[Violation]:
        """Flag a CHECK/FOREIGN KEY add without NOT VALID, or VALIDATE in the add's transaction."""
        table, context = command.table, command.context
        if command.subtype == "AT_AddConstraint":
            found = self._add(command.definition, table, context)
            if found is not None:
                yield found
        elif self._same_transaction(command.statement, context, table, command.name):
            yield Violation(
                f"VALIDATE CONSTRAINT {command.name} on {table} runs in the same"
                " transaction as its NOT VALID add: the add's lock on"
                f" {table} is held through the whole validation scan",
                location=command.location,
                help="Commit after ADD CONSTRAINT ... NOT VALID and run VALIDATE"
                " CONSTRAINT in a separate transaction (or migration).",
            )

    @staticmethod
    def _add(constraint: Node, table: str, context: StatementContext) -> Violation | None:
        contype = constraint.get("contype")
        if contype not in ("CONSTR_CHECK", "CONSTR_FOREIGN") or constraint.get("skip_validation"):
            return None
        name = constraint.get("conname") or ""
        if contype == "CONSTR_CHECK":
            message = (
                f"ADD CONSTRAINT {name} CHECK on {table} checks every row under an ACCESS"
                " EXCLUSIVE lock: reads and writes are blocked until the scan ends"
            )
        else:
            referenced = context.key(constraint.get("pktable"))
            message = (
                f"ADD CONSTRAINT {name} FOREIGN KEY on {table} checks every row under a SHARE"
                f" ROW EXCLUSIVE lock on {table} and {referenced}: writes to both are blocked"
                " until the scan ends"
            )
        return Violation(" ".join(message.split()), location=constraint.get("location"))

    @staticmethod
    def _same_transaction(
        statement: JsonStatement, context: StatementContext, table: str, name: str
    ) -> bool:
        facts = migration_facts(context)
        added = facts.not_valid_before(table, name, statement.index)
        if added is None or facts.boundary_between(added, statement.index):
            return False
        if context.explicit_transaction or context.wrapped_in_transaction:
            return True
        # The migration tool's transaction lasts until the file's first COMMIT or ROLLBACK.
        return context.assume_in_transaction and not facts.ended_before(statement.index)
