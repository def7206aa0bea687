"""ban-drop-not-null."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.safety._statement_parts import AlterCommand, AlterTableRule

_DROP_NOT_NULL = frozenset({"AT_DropNotNull"})


class BanDropNotNull(AlterTableRule):
    """Do not drop NOT NULL from a column that clients read.

    **Problem.** ``ALTER TABLE ... ALTER COLUMN c DROP NOT NULL`` lets NULL into a column
    that every reader has been written to trust: code that dereferences the value, sums it,
    or maps it to a non-optional field breaks on the first NULL.

    **Why.** The migration is instant and safe for the database; the failures come later, in
    the clients, when a NULL finally appears, far from the change that allowed it. Old
    application versions still running during a rolling deploy are the first to break.

    **Fix.** First make every reader handle NULL and deploy that, then drop the constraint.
    If the goal is to retire the column, stop writing it and drop it with the usual
    expand/contract steps instead. A table created in the same migration is exempt, and so is
    a column that an earlier migration of the same lint run left nullable already.

    **Example.**

    ```sql
    -- readers that assume a value break on the first NULL
    ALTER TABLE orders ALTER COLUMN customer_id DROP NOT NULL;
    ```
    """

    id = "ban-drop-not-null"
    severity = Severity.WARNING
    version = "1.0.1"
    help = "Make every reader handle NULL (and deploy it) before dropping NOT NULL."
    subtypes = _DROP_NOT_NULL

    def judge(self, command: AlterCommand) -> Iterator[Violation]:
        """Flag a DROP NOT NULL (of a column not already nullable, as far as is known)."""
        known = command.context.carried.column(command.table, command.name)
        if known is not None and not known.not_null:
            return  # nullable already (an earlier migration made it so): nothing changes
        yield Violation(
            f"DROP NOT NULL on {command.table}.{command.name} lets NULL into a column that"
            " existing clients expect to always hold a value",
            location=command.location,
        )
