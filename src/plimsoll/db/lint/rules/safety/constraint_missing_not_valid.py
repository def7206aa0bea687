"""constraint-missing-not-valid."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._migration_facts import migration_facts
from plimsoll.db.lint.rules.safety._statement_parts import command_location
from plimsoll.db.sqljson import JsonStatement, Node, unwrap


class ConstraintMissingNotValid(StatementRule):
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
    transaction). A table created in the same migration is exempt.

    **Example.**

    ```sql
    ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
    COMMIT;  -- or: the next migration
    ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
    ```
    """

    id = "constraint-missing-not-valid"
    severity = Severity.WARNING
    help = "Add the constraint NOT VALID, then VALIDATE CONSTRAINT in a separate transaction."
    node_types: ClassVar[tuple[str, ...]] = ("AlterTableStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag CHECK/FOREIGN KEY adds without NOT VALID, and VALIDATE in the add's transaction."""
        node = statement.node
        if not context.migration or node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
            return
        table = context.key(node.get("relation"))
        if context.is_new(table):
            return
        for position, command in enumerate(node.get("cmds") or ()):
            _, cmd = unwrap(command)
            subtype = cmd.get("subtype")
            if subtype == "AT_AddConstraint":
                _, constraint = unwrap(cmd.get("def"))
                found = self._add(constraint, table, context)
                if found is not None:
                    yield found
            elif subtype == "AT_ValidateConstraint":
                if self._same_transaction(statement, context, table, cmd.get("name", "")):
                    yield Violation(
                        f"VALIDATE CONSTRAINT {cmd.get('name', '')} on {table} runs in the same"
                        " transaction as its NOT VALID add: the add's lock on"
                        f" {table} is held through the whole validation scan",
                        location=command_location(
                            statement, context, node.get("relation"), position
                        ),
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
        if context.explicit_transaction:
            return True
        # The migration tool's transaction lasts until the file's first COMMIT or ROLLBACK.
        return context.assume_in_transaction and not facts.ended_before(statement.index)
