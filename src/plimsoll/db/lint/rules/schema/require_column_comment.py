"""require-column-comment."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.schema_facts import Patterns, columns_by_name, finding, matcher


class RequireColumnComment(SchemaRule):
    """Every column has a COMMENT (informational by default).

    **Problem.** A column name rarely says everything: its unit (cents or euros, seconds or
    milliseconds), what NULL means, where the value comes from, whether it holds personal
    data.

    **Why.** A ``COMMENT ON COLUMN`` is stored in the catalog, shown by ``\\d+``, schema
    browsers and generated documentation, and kept in dumps; it is the one place every
    reader of the table finds. Privacy and compliance reviews classify columns from it.

    **Fix.** Add ``COMMENT ON COLUMN table.column IS '...'``. Columns whose names match
    ``except_columns`` (regular expressions searched in the lower-case name, or ``glob:``
    patterns; default ``^id$``, ``^created_at$``, ``^updated_at$``) are taken as
    self-explanatory. The severity is ``info``: it is a documentation goal, not a defect;
    raise it in the config to enforce it. One finding per table, at its definition, naming
    its columns without a comment (a finding per column would bury every other finding of
    a schema that has few comments yet).

    **Example.**

    ```sql
    CREATE TABLE invoices (id bigint PRIMARY KEY, total_cents bigint NOT NULL);
    COMMENT ON COLUMN invoices.total_cents IS 'Amount due including VAT, in euro cents.';
    ```
    """

    id = "require-column-comment"
    severity = Severity.INFO
    help = "Add COMMENT ON COLUMN ... IS '<meaning, unit, what NULL means>'."

    class Options(BaseModel):
        """``except_columns``: name patterns of columns that need no comment."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        except_columns: Patterns = (
            "^id$",
            "^created_at$",
            "^updated_at$",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each column without a non-empty comment, except the exempted names."""
        exempt = matcher(tuple(self.options.except_columns))
        skipped = {name for name in columns_by_name(catalog) if exempt(name)}
        for table in catalog.all_tables():
            missing = [
                column.name
                for column in table.columns
                if column.name not in skipped and not (column.comment and column.comment.strip())
            ]
            if not missing:
                continue
            count = "1 column" if len(missing) == 1 else f"{len(missing)} columns"
            yield finding(
                table,
                f"{count} of {table.key} {'has' if len(missing) == 1 else 'have'} no comment"
                f" ({', '.join(missing)}): nothing in the database says what they hold",
            )
