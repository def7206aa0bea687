"""gdpr-retention-policy."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import (
    PersonalDataOptions,
    is_duration,
    is_temporal,
    personal_tables,
    retention_of,
)
from plimsoll.db.lint.schema_facts import finding


class GdprRetentionPolicy(SchemaRule):
    """Declare how long each table holding personal data keeps it.

    **Problem.** A table holding personal data says nothing about how long its rows are
    kept: its comment has no ``retention: <duration>`` and it has no expiry column
    (``expires_at``, ``delete_after``...). Or its comment has a ``retention:`` that is not a
    duration (``retention: forever``).

    **Why.** Storage limitation (GDPR Art. 5(1)(e)): personal data is kept no longer than
    the purpose needs. The period, or the criteria that set it, goes in the record of
    processing (Art. 30(1)(f)) and in the information given to each person (Art. 13(2)(a)).
    A period written next to the table is what a purge job and a reviewer can act on.

    **Fix.** Either ``COMMENT ON TABLE ... IS '... retention: 2 years'`` (``<n>
    days|weeks|months|years``, an ISO 8601 duration such as ``P90D``, or ``until <event>``
    such as ``until account deletion``), or a per-row expiry column of a date or timestamp
    type named in ``retention_columns`` (default ``expires_at``, ``expire_at``,
    ``delete_after``, ``delete_at``, ``retain_until``, ``retention_until``, ``purge_after``,
    ``purge_at``) that a scheduled job deletes by.

    **Example.**

    ```sql
    CREATE TABLE newsletter_signups (id bigint PRIMARY KEY, email text NOT NULL);
    COMMENT ON TABLE newsletter_signups IS
        'purpose: newsletter delivery. retention: until unsubscribe';
    ```
    """

    id = "gdpr-retention-policy"
    severity = Severity.WARNING
    help = "Add 'retention: <duration>' to the table comment, or an expires_at column."

    class Options(PersonalDataOptions):
        """Which tables hold personal data, and which columns are per-row expiry dates."""

        retention_columns: tuple[str, ...] = Field(
            default=(
                "expires_at",
                "expire_at",
                "delete_after",
                "delete_at",
                "retain_until",
                "retention_until",
                "purge_after",
                "purge_at",
            ),
            description="Per-row expiry columns (of a date or timestamp type) that declare"
            " retention.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag personal-data tables with no valid retention comment and no expiry column."""
        expiry_names = set(self.options.retention_columns)
        for held in personal_tables(catalog, self.options).values():
            table = held.table
            declared = retention_of(table.comment)
            if declared is not None and is_duration(declared):
                continue
            expiry = [c for c in table.columns if c.name in expiry_names]
            if any(is_temporal(c) for c in expiry):
                continue
            if declared is not None:
                problem = f"its retention {declared!r} is not a duration or 'until <event>'"
            elif expiry:
                problem = (
                    f"its expiry column {expiry[0].name} is {expiry[0].type}, not a date or"
                    " timestamp"
                )
            else:
                problem = "declares no retention period (comment or expiry column)"
            yield finding(
                table,
                f"table {table.key} holds personal data ({held.describe()}) but {problem}:"
                " storage limitation (Art. 5(1)(e)) cannot be enforced",
            )
