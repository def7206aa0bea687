"""ban-vacuum-full."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._statement_parts import existing_relation
from plimsoll.db.sqljson import JsonStatement, enabled_options, unwrap


class BanVacuumFull(StatementRule):
    """Do not run VACUUM FULL in a migration.

    **Problem.** ``VACUUM FULL`` rewrites each table it processes into a new file, holding
    an ACCESS EXCLUSIVE lock on it for the whole copy: reads and writes are blocked, and the
    disk needs room for a second copy of the table and its indexes. Without a table name it
    does that to every table of the database.

    **Why.** On a large table the copy takes minutes to hours of downtime. Plain ``VACUUM``
    (SHARE UPDATE EXCLUSIVE) already makes dead space reusable without blocking anyone.

    **Fix.** Use plain ``VACUUM`` (or rely on autovacuum). To give space back to the
    operating system without the long lock, use an online tool such as ``pg_repack`` or
    ``pg_squeeze`` (or ``REPACK ... CONCURRENTLY`` where the server has it), outside the
    migration. Tables created in the same migration are exempt.

    **Example.**

    ```sql
    -- blocks every query on orders while the table is copied
    VACUUM FULL orders;
    -- blocks nobody
    VACUUM (ANALYZE) orders;
    ```
    """

    id = "ban-vacuum-full"
    severity = Severity.WARNING
    version = "1.0.1"
    help = "Use plain VACUUM, or pg_repack/pg_squeeze outside the migration to shrink a table."
    node_types: ClassVar[tuple[str, ...]] = ("VacuumStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag VACUUM FULL of an existing table, or of the whole database."""
        node = statement.node
        if not context.migration or not node.get("is_vacuumcmd"):
            return
        options = enabled_options(node.get("options"))
        if "full" not in options:
            return
        relations = node.get("rels") or ()
        if not relations:
            yield Violation(
                "VACUUM FULL without a table rewrites every table of the database, each under an"
                " ACCESS EXCLUSIVE lock: reads and writes of each table are blocked while it is"
                " copied"
            )
            return
        for item in relations:
            _, relation = unwrap(item)
            range_var = relation.get("relation") or {}
            key = existing_relation(context, range_var)
            if key is None:
                continue
            yield Violation(
                f"VACUUM FULL {key} rewrites the table under an ACCESS EXCLUSIVE lock: reads and"
                f" writes of {key} are blocked until the copy ends",
                location=range_var.get("location"),
            )
