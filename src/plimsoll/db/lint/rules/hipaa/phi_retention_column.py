"""hipaa-phi-retention-column."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, audited_phi_tables

_RETENTION_TAG = re.compile(r"\bretention\s*[:=]", re.IGNORECASE)


class PhiRetentionColumn(SchemaRule):
    """Tables holding PHI say how long each row is kept.

    **Problem.** A table holding PHI has no retention column (by default ``retain_until``,
    ``retention_until``, ``retention_expires_at``, ``purge_after`` or ``dispose_after``) and
    its comment declares no retention (``retention: <period>``).

    **Why.** 45 CFR 164.310(d)(2)(i) (disposal) requires policies for the final disposition
    of ePHI, and 164.316(b)(2)(i) keeps the documentation of safeguards, audit records
    included, for six years; state medical-records laws set their own periods. A disposal
    job can only purge what the schema says is due: a per-row date (set from the record type
    and the governing law) or a declared table-wide period makes retention checkable, where
    a policy document alone leaves PHI kept forever.

    **Fix.** Add a retention column (a date after which the row is purged or de-identified)
    or declare the table's period in its comment. The accepted column names are the
    ``retention_columns`` option.

    Audit and access-log tables (the ``log_table_patterns`` option) are left out: they are
    the audit trail, and auditing them in turn would never end.

    **Example.**

    ```sql
    ALTER TABLE encounters ADD COLUMN retain_until date NOT NULL DEFAULT (current_date + interval '10 years');
    COMMENT ON TABLE lab_results IS 'classification: phi; retention: 7 years after discharge';
    ```
    """

    id = "hipaa-phi-retention-column"
    severity = Severity.WARNING
    help = "Add a retention column (retain_until) or declare 'retention: <period>' in the table comment."
    version = "1.1.0"

    class Options(PhiOptions):
        """Which tables hold PHI, and the column names that declare retention."""

        retention_columns: tuple[str, ...] = Field(
            default=(
                "retain_until",
                "retention_until",
                "retention_expires_at",
                "purge_after",
                "dispose_after",
            ),
            description="Any one of these columns declares the row's retention.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each PHI table with neither a retention column nor a retention comment."""
        wanted = set(self.options.retention_columns)
        for phi in audited_phi_tables(catalog, self.options):
            table = phi.table
            if any(c.name in wanted for c in table.columns):
                continue
            if table.comment and _RETENTION_TAG.search(table.comment):
                continue
            yield Violation(
                f"table {phi.describe()} declares no retention (no column"
                f" {' or '.join(self.options.retention_columns)}, no 'retention:' comment):"
                " nothing tells when its PHI is due for disposal",
                object=phi.key,
                origin=table.origin,
            )
