"""ban-cluster."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._statement_parts import existing_relation
from plimsoll.db.sqljson import JsonStatement


class BanCluster(StatementRule):
    """Do not run CLUSTER in a migration.

    **Problem.** ``CLUSTER`` rewrites the table in the order of an index, holding an ACCESS
    EXCLUSIVE lock on it for the whole copy: reads and writes are blocked, and the disk needs
    room for a second copy of the table and its indexes. Without a table name it reclusters
    every table that was clustered before.

    **Why.** On a large table the copy takes minutes to hours of downtime, and the order
    decays again as rows change: the benefit rarely pays for the outage.

    **Fix.** Reorder online with ``pg_repack --order-by`` (or ``REPACK ... CONCURRENTLY``
    where the server has it), outside the migration, or rely on an index (a BRIN or covering
    index) instead of physical order. Tables created in the same migration are exempt.

    **Example.**

    ```sql
    -- blocks every query on events while the table is copied
    CLUSTER events USING events_created_at_idx;
    ```
    """

    id = "ban-cluster"
    severity = Severity.WARNING
    help = "Reorder online with pg_repack (or REPACK CONCURRENTLY) outside the migration."
    node_types: ClassVar[tuple[str, ...]] = ("ClusterStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag CLUSTER of an existing table, or of every clustered table."""
        if not context.migration:
            return
        relation = statement.node.get("relation")
        if not relation:
            yield Violation(
                "CLUSTER without a table rewrites every previously clustered table, each under an"
                " ACCESS EXCLUSIVE lock: reads and writes of each are blocked while it is copied"
            )
            return
        key = existing_relation(context, relation)
        if key is None:
            return
        yield Violation(
            f"CLUSTER {key} rewrites the table under an ACCESS EXCLUSIVE lock: reads and writes"
            f" of {key} are blocked until the copy ends",
            location=relation.get("location"),
        )
