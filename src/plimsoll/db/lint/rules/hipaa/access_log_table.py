"""hipaa-access-log-table."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, PhiTable, phi_tables
from plimsoll.db.lint.schema_facts import Patterns, finding, matcher

DEFAULT_ACCESS_LOG_PATTERNS = (
    r"(^|_)access_?logs?$",
    r"(^|_)audit_?logs?$",
    r"(^|_)access_?events?$",
    r"^phi_access",
)


class AccessLogTable(SchemaRule):
    """A schema holding PHI has a table recording who accessed it.

    **Problem.** The schema has tables holding PHI but no access-log table (by default a
    table named like ``access_log``, ``audit_log`` or ``phi_access_*``) and the ``pgaudit``
    extension is not installed.

    **Why.** 45 CFR 164.312(b) (audit controls) asks for a record of activity in systems
    containing ePHI, and 164.308(a)(1)(ii)(D) (information system activity review) for
    reviewing access reports; the Privacy Rule's accounting of disclosures (164.528) needs
    them too. Reads fire no trigger in PostgreSQL, so audit triggers cannot record who
    looked at a patient's record: the application (or ``pgaudit``'s object audit logging)
    has to, and an application can only log into a table the schema provides.

    **Fix.** Create an append-only access-log table (who, when, which record, why), or
    install ``pgaudit`` and set ``accept_pgaudit``. The table name patterns are the
    ``access_log_patterns`` option. The finding points at the first table holding PHI in
    the files (by file, then line; live, the first by name, case aside).

    **Example.**

    ```sql
    CREATE TABLE phi_access_log (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        accessed_at timestamptz NOT NULL DEFAULT now(),
        accessed_by text NOT NULL,
        patient_id bigint NOT NULL,
        purpose text NOT NULL
    );
    ```
    """

    id = "hipaa-access-log-table"
    severity = Severity.WARNING
    help = "Create an access-log table (who read which PHI, when, why), or install pgaudit."
    version = "1.0.0"

    class Options(PhiOptions):
        """Which tables hold PHI, and what an access-log table is called."""

        access_log_patterns: Patterns = Field(
            default=DEFAULT_ACCESS_LOG_PATTERNS,
            description="Table names (or schema.name) of an access log.",
        )
        accept_pgaudit: bool = Field(
            default=True,
            description="The pgaudit extension (which can log reads) replaces the table.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag a schema holding PHI that has no access-log table (once, at the first PHI table)."""
        scope = phi_tables(catalog, self.options)
        if not scope:
            return
        if self.options.accept_pgaudit and "pgaudit" in catalog.extensions:
            return
        logs = matcher(self.options.access_log_patterns)
        if any(logs.table(table) for table in catalog.all_tables()):
            return
        first = min(scope, key=_file_order)
        yield finding(
            first.table,
            f"the schema holds PHI ({len(scope)} table(s), first {first.describe()}) but has"
            " no access-log table: reads of PHI fire no trigger and go unrecorded",
        )


def _file_order(phi: PhiTable) -> tuple[bool, tuple[str, int, int], str, str]:
    """Where a PHI table was defined (file, line, column), then its name without case: the
    first table in the files comes first, and live (no origins) the first by name."""
    origin = phi.table.origin
    at = (origin.file, origin.line, origin.column) if origin is not None else ("", 0, 0)
    return (origin is None, at, phi.key.casefold(), phi.key)
