"""gdpr-personal-data-classified."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import (
    KNOWN_LABELS,
    PersonalDataOptions,
    label_of,
    personal_tables,
)
from plimsoll.db.lint.schema_facts import column_finding, column_key


class GdprPersonalDataClassified(SchemaRule):
    """Classify every column holding personal data with a ``classification:`` comment.

    **Problem.** A column whose name says it holds personal data (``email``, ``phone``,
    ``last_name``, ``ip_address``, ``date_of_birth``, ``national_id``...) has no comment
    saying so: nothing in the schema records which data is personal and which is not.

    **Why.** The controller keeps a record of the categories of personal data it processes
    (GDPR Art. 30(1)(c)) and must be able to demonstrate compliance (Art. 5(2),
    accountability). Access requests (Art. 15), erasure (Art. 17) and portability (Art. 20)
    all start from knowing where personal data lives; a classification in the schema itself
    keeps that inventory next to the data and current with every migration.

    **Fix.** Add ``COMMENT ON COLUMN`` with ``classification: personal`` (or
    ``pseudonymised``; ``special`` for the special categories of Art. 9, which
    ``gdpr-special-category-classified`` checks), or ``classification: none`` when the name
    misleads and the column holds no personal data. A label that is not a GDPR
    classification (``classification: confidential``) is reported too. Which names count is
    set by ``personal_patterns`` and, on data-subject tables, ``subject_attribute_patterns``.

    **Example.**

    ```sql
    CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
    COMMENT ON COLUMN users.email IS 'Login and contact address. classification: personal';
    ```
    """

    id = "gdpr-personal-data-classified"
    severity = Severity.WARNING
    help = "Add COMMENT ON COLUMN ... IS '... classification: personal' (or 'none')."

    class Options(PersonalDataOptions):
        """Which columns hold personal data (shared by the gdpr library: set them once under ``db.lint.library_options.gdpr``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag personal-data columns without a GDPR classification label."""
        for held in personal_tables(catalog, self.options).values():
            special = {c.name for c in held.special}
            for column in held.personal:
                if column.name in special:
                    continue  # gdpr-special-category-classified asks for more
                label = label_of(column)
                if label in KNOWN_LABELS:
                    continue
                key = column_key(held.table, column)
                if label is None:
                    message = (
                        f"column {key} holds personal data but no comment classifies it:"
                        " the record of processing (Art. 30) cannot tell it is personal data"
                    )
                else:
                    message = (
                        f"column {key} holds personal data but its classification {label!r}"
                        " is not a GDPR label (personal, pseudonymised, special or none)"
                    )
                yield column_finding(held.table, column, message)
