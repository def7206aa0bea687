"""constraint-missing-not-valid."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import quote_ident
from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.safety._blocking_locks import foreign_key_locks, statement_locks
from plimsoll.db.lint.rules.safety._migration_facts import migration_facts
from plimsoll.db.lint.rules.safety._statement_parts import AlterCommand, AlterTableRule
from plimsoll.db.sqljson import JsonStatement

_ADD_OR_VALIDATE = frozenset({"AT_AddConstraint", "AT_ValidateConstraint", "AT_AddColumn"})


class ConstraintMissingNotValid(AlterTableRule):
    """Add CHECK and FOREIGN KEY constraints to existing tables as NOT VALID, then validate.

    **Problem.** ``ALTER TABLE ... ADD CONSTRAINT ... CHECK`` checks every existing row while
    holding an ACCESS EXCLUSIVE lock (reads and writes blocked), and so does ``ADD COLUMN ...
    CHECK (...)``: the new column's check is run on every row too; ``ADD ... FOREIGN KEY``
    does it under SHARE ROW EXCLUSIVE on both tables (writes blocked; ACCESS EXCLUSIVE on the
    table when the statement also adds a column). Running ``VALIDATE
    CONSTRAINT`` in the same transaction as the ``NOT VALID`` add is no better: the add's
    lock is held until the transaction ends, through the whole validation scan.

    **Why.** ``NOT VALID`` makes the add instant (new rows are checked from then on) and
    ``VALIDATE CONSTRAINT`` checks the old rows under SHARE UPDATE EXCLUSIVE, which blocks
    neither reads nor writes, but only when it runs in its own transaction.

    **Fix.** ``ADD CONSTRAINT ... NOT VALID``, commit, then ``VALIDATE CONSTRAINT`` in a
    separate transaction (a separate migration when the tool wraps each one in a
    transaction: plimsoll's migrator runs each of the project's migrations in one). A column
    constraint cannot be NOT VALID: add the column without its CHECK, then add the CHECK as
    a table constraint NOT VALID and validate it. (A column's ``REFERENCES`` is
    ``adding-foreign-key-constraint``'s.) A table created in the same migration is exempt.

    **Example.**

    ```sql
    ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
    COMMIT;  -- or: the next migration
    ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
    -- instead of ALTER TABLE orders ADD COLUMN discount numeric CHECK (discount >= 0):
    ALTER TABLE orders ADD COLUMN discount numeric;
    ALTER TABLE orders ADD CONSTRAINT orders_discount_check CHECK (discount >= 0) NOT VALID;
    COMMIT;  -- or: the next migration
    ALTER TABLE orders VALIDATE CONSTRAINT orders_discount_check;
    ```
    """

    id = "constraint-missing-not-valid"
    severity = Severity.WARNING
    version = "1.2.0"
    help = "Add the constraint NOT VALID, then VALIDATE CONSTRAINT in a separate transaction."
    subtypes = _ADD_OR_VALIDATE

    def judge(self, command: AlterCommand) -> Iterator[Violation]:
        """Flag a CHECK/FOREIGN KEY add without NOT VALID (a column's CHECK included), or
        VALIDATE in the add's transaction."""
        table, context = command.table, command.context
        if command.subtype == "AT_AddColumn":
            yield from self._column_checks(command)
        elif command.subtype == "AT_AddConstraint":
            found = self._add(command, table, context)
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
    def _column_checks(command: AlterCommand) -> Iterator[Violation]:
        """ADD COLUMN ... CHECK: PostgreSQL checks the new column's value on every row."""
        column = command.column
        for constraint in command.constraints("CONSTR_CHECK"):
            name = constraint.get("conname")
            yield Violation(
                f"ADD COLUMN {column} ... CHECK{' ' + name if name else ''} on {command.table}"
                " checks every row under an ACCESS EXCLUSIVE lock: reads and writes are"
                " blocked until the scan ends",
                location=constraint.get("location"),
                help=f"Add {quote_ident(column)} without the CHECK, then ADD CONSTRAINT ..."
                " CHECK (...) NOT VALID and VALIDATE CONSTRAINT in a separate transaction.",
            )

    @staticmethod
    def _add(command: AlterCommand, table: str, context: StatementContext) -> Violation | None:
        constraint = command.definition
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
            levels = statement_locks(command.statement, context)
            message = (
                f"ADD CONSTRAINT {name} FOREIGN KEY on {table}"
                f" {foreign_key_locks(table, referenced, levels)}"
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
