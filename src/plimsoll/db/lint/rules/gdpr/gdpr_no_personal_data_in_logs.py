"""gdpr-no-personal-data-in-logs."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import (
    PSEUDONYMISED_LABELS,
    PersonalDataOptions,
    label_of,
    personal_tables,
)
from plimsoll.db.lint.schema_facts import Patterns, column_finding, matcher


class GdprNoPersonalDataInLogs(SchemaRule):
    """Keep personal data out of log, audit and history tables: reference the person instead.

    **Problem.** A log-like table (``audit_log``, ``login_history``, ``events``...) has a
    column holding personal data in clear (``email``, ``ip_address``, ``full_name``...).

    **Why.** Logs are append-only by design (and often must be: the ``sox`` and ``hipaa``
    libraries forbid changing them), kept long and copied to other systems, so personal
    data written there is the hardest to rectify or erase (GDPR Art. 16, 17) and tends to
    outlive its purpose (Art. 5(1)(e)). Minimisation (Art. 5(1)(c)) and pseudonymisation
    (Art. 25(1), 32(1)(a)) say: log who, by reference, not the personal values themselves.

    **Fix.** Log the person's surrogate key (``user_id``), which erasure can sever, or a
    keyed hash of the value (``ip_hash bytea``) labelled ``classification: pseudonymised``.
    ``log_tables`` sets which table names are logs.

    **Example.**

    ```sql
    CREATE TABLE login_history (
        id bigint PRIMARY KEY,
        user_id bigint REFERENCES users (id) ON DELETE SET NULL,
        ip_hash bytea,
        at timestamptz NOT NULL DEFAULT now()
    );
    COMMENT ON COLUMN login_history.ip_hash IS 'HMAC of the IP. classification: pseudonymised';
    ```
    """

    id = "gdpr-no-personal-data-in-logs"
    severity = Severity.WARNING
    help = "Log the person's key or a keyed hash labelled 'classification: pseudonymised'."

    class Options(PersonalDataOptions):
        """Which columns hold personal data, and which tables are logs."""

        log_tables: Patterns = Field(
            default=(
                r"(^|_)(logs?|audit|audits|audit_log|history|histories|journal|trail|events?)$",
                r"^(audit|log|history)_",
            ),
            description="Table names (or schema.name) of log, audit and history tables.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag personal columns of log tables that are not pseudonymised."""
        is_log = matcher(tuple(self.options.log_tables))
        for held in personal_tables(catalog, self.options).values():
            if not held.personal or not is_log.table(held.table):
                continue
            for column in held.personal:
                if label_of(column) in PSEUDONYMISED_LABELS:
                    continue
                yield column_finding(
                    held.table,
                    column,
                    f"log table {held.key} stores personal data in {column.name}: an append-only"
                    " log is where rectification and erasure (Art. 16, 17) cannot reach",
                )
