"""hipaa-phi-primary-key."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, phi_tables
from plimsoll.db.lint.schema_facts import finding, primary_key


class PhiPrimaryKey(SchemaRule):
    """Tables holding PHI have a primary key, so audit records can name the row.

    **Problem.** A table holding PHI has no primary key.

    **Why.** An audit trail (45 CFR 164.312(b)) must say which record was read or changed;
    without a key, an audit row can only copy the whole row, and two identical rows cannot
    be told apart. 164.312(c)(1) (integrity) and 164.312(c)(2) (mechanisms to authenticate
    ePHI) need a stable identity to check a record against its history; duplicates of a
    patient's record go unnoticed; and logical replication, often how a standby for
    contingency (164.308(a)(7)) is fed, cannot replicate UPDATE and DELETE on a table
    without a replica identity.

    **Fix.** Add a primary key (an identity column, or the natural key).

    **Example.**

    ```sql
    ALTER TABLE lab_results ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
    ```
    """

    id = "hipaa-phi-primary-key"
    severity = Severity.ERROR
    help = "Add a PRIMARY KEY (for example a bigint identity column)."
    version = "1.0.0"

    class Options(PhiOptions):
        """Which columns and tables hold PHI (shared by the hipaa library: set them once under ``db.lint.library_options.hipaa``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each PHI table without a primary key."""
        for phi in phi_tables(catalog, self.options):
            if primary_key(phi.table) is None:
                yield finding(
                    phi.table,
                    f"table {phi.describe()} has no primary key: audit records cannot name"
                    " the row they are about, and duplicate records of a patient go unnoticed",
                )
