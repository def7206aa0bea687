"""adding-foreign-key-constraint."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.safety._blocking_locks import foreign_key_locks, statement_locks
from plimsoll.db.lint.rules.safety._statement_parts import ADDS, AlterCommand, AlterTableRule
from plimsoll.db.risk.locks import LockLevel


class AddingForeignKeyConstraint(AlterTableRule):
    """Add foreign keys to existing tables NOT VALID, and validate them separately.

    **Problem.** Adding a foreign key to an existing table (``ADD CONSTRAINT ... FOREIGN
    KEY``, or ``ADD COLUMN ... REFERENCES``) takes a SHARE ROW EXCLUSIVE lock on *both* the
    table and the referenced table, and checks every existing row while holding it: writes
    to both tables are blocked for the whole scan. With ``ADD COLUMN ... REFERENCES`` (or
    any other subcommand of the same statement that needs it) the table itself is locked
    ACCESS EXCLUSIVE, so its reads are blocked too; the finding names the lock each table
    gets.

    **Why.** The referenced table is often the busiest one (``users``, ``accounts``), so a
    foreign key on a large child table stalls writes to a table that is not even being
    changed.

    **Fix.** ``ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID`` only takes the locks for an
    instant; then ``VALIDATE CONSTRAINT`` in a separate transaction checks the rows under
    SHARE UPDATE EXCLUSIVE on the table and ROW SHARE on the referenced one, blocking no
    writes. For a new column, add it first, then add the constraint NOT VALID. A table
    created in the same migration is exempt.

    On a partitioned table PostgreSQL 17 and earlier refuse a NOT VALID foreign key: add it
    NOT VALID to each partition and VALIDATE it there, then add it to the partitioned table,
    which adopts the partitions' validated keys without scanning them again (this rule cannot
    see that the partitions have theirs: say so with an inline ignore).

    **Example.**

    ```sql
    ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
        FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
    -- in a separate transaction
    ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
    -- a partitioned table: each partition first, then the parent (no scan)
    ALTER TABLE events_2025 ADD CONSTRAINT events_account_fk
        FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;
    ALTER TABLE events_2025 VALIDATE CONSTRAINT events_account_fk;
    -- every partition has it, validated:
    -- plimsoll: ignore adding-foreign-key-constraint, constraint-missing-not-valid
    ALTER TABLE events ADD CONSTRAINT events_account_fk
        FOREIGN KEY (account_id) REFERENCES accounts (id);
    ```
    """

    id = "adding-foreign-key-constraint"
    severity = Severity.WARNING
    version = "1.0.1"
    help = "Add the foreign key NOT VALID, then VALIDATE CONSTRAINT in a separate transaction."
    subtypes = ADDS

    def judge(self, command: AlterCommand) -> Iterator[Violation]:
        """Flag each validated foreign key the subcommand adds."""
        if command.subtype == "AT_AddConstraint":
            what = f"ADD CONSTRAINT {command.definition.get('conname') or 'FOREIGN KEY'}"
        else:
            what = f"ADD COLUMN {command.column} ... REFERENCES"
        table = command.table
        levels: dict[str, LockLevel] | None = None
        for constraint in command.constraints("CONSTR_FOREIGN"):
            if constraint.get("skip_validation"):
                continue
            if levels is None:
                levels = statement_locks(command.statement, command.context)
            referenced = command.context.key(constraint.get("pktable"))
            yield Violation(
                f"{what} on {table} {foreign_key_locks(table, referenced, levels)}",
                location=constraint.get("location"),
            )
