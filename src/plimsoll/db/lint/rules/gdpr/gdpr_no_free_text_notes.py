"""gdpr-no-free-text-notes."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import PersonalDataOptions, has_purpose, personal_tables
from plimsoll.db.lint.schema_facts import (
    Patterns,
    column_finding,
    column_key,
    is_text_type,
    matcher,
)


class GdprNoFreeTextNotes(SchemaRule):
    """Avoid free-text notes and catch-all columns on tables about people.

    **Problem.** A table holding personal data has a free-text column (``notes``,
    ``comments``, ``remarks``, ``memo``, ``misc``, ``additional_info``...) of a text or JSON
    type, with no documented purpose.

    **Why.** Data minimisation (GDPR Art. 5(1)(c)): personal data is adequate, relevant and
    limited to what the purpose needs. A free-text field about a person collects whatever
    staff or users type, special categories included ("customer mentioned her pregnancy"),
    unclassified and invisible to every other rule; it is the column most often found holding
    data nobody decided to collect, and it must still be searched on every access request
    (Art. 15).

    **Fix.** Replace it with structured columns for what is actually needed, or document why
    the free text is necessary with ``purpose: ...`` in the column comment. ``columns`` sets
    which names count as free text.

    **Example.**

    ```sql
    COMMENT ON COLUMN customers.support_notes IS
        'purpose: support case handover; staff trained not to record health data';
    ```
    """

    id = "gdpr-no-free-text-notes"
    severity = Severity.WARNING
    help = "Use structured columns, or document the need with 'purpose: ...' in the comment."

    class Options(PersonalDataOptions):
        """Which tables hold personal data, and which column names are free text."""

        columns: Patterns = Field(
            default=(
                r"(^|_)(notes?|comments?|remarks?|memo|memos|observations?)$",
                r"^(misc|miscellaneous|free_?text|other|other_info|additional_info|extra_info)$",
            ),
            description="Column names of free-text fields.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag undocumented free-text columns of personal-data tables."""
        is_free_text = matcher(tuple(self.options.columns))
        for held in personal_tables(catalog, self.options).values():
            for column in held.table.columns:
                if not is_free_text(column.name) or not is_text_type(column.type):
                    continue
                if has_purpose(column.comment):
                    continue
                key = column_key(held.table, column)
                yield column_finding(
                    held.table,
                    column,
                    f"free-text column {key} on a table about people ({held.describe()})"
                    " collects unstructured, unclassified personal data (minimisation,"
                    " Art. 5(1)(c))",
                )
