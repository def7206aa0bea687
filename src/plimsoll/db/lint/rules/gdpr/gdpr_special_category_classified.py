"""gdpr-special-category-classified."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import (
    SPECIAL_LABELS,
    PersonalDataOptions,
    label_of,
    personal_tables,
)
from plimsoll.db.lint.schema_facts import column_finding, column_key


class GdprSpecialCategoryClassified(SchemaRule):
    """Classify special-category columns explicitly as ``classification: special``.

    **Problem.** A column whose name points at a special category of personal data (health,
    diagnosis, religion, ethnicity, political opinions, trade union membership, genetic or
    biometric data, sex life or sexual orientation, criminal convictions) is not labelled
    ``classification: special``: it has no comment, or is labelled as ordinary personal data.

    **Why.** Processing these categories is prohibited unless one of the conditions of GDPR
    Art. 9(2) applies (Art. 10 for criminal data); processed on a large scale they call for a
    data protection impact assessment (Art. 35(3)(b)), and always for stronger safeguards
    (Art. 32). Marking them in the schema makes the stricter regime visible to reviewers and
    to the rules that enforce it (``gdpr-special-category-rls``,
    ``gdpr-special-category-audit``).

    **Fix.** ``COMMENT ON COLUMN ... IS '... classification: special'`` (the ``hipaa``
    library's ``classification: phi`` is accepted too: health data is a special category),
    or ``classification: none`` when the name misleads (``health_check_url``). Which names
    count is set by ``special_patterns``.

    **Example.**

    ```sql
    CREATE TABLE patients (id bigint PRIMARY KEY, diagnosis text);
    COMMENT ON COLUMN patients.diagnosis IS 'ICD-10 code. classification: special';
    ```
    """

    id = "gdpr-special-category-classified"
    severity = Severity.ERROR
    help = "Add COMMENT ON COLUMN ... IS '... classification: special' (or 'none')."

    class Options(PersonalDataOptions):
        """Which columns hold special categories (shared by the gdpr library: set them once under ``db.lint.library_options.gdpr``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag special-category columns not labelled ``special``."""
        for held in personal_tables(catalog, self.options).values():
            for column in held.special:
                label = label_of(column)
                if label in SPECIAL_LABELS:
                    continue
                key = column_key(held.table, column)
                said = "no classification" if label is None else f"classification {label!r}"
                yield column_finding(
                    held.table,
                    column,
                    f"column {key} looks like special-category data (Art. 9) but has {said}:"
                    " it is not marked for the stricter regime",
                )
