"""gdpr-collection-timestamp."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import PersonalDataOptions, is_temporal, personal_tables
from plimsoll.db.lint.schema_facts import finding


class GdprCollectionTimestamp(SchemaRule):
    """Record when each row of personal data was collected.

    **Problem.** A table holding personal data has no collection timestamp (``created_at``,
    ``collected_at``...) of a date or timestamp type: nobody can tell how old a row is.

    **Why.** A retention period (GDPR Art. 5(1)(e)) is counted from collection: without the
    date, a purge job cannot find the rows past their period, and an access request
    (Art. 15) cannot say since when the data is held. Accountability (Art. 5(2)) starts with
    knowing when data came in.

    **Fix.** Add ``created_at timestamptz NOT NULL DEFAULT now()`` (``columns`` lists the
    accepted names). Adding it to an existing table: ``now()`` is stable, so PostgreSQL 11+
    stores the default without rewriting the table (existing rows get the time of the
    migration, not their true collection date).

    **Example.**

    ```sql
    CREATE TABLE leads (
        id bigint PRIMARY KEY,
        email text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    ```
    """

    id = "gdpr-collection-timestamp"
    severity = Severity.WARNING
    help = "Add created_at timestamptz NOT NULL DEFAULT now()."

    class Options(PersonalDataOptions):
        """Which tables hold personal data, and the accepted collection-timestamp names."""

        columns: tuple[str, ...] = Field(
            default=("created_at", "collected_at", "inserted_at", "recorded_at", "created_on"),
            description="Accepted names of the collection timestamp (a date or timestamp).",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag personal-data tables without a temporal collection column."""
        names = set(self.options.columns)
        for held in personal_tables(catalog, self.options).values():
            candidates = [c for c in held.table.columns if c.name in names]
            if any(is_temporal(c) for c in candidates):
                continue
            if candidates:
                problem = f"its {candidates[0].name} is {candidates[0].type}, not a timestamp"
            else:
                problem = "it has no collection timestamp (" + ", ".join(self.options.columns) + ")"
            yield finding(
                held.table,
                f"table {held.key} holds personal data ({held.describe()}) but {problem}:"
                " retention periods (Art. 5(1)(e)) cannot be counted",
            )
