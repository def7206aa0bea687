"""constraint-not-validated."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog, quote_ident
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation


class ConstraintNotValidated(SchemaRule):
    """No CHECK or foreign key constraint is left NOT VALID.

    **Problem.** ``ADD CONSTRAINT ... NOT VALID`` is the first half of a safe migration:
    new and updated rows are checked at once, and ``VALIDATE CONSTRAINT`` is meant to check
    the existing rows later, under a lighter lock. When the second half never comes, the
    constraint stays NOT VALID for good.

    **Why.** Rows written before the constraint may still break it: a foreign key may point
    at rows that do not exist, a CHECK may be false, and nothing says which. The planner
    does not trust a NOT VALID CHECK (no constraint exclusion), and ``ALTER COLUMN ... SET
    NOT NULL`` (PostgreSQL 12 and later) only skips its full-table scan for a *validated*
    ``CHECK (col IS NOT NULL)``. In schema files, which build a fresh and empty database,
    NOT VALID has no purpose at all.

    **Fix.** Run ``ALTER TABLE ... VALIDATE CONSTRAINT <name>`` in a later migration (it
    takes SHARE UPDATE EXCLUSIVE on the table, and ROW SHARE on a foreign key's referenced
    table: reads and writes go on); in a schema file, drop ``NOT VALID``.

    **Example.**

    ```sql
    ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
    -- in the next migration:
    ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
    ```
    """

    id = "constraint-not-validated"
    severity = Severity.WARNING
    help = "ALTER TABLE ... VALIDATE CONSTRAINT <name> (in a later migration)."

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each CHECK and foreign key constraint that is not validated."""
        for table in catalog.all_tables():
            for constraint in table.constraints:
                if constraint.validated or constraint.kind not in ("c", "f"):
                    continue
                if constraint.kind == "f":
                    what = (
                        f"foreign key {constraint.name} on {table.key} is NOT VALID: existing"
                        " rows may reference rows that do not exist"
                    )
                else:
                    what = (
                        f"CHECK constraint {constraint.name} on {table.key} is NOT VALID:"
                        " existing rows may break it, and the planner does not rely on it"
                    )
                yield Violation(
                    what,
                    object=f"{table.key}.{constraint.name}",
                    origin=constraint.origin,
                    help=(
                        f"ALTER TABLE {table.sql_name} VALIDATE CONSTRAINT"
                        f" {quote_ident(constraint.name)}"
                        " (in a later migration; in a schema file, drop NOT VALID)."
                    ),
                )
