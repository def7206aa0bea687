"""adding-not-nullable-field."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import quote_ident
from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.safety._migration_facts import migration_facts
from plimsoll.db.lint.rules.safety._statement_parts import AlterCommand, AlterTableRule
from plimsoll.db.sqljson import strings

# SET NOT NULL, and ADD CONSTRAINT ... NOT NULL (PostgreSQL 18).
_SETS_NOT_NULL = frozenset({"AT_SetNotNull", "AT_AddConstraint"})


class AddingNotNullableField(AlterTableRule):
    """Set NOT NULL on an existing column only behind a validated CHECK.

    **Problem.** ``ALTER TABLE ... ALTER COLUMN c SET NOT NULL`` scans the whole table to
    prove there is no NULL, holding an ACCESS EXCLUSIVE lock that blocks reads and writes for
    the length of the scan. (So does PostgreSQL 18's ``ADD CONSTRAINT ... NOT NULL c``
    without ``NOT VALID``.)

    **Why.** On a large table the scan takes minutes, all of them downtime. From PostgreSQL
    12, the scan is skipped when a *validated* ``CHECK (c IS NOT NULL)`` constraint already
    proves it, and validating a CHECK only takes SHARE UPDATE EXCLUSIVE, which blocks
    nobody.

    **Fix.** On PostgreSQL 12+: ``ADD CONSTRAINT c_not_null CHECK (c IS NOT NULL) NOT
    VALID`` (instant), ``VALIDATE CONSTRAINT c_not_null`` in a separate transaction (scans
    without blocking), then ``SET NOT NULL`` (no scan) and drop the CHECK. On PostgreSQL 18
    ``ADD CONSTRAINT ... NOT NULL c NOT VALID`` then ``VALIDATE CONSTRAINT`` does the same in
    two steps. Before 12 there is no way around the scan: keep the validated CHECK instead of
    NOT NULL. The rule accepts a ``SET NOT NULL`` that an earlier statement of the same file,
    or an earlier migration linted in the same run, prepared with a validated CHECK (``c IS
    NOT NULL``, or ``NOT (c IS NULL)``, which PostgreSQL reads the same; one
    validated outside what is linted is not seen: silence the finding there with ``--
    plimsoll: ignore adding-not-nullable-field``). A table created in the same migration is
    exempt.

    **Example.**

    ```sql
    ALTER TABLE orders ADD CONSTRAINT orders_status_not_null
        CHECK (status IS NOT NULL) NOT VALID;
    ALTER TABLE orders VALIDATE CONSTRAINT orders_status_not_null;
    ALTER TABLE orders ALTER COLUMN status SET NOT NULL;  -- no scan on PostgreSQL 12+
    ALTER TABLE orders DROP CONSTRAINT orders_status_not_null;
    ```
    """

    id = "adding-not-nullable-field"
    severity = Severity.WARNING
    version = "1.0.2"
    help = (
        "Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in another transaction, then SET"
        " NOT NULL (no scan on PostgreSQL 12+) and drop the CHECK."
    )
    subtypes = _SETS_NOT_NULL

    def judge(self, command: AlterCommand) -> Iterator[Violation]:
        """Flag SET NOT NULL (or ADD ... NOT NULL) that has to scan the table."""
        if command.subtype == "AT_SetNotNull":
            columns = [command.name]
        else:
            constraint = command.definition
            if constraint.get("contype") != "CONSTR_NOTNULL" or constraint.get("skip_validation"):
                return
            columns = strings(constraint.get("keys"))
        pg_version = command.context.pg_version
        if pg_version >= 12:
            facts = migration_facts(command.context)
            index = command.statement.index
            carried = command.context.carried
            columns = [
                c
                for c in columns
                if not facts.not_null_proven(command.table, c, index)
                and not carried.proven_not_null(command.table, c)
            ]
        if not columns:
            return
        column = columns[0]
        yield Violation(
            f"SET NOT NULL on {command.table}.{column} scans the whole table under an ACCESS"
            " EXCLUSIVE lock: reads and writes are blocked until the scan ends",
            location=command.location,
            help=self._help(pg_version, column),
        )

    @staticmethod
    def _help(pg_version: int, name: str) -> str:
        column = quote_ident(name)  # SQL to paste: "Note" must stay "Note"
        if pg_version < 12:
            return (
                "Before PostgreSQL 12, SET NOT NULL always scans: keep a validated CHECK"
                f" ({column} IS NOT NULL) instead (add it NOT VALID, then VALIDATE it)."
            )
        also = (
            f" On PostgreSQL 18, ADD CONSTRAINT ... NOT NULL {column} NOT VALID then VALIDATE"
            " CONSTRAINT also works."
            if pg_version >= 18
            else ""
        )
        return (
            f"Add CHECK ({column} IS NOT NULL) NOT VALID, VALIDATE it in another transaction,"
            f" then SET NOT NULL (no scan) and drop the CHECK.{also}"
        )
