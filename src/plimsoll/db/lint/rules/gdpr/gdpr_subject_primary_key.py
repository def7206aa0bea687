"""gdpr-subject-primary-key."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import PersonalDataOptions, subject_tables
from plimsoll.db.lint.schema_facts import finding, primary_key


class GdprSubjectPrimaryKey(SchemaRule):
    """Give every data-subject table a primary key.

    **Problem.** A data-subject table (``users``, ``customers``...) has no primary key: no
    column is guaranteed to name one person's row.

    **Why.** Access (GDPR Art. 15), rectification (Art. 16), erasure (Art. 17) and
    portability (Art. 20) requests are about one person: each needs a stable identifier to
    find exactly that person's row and every row referencing it. Without a key, duplicates
    hide part of a person's data from the request, and no foreign key can tie their other
    data to them.

    **Fix.** Add a primary key, preferably a surrogate (``bigint GENERATED ALWAYS AS
    IDENTITY`` or a UUID) rather than personal data such as the e-mail address (see
    ``gdpr-personal-data-not-key``).

    **Example.**

    ```sql
    CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text);
    ```
    """

    id = "gdpr-subject-primary-key"
    severity = Severity.ERROR
    help = "Add a surrogate PRIMARY KEY (an identity column or a UUID)."

    class Options(PersonalDataOptions):
        """Which tables are data subjects (shared by the gdpr library: set them once under ``db.lint.library_options.gdpr``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag data-subject tables without a primary key."""
        for table in subject_tables(catalog, self.options):
            if primary_key(table) is None:
                yield finding(
                    table,
                    f"data-subject table {table.key} has no primary key: access, erasure and"
                    " portability requests (Art. 15, 17, 20) cannot reliably find one person's"
                    " row",
                )
