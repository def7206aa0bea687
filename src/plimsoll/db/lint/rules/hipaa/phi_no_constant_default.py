"""hipaa-phi-no-constant-default."""

from __future__ import annotations

import re
from collections.abc import Iterator

from plimsoll.db.catalog import Catalog, Column
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, phi_tables
from plimsoll.db.lint.schema_facts import column_finding

# A literal, maybe negative or parenthesised, maybe cast: 'x'::text, ('x'::text), -1, true.
_CONSTANT = re.compile(
    r"""^\(*\s*(?:'(?:[^']|'')*'|[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?|true|false)\s*\)*"""
    r"""(?:\s*::\s*[\w\s."\[\]()]+)?\s*\)*$""",
    re.IGNORECASE,
)


def constant_default(column: Column) -> str | None:
    """The column's default when it is a constant (a literal, maybe cast), else None."""
    default = column.default
    if default is None or column.generated or column.identity:
        return None
    text = default.strip()
    if text.lower().startswith("null"):
        return None
    return text if _CONSTANT.match(text) else None


class PhiNoConstantDefault(SchemaRule):
    """Columns holding PHI have no constant default.

    **Problem.** A column holding PHI has a constant default (``DEFAULT 'unknown'``,
    ``DEFAULT '1900-01-01'``, ``DEFAULT false``).

    **Why.** A made-up value is indistinguishable from a recorded one: a row that never had
    a date of birth looks as if the patient was born in 1900, a diagnosis never entered reads
    as ``'none'``. 45 CFR 164.312(c)(1) (integrity) asks that ePHI not be altered improperly,
    and a placeholder that reads as real health information is exactly that. The default's
    text is also stored in the system catalog (``pg_attrdef``), which every role can read
    whatever the table's grants and policies: a real value used as a default (a test
    patient's SSN) is disclosed to all. ``NULL`` says "not recorded" truthfully. Defaults
    computed by functions (``now()``) and identity columns are left alone.

    **Fix.** Drop the default and leave the value NULL until it is known (or record
    "unknown" in a separate status column).

    **Example.**

    ```sql
    ALTER TABLE patients ALTER COLUMN date_of_birth DROP DEFAULT;
    ```
    """

    id = "hipaa-phi-no-constant-default"
    severity = Severity.WARNING
    help = "DROP the DEFAULT: leave PHI NULL until it is known."
    version = "1.0.0"

    class Options(PhiOptions):
        """Which columns and tables hold PHI (shared by the hipaa library: set them once under ``db.lint.library_options.hipaa``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each PHI column whose default is a constant."""
        for phi in phi_tables(catalog, self.options):
            for column in phi.columns:
                default = constant_default(column)
                if default is not None:
                    key = f"{phi.key}.{column.name}"
                    yield column_finding(
                        phi.table,
                        column,
                        f"column {key} holds PHI and has the constant default {default}:"
                        " rows that never recorded it read as if they had, and the value is"
                        " readable by every role in pg_attrdef",
                    )
