"""hipaa-phi-table-logged."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, phi_tables
from plimsoll.db.lint.schema_facts import finding


class PhiTableLogged(SchemaRule):
    """Tables holding PHI are not UNLOGGED.

    **Problem.** A table holding PHI is ``UNLOGGED``.

    **Why.** PostgreSQL writes no WAL for an unlogged table: after a crash or an unclean
    shutdown it is truncated, its contents are not replicated to standby servers, and
    point-in-time recovery cannot restore them. 45 CFR 164.308(a)(7)(ii)(A) and (B) (data
    backup plan, disaster recovery plan) require retrievable exact copies of ePHI and the
    means to restore any loss, and 164.312(c)(1) (integrity) protection from improper
    destruction; an unlogged table loses its PHI, and the audit trail of it, at the first
    crash.

    **Fix.** ``ALTER TABLE ... SET LOGGED`` (it rewrites the table and writes it to WAL).

    **Example.**

    ```sql
    ALTER TABLE patient_intake SET LOGGED;
    ```
    """

    id = "hipaa-phi-table-logged"
    severity = Severity.ERROR
    help = "ALTER TABLE ... SET LOGGED (or create it without UNLOGGED)."
    version = "1.0.0"

    class Options(PhiOptions):
        """Which columns and tables hold PHI (shared by the hipaa library: set them once under ``db.lint.library_options.hipaa``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each unlogged PHI table."""
        for phi in phi_tables(catalog, self.options):
            if phi.table.unlogged:
                yield finding(
                    phi.table,
                    f"table {phi.describe()} is UNLOGGED: it is emptied after a crash, not"
                    " replicated to standbys and not restorable from WAL, so PHI is lost",
                )
