"""require-table-comment."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.schema_facts import finding


class RequireTableComment(SchemaRule):
    """Every table has a COMMENT saying what it holds.

    **Problem.** A table without a ``COMMENT ON TABLE`` leaves its purpose to be guessed
    from its name: what one row is, who writes it, whether it may be deleted.

    **Why.** The comment lives in the database itself: ``\\d+`` in psql, every schema browser,
    generated documentation and data catalogs show it, and it travels with dumps and
    replicas, where a wiki page does not. Compliance reviews (what personal data is where)
    start from it.

    **Fix.** Add ``COMMENT ON TABLE ... IS '...'`` next to the ``CREATE TABLE``: one sentence
    on what a row is. An empty comment does not count. With ``views: true`` views and
    materialized views need one too (off by default). Columns are the business of
    ``require-column-comment``.

    **Example.**

    ```sql
    CREATE TABLE invoices (id bigint PRIMARY KEY, total numeric(12, 2) NOT NULL);
    COMMENT ON TABLE invoices IS 'One invoice sent to a customer; never deleted, only voided.';
    ```
    """

    id = "require-table-comment"
    severity = Severity.WARNING
    help = "Add COMMENT ON TABLE ... IS '<what one row is>'."

    class Options(BaseModel):
        """``views``: also require a comment on views and materialized views."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        views: bool = False

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each table (and view, when asked) without a non-empty comment."""
        for table in catalog.all_tables():
            if not (table.comment or "").strip():
                yield finding(
                    table,
                    f"table {table.key} has no comment: nothing in the database says what"
                    " its rows are",
                )
        if not self.options.views:
            return
        for view in catalog.views.values():
            if not (view.comment or "").strip():
                kind = "materialized view" if view.materialized else "view"
                yield finding(
                    view,
                    f"{kind} {view.key} has no comment: nothing in the database says what it shows",
                    help=f"Add COMMENT ON {kind.upper()} ... IS '<what it shows>'.",
                )
