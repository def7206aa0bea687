"""adding-foreign-key-constraint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement, unwrap


class AddingForeignKeyConstraint(StatementRule):
    """Add foreign keys to existing tables NOT VALID, and validate them separately.

    **Problem.** Adding a foreign key to an existing table (``ADD CONSTRAINT ... FOREIGN
    KEY``, or ``ADD COLUMN ... REFERENCES``) takes a SHARE ROW EXCLUSIVE lock on *both* the
    table and the referenced table, and checks every existing row while holding it: writes
    to both tables are blocked for the whole scan.

    **Why.** The referenced table is often the busiest one (``users``, ``accounts``), so a
    foreign key on a large child table stalls writes to a table that is not even being
    changed.

    **Fix.** ``ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID`` only takes the locks for an
    instant; then ``VALIDATE CONSTRAINT`` in a separate transaction checks the rows under
    SHARE UPDATE EXCLUSIVE on the table and ROW SHARE on the referenced one, blocking no
    writes. For a new column, add it first, then add the constraint NOT VALID. A table
    created in the same migration is exempt.

    **Example.**

    ```sql
    ALTER TABLE orders ADD CONSTRAINT orders_customer_fk
        FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
    -- in a separate transaction
    ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
    ```
    """

    id = "adding-foreign-key-constraint"
    severity = Severity.WARNING
    help = "Add the foreign key NOT VALID, then VALIDATE CONSTRAINT in a separate transaction."
    node_types: ClassVar[tuple[str, ...]] = ("AlterTableStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag each validated foreign key added to an existing table."""
        node = statement.node
        if not context.migration or node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
            return
        table = context.key(node.get("relation"))
        if context.is_new(table):
            return
        for command in node.get("cmds") or ():
            _, cmd = unwrap(command)
            subtype = cmd.get("subtype")
            if subtype == "AT_AddConstraint":
                _, constraint = unwrap(cmd.get("def"))
                if constraint.get("contype") != "CONSTR_FOREIGN" or constraint.get(
                    "skip_validation"
                ):
                    continue
                what = f"ADD CONSTRAINT {constraint.get('conname') or 'FOREIGN KEY'}"
                constraints = [constraint]
            elif subtype == "AT_AddColumn":
                _, column = unwrap(cmd.get("def"))
                constraints = [
                    body
                    for body in (unwrap(c)[1] for c in column.get("constraints") or ())
                    if body.get("contype") == "CONSTR_FOREIGN"
                ]
                what = f"ADD COLUMN {column.get('colname', '')} ... REFERENCES"
            else:
                continue
            for constraint in constraints:
                referenced = context.key(constraint.get("pktable"))
                yield Violation(
                    f"{what} on {table} takes a SHARE ROW EXCLUSIVE lock on {table} and"
                    f" {referenced} and checks every row: writes to both tables are blocked"
                    " until the check ends",
                    location=constraint.get("location"),
                )
