"""hipaa-phi-audit-columns."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, audited_phi_tables
from plimsoll.db.lint.schema_facts import finding, missing_columns


class PhiAuditColumns(SchemaRule):
    """Tables holding PHI record who created and last changed each row, and when.

    **Problem.** A table holding PHI lacks one of the audit columns (by default
    ``created_at``, ``created_by``, ``updated_at`` and ``updated_by``).

    **Why.** 45 CFR 164.312(b) (audit controls) asks for mechanisms that record activity in
    systems containing ePHI, and 164.312(c)(1) (integrity) for protecting ePHI from improper
    alteration; 164.308(a)(1)(ii)(D) asks that this activity be reviewed. Without who and
    when on the row itself, an altered diagnosis cannot be traced to the user who changed
    it, and a review cannot tell recent changes from old ones. The columns complement, and
    do not replace, an audit trigger (``hipaa-phi-audit-trigger``): they keep the last
    change, the trigger keeps them all.

    **Fix.** Add the columns, filled by defaults and a trigger (``updated_at``) or by the
    application (``created_by``, ``updated_by``: the end user, not the shared database role).
    The column names are the ``audit_columns`` option.

    Audit and access-log tables (the ``log_table_patterns`` option) are left out: they are
    the audit trail, and auditing them in turn would never end.

    **Example.**

    ```sql
    CREATE TABLE diagnoses (
        id bigint PRIMARY KEY,
        icd10_code text,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by text NOT NULL
    );
    ```
    """

    id = "hipaa-phi-audit-columns"
    severity = Severity.ERROR
    help = "Add the missing audit columns (who and when, for creation and last change)."
    version = "1.1.0"

    class Options(PhiOptions):
        """Which tables hold PHI, and the audit columns each must have."""

        audit_columns: tuple[str, ...] = Field(
            default=("created_at", "created_by", "updated_at", "updated_by"),
            description="The columns every table holding PHI must have.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each PHI table missing an audit column."""
        for phi in audited_phi_tables(catalog, self.options):
            missing = missing_columns(phi.table, self.options.audit_columns)
            if missing:
                yield finding(
                    phi.table,
                    f"table {phi.describe()} lacks the audit columns {', '.join(missing)}:"
                    " who created or changed a record of PHI, and when, is lost",
                )
