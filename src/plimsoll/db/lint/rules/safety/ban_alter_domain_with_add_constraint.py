"""ban-alter-domain-with-add-constraint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement, name_key, unwrap

# AlterDomainStmt subtypes: 'C' is ADD CONSTRAINT, 'O' is SET NOT NULL.
_ADD_CONSTRAINT = "C"
_SET_NOT_NULL = "O"


class BanAlterDomainWithAddConstraint(StatementRule):
    """Do not add constraints to an existing domain.

    **Problem.** ``ALTER DOMAIN ... ADD CONSTRAINT`` (and ``ALTER DOMAIN ... SET NOT NULL``)
    checks every row of every table that has a column of the domain, holding a SHARE lock on
    each of those tables for the whole check: writes to all of them are blocked until every
    row has been read. With ``NOT VALID`` the existing rows are not checked, but a later
    ``VALIDATE CONSTRAINT`` scans them all, and the constraint still binds every column of
    the domain at once.

    **Why.** A constraint on the columns themselves can be added ``NOT VALID`` and
    validated under a SHARE UPDATE EXCLUSIVE lock (reads and writes go on), one table at a
    time.

    **Fix.** Add ``CHECK`` (or ``NOT NULL``, through a ``CHECK (column IS NOT NULL) NOT
    VALID`` first) to the columns that need it, table by table. squawk flags ``ADD
    CONSTRAINT`` with or without ``NOT VALID``; this rule also flags ``SET NOT NULL``, which
    checks the same way. Schema files build a fresh database and are not checked.

    **Example.**

    ```sql
    -- scans every table with a price column, blocking writes to each
    ALTER DOMAIN price ADD CONSTRAINT price_positive CHECK (VALUE >= 0);
    -- one table at a time, without blocking writes
    ALTER TABLE items ADD CONSTRAINT items_price_positive CHECK (price >= 0) NOT VALID;
    ALTER TABLE items VALIDATE CONSTRAINT items_price_positive;
    ```
    """

    id = "ban-alter-domain-with-add-constraint"
    severity = Severity.WARNING
    help = "Add the constraint to the table columns (NOT VALID, then VALIDATE), not the domain."
    node_types: ClassVar[tuple[str, ...]] = ("AlterDomainStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag ALTER DOMAIN ... ADD CONSTRAINT and ALTER DOMAIN ... SET NOT NULL."""
        node = statement.node
        subtype = node.get("subtype")
        if not context.migration or subtype not in (_ADD_CONSTRAINT, _SET_NOT_NULL):
            return
        domain = name_key(node.get("typeName"), context.default_schema)
        if subtype == _SET_NOT_NULL:
            yield Violation(
                f"ALTER DOMAIN {domain} SET NOT NULL checks every table with a column of"
                f" {domain}, blocking writes to each until all its rows are read"
            )
            return
        _, constraint = unwrap(node.get("def"))
        location = constraint.get("location", -1)
        location = location if isinstance(location, int) and location >= 0 else None
        if constraint.get("skip_validation"):
            message = (
                f"ALTER DOMAIN {domain} ADD CONSTRAINT ... NOT VALID binds every column of"
                f" {domain} at once, and validating it later scans every table that uses it"
            )
        else:
            message = (
                f"ALTER DOMAIN {domain} ADD CONSTRAINT checks every table with a column of"
                f" {domain}, blocking writes to each until all its rows are read"
            )
        yield Violation(message, location=location)
