"""gdpr-no-duplicate-personal-data."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog, Column
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import (
    PersonalDataOptions,
    PersonalTable,
    has_purpose,
    personal_tables,
)
from plimsoll.db.lint.schema_facts import Patterns, column_finding, column_key, matcher


class GdprNoDuplicatePersonalData(SchemaRule):
    """Keep each piece of personal data in one place: no copies of a column across tables.

    **Problem.** The same personal-data column (same name: ``email``, ``phone``,
    ``date_of_birth``...) is stored in several tables, for example ``users.email`` and
    ``orders.email``.

    **Why.** Every copy must be found and corrected on rectification (GDPR Art. 16), erased
    on erasure (Art. 17), listed on access (Art. 15) and protected (Art. 32); copies drift
    apart, and the one forgotten is the breach. Data minimisation (Art. 5(1)(c)) asks for the
    data once, referenced where needed.

    **Fix.** Keep the value on the data-subject table (or the first table holding it, by
    name) and reference that row by its key. When a copy is required (an invoice must keep
    the address it was sent to), document it with ``purpose: ...`` in the copy's column
    comment. ``ignore_tables`` lists tables left out (archives handled by their own rules).

    **Example.**

    ```sql
    -- orders.email copies users.email: reference the user instead
    CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));
    ```
    """

    id = "gdpr-no-duplicate-personal-data"
    severity = Severity.WARNING
    help = "Reference the row that holds the value, or document the copy with 'purpose: ...'."

    class Options(PersonalDataOptions):
        """Which columns hold personal data, and tables left out of the comparison."""

        ignore_tables: Patterns = Field(
            default=(),
            description="Table names (or schema.name) left out of the comparison.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag personal columns whose name also holds personal data in another table."""
        ignored = matcher(tuple(self.options.ignore_tables))
        by_name: dict[str, list[tuple[PersonalTable, Column]]] = {}
        for held in personal_tables(catalog, self.options).values():
            if ignored.table(held.table):
                continue
            for column in held.personal:
                by_name.setdefault(column.name, []).append((held, column))
        for places in by_name.values():
            if len(places) < 2:
                continue
            # The original: on a data-subject table if any holds it, else the first by key.
            original = next((p for p in places if p[0].subject), places[0])
            where = column_key(original[0].table, original[1])
            for held, column in places:
                if (held is original[0] and column is original[1]) or has_purpose(column.comment):
                    continue
                key = column_key(held.table, column)
                yield column_finding(
                    held.table,
                    column,
                    f"column {key} copies personal data also stored in {where}: every copy must"
                    " be rectified, erased and disclosed on request (Art. 16, 17, 15)",
                )
