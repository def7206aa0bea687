"""hipaa-phi-column-classified."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, phi_tables
from plimsoll.db.lint.schema_facts import classification, column_finding


class PhiColumnClassified(SchemaRule):
    """Columns that look like PHI say so in a classification comment.

    **Problem.** A column whose name says it holds protected health information (``ssn``,
    ``mrn``, ``diagnosis``, ``date_of_birth``, or a name, address or phone number in a table
    holding PHI) has no comment classifying it, so neither a reviewer nor a tool reading the
    schema can tell whether it holds ePHI.

    **Why.** The HIPAA Security Rule's risk analysis, 45 CFR 164.308(a)(1)(ii)(A), starts
    from knowing where ePHI is stored; every other safeguard (access control 164.312(a)(1),
    audit controls 164.312(b), encryption 164.312(a)(2)(iv)) is applied to that inventory.
    A comment is stored in the database itself (``pg_description``): it travels with dumps
    and is read by data catalogs, where a spreadsheet kept apart drifts. The convention:
    ``classification: phi`` (or the word ``PHI`` alone, in capitals) marks PHI, any other
    label (``classification: public``) records that the column was reviewed and is not PHI,
    and the other ``hipaa`` rules then leave it alone.

    **Fix.** Add a ``COMMENT ON COLUMN`` with ``classification: phi``, or another label when
    the column does not hold PHI. The name patterns are options of the rule.

    **Example.**

    ```sql
    CREATE TABLE patients (id bigint PRIMARY KEY, mrn bytea, date_of_birth date);
    COMMENT ON COLUMN patients.mrn IS 'classification: phi - medical record number';
    COMMENT ON COLUMN patients.date_of_birth IS 'PHI';
    ```
    """

    id = "hipaa-phi-column-classified"
    severity = Severity.WARNING
    help = "Add COMMENT ON COLUMN ... IS 'classification: phi' (or another label if it is not PHI)."
    version = "1.0.0"

    class Options(PhiOptions):
        """Which columns and tables hold PHI (shared by the hipaa library: set them once under ``db.lint.library_options.hipaa``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each PHI column found by its name that carries no classification label."""
        for phi in phi_tables(catalog, self.options):
            for column in phi.columns:
                if classification(column.comment) is None:
                    key = f"{phi.key}.{column.name}"
                    yield column_finding(
                        phi.table,
                        column,
                        f"column {key} looks like PHI but no comment classifies it"
                        " ('classification: <label>'): it is missing from the inventory of"
                        " ePHI that access, audit and encryption controls are applied to",
                    )
