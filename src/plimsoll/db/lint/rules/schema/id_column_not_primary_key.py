"""id-column-not-primary-key."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog, Table
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.schema_facts import columns_by_name


def _unique_alone(table: Table) -> bool:
    """Whether a unique constraint or full unique index covers exactly the id column."""
    if any(c.kind == "u" and c.columns == ("id",) for c in table.constraints):
        return True
    return any(i.unique and i.columns == ("id",) and not i.predicate for i in table.indexes)


class IdColumnNotPrimaryKey(SchemaRule):
    """A column named id belongs to the table's primary key.

    **Problem.** A table whose primary key is some other column but which also has a column
    called ``id`` says one thing and does another: readers, ORMs (Rails, Django, Hibernate
    conventions) and admin tools take ``id`` for the row's identity.

    **Why.** Code that looks rows up, updates or deletes them ``WHERE id = $1`` acts on a
    column nothing keeps unique or not null: it may touch several rows or none. Foreign
    keys written by convention (``REFERENCES t (id)``) fail, or reference the wrong key.

    **Fix.** Make ``id`` the primary key (or part of it, as in a partitioned table's
    ``(id, created_at)``), or rename the column to say what it is (``external_id``,
    ``legacy_id``). An ``id`` that is NOT NULL and unique on its own is an alternate key and
    passes. Tables without a primary key are left to ``require-primary-key``.

    **Example.**

    ```sql
    -- id looks like the key; the key is code
    CREATE TABLE currencies (id integer, code text PRIMARY KEY);
    -- says what it is
    CREATE TABLE currencies (numeric_code integer, code text PRIMARY KEY);
    ```
    """

    id = "id-column-not-primary-key"
    severity = Severity.WARNING
    help = "Make id the primary key, or rename the column to say what it is."

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each column named id that is not in its table's primary key."""
        # Only the tables with an ``id`` column, from the shared index of column names.
        for table, column in columns_by_name(catalog).get("id", ()):
            key = next((c for c in table.constraints if c.kind == "p"), None)
            if key is None or "id" in key.columns:
                continue
            if not column.nullable and _unique_alone(table):
                continue  # a NOT NULL unique id is an alternate key: lookups by it are sound
            yield Violation(
                f"{table.key}.id is not in the primary key ({', '.join(key.columns)}): code"
                " that finds rows by id acts on a column nothing keeps unique",
                object=f"{table.key}.id",
                origin=column.origin,
            )
