"""gdpr-soft-delete-erasure."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import (
    DEFAULT_ERASURE_FUNCTIONS,
    ErasurePatterns,
    PersonalDataOptions,
    erasure_functions,
    subject_tables,
)
from plimsoll.db.lint.schema_facts import column_finding


class GdprSoftDeleteErasure(SchemaRule):
    """Pair soft deletion of data subjects with an anonymisation function.

    **Problem.** A data-subject table has a soft-delete column (``deleted_at``,
    ``is_deleted``, ``archived_at``...) and no function that anonymises its rows: "deleting"
    a person sets a flag and keeps every piece of their personal data.

    **Why.** A soft-deleted row is not erased: the data is still stored, backed up and
    readable, so an erasure request (GDPR Art. 17) is not honoured and the data outlives its
    purpose (Art. 5(1)(e)). Soft deletion is fine for the undo window, as long as something
    erases or anonymises the row afterwards.

    **Fix.** Add a function that overwrites the personal columns (and is run by the erasure
    process or a purge job), named so ``erasure_functions`` finds it (``anonymize_user``,
    ``erase_customers``...: see ``gdpr-erasure-path``), or hard-delete the rows.
    ``soft_delete_columns`` sets which columns mean soft deletion.

    **Example.**

    ```sql
    CREATE FUNCTION anonymize_user(p_id bigint) RETURNS void LANGUAGE sql AS $$
        UPDATE users SET email = 'erased-' || id || '@invalid', full_name = NULL
        WHERE id = p_id
    $$;
    ```
    """

    id = "gdpr-soft-delete-erasure"
    severity = Severity.WARNING
    help = "Add an anonymize_<table>() function that overwrites the personal columns."

    class Options(PersonalDataOptions):
        """Data-subject tables, soft-delete columns and erasure-function names."""

        soft_delete_columns: tuple[str, ...] = Field(
            default=(
                "deleted_at",
                "deleted",
                "is_deleted",
                "deleted_on",
                "archived_at",
                "is_archived",
                "deactivated_at",
                "removed_at",
            ),
            description="Columns that mark a row as deleted without deleting it.",
        )
        erasure_functions: ErasurePatterns = Field(
            default=DEFAULT_ERASURE_FUNCTIONS,
            description="Function names that erase or anonymise a table's rows; {table} is"
            " the table's name, {singular} its singular.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag soft-delete columns of data-subject tables that no erasure function backs."""
        names = set(self.options.soft_delete_columns)
        for table in subject_tables(catalog, self.options):
            flags = [c for c in table.columns if c.name in names]
            if not flags:
                continue
            if erasure_functions(catalog, table, self.options.erasure_functions):
                continue
            column = flags[0]
            yield column_finding(
                table,
                column,
                f"data-subject table {table.key} is soft-deleted through {column.name} and no"
                " function anonymises its rows: a deleted person's data stays stored (Art. 17)",
            )
