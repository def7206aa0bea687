"""ban-truncate-cascade."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement, unwrap


class BanTruncateCascade(StatementRule):
    """Do not TRUNCATE ... CASCADE in a migration.

    **Problem.** ``TRUNCATE t CASCADE`` also empties every table with a foreign key to
    ``t``, and every table with a foreign key to those, recursively: the statement names one
    table and deletes the rows of many, under an ACCESS EXCLUSIVE lock on each.

    **Why.** Which tables it reaches depends on the foreign keys of the live database at the
    moment it runs, not on what the migration's author saw: a foreign key added later by
    someone else turns a cleanup of a staging table into the loss of production data.

    **Fix.** Name every table to empty in the ``TRUNCATE`` (without ``CASCADE``, it fails
    if a table outside the list references one inside, which is the check you want), or
    ``DELETE`` the rows you mean to delete.

    **Example.**

    ```sql
    -- also empties orders, invoices, ... if they reference customers
    TRUNCATE customers CASCADE;
    -- empties exactly these, and fails if anything else references them
    TRUNCATE customers, customer_notes;
    ```
    """

    id = "ban-truncate-cascade"
    severity = Severity.WARNING
    help = "List every table to empty in the TRUNCATE and drop CASCADE."
    node_types: ClassVar[tuple[str, ...]] = ("TruncateStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag TRUNCATE ... CASCADE in a migration."""
        node = statement.node
        if not context.migration or node.get("behavior") != "DROP_CASCADE":
            return
        names = [context.key(unwrap(item)[1]) for item in node.get("relations") or ()]
        tables = ", ".join(names)
        yield Violation(
            f"TRUNCATE {tables} CASCADE also empties every table that references"
            f" {'them' if len(names) > 1 else 'it'} through a foreign key, recursively"
        )
