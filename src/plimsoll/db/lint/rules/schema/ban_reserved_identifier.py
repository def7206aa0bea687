"""ban-reserved-identifier."""

from __future__ import annotations

from collections.abc import Iterator

from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.schema._objects import named_objects
from plimsoll.db.lint.schema_facts import finding

# Keywords a table, column, index or constraint name (the grammar's ColId) cannot be unquoted.
_NOT_COLUMN_NAMES = frozenset(RESERVED_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS)
# Keywords a function or type name (type_function_name) cannot be unquoted.
_NOT_FUNCTION_NAMES = frozenset(RESERVED_KEYWORDS | COL_NAME_KEYWORDS)
_KEYWORDS = _NOT_COLUMN_NAMES | _NOT_FUNCTION_NAMES


class BanReservedIdentifier(SchemaRule):
    """Do not name objects after SQL keywords that need quoting.

    **Problem.** A table or column named after a reserved keyword (``user``, ``order``,
    ``group``, ``table``, ``check``, ``default``, ``limit``, ``left``, ``join``...) can only
    be written in double quotes: ``CREATE TABLE order (...)`` is a syntax error, so the
    schema quotes it, and then every query must quote it too.

    **Why.** Forgetting the quotes is a syntax error at best and a silent wrong answer at
    worst: ``SELECT user FROM accounts`` returns the name of the current database role for
    every row, not the ``user`` column. ORMs, report builders and hand-written SQL each need
    to know which names to quote.

    **Fix.** Pick a name that is not a keyword: ``orders``, ``user_id``, ``group_name``,
    ``sort_order``. Schemas, tables, columns, indexes, constraints, views, sequences and
    triggers are checked against the keywords a column name cannot use unquoted (reserved
    and type/function-name keywords, as in PostgreSQL 17's grammar); functions and enum
    types against those a function name cannot use (reserved and column-name keywords).

    **Example.**

    ```sql
    -- every query must write "order" and "user" in quotes; SELECT user ... reads current_user
    CREATE TABLE "order" (id bigint PRIMARY KEY, "user" text);
    -- no quotes needed
    CREATE TABLE orders (id bigint PRIMARY KEY, user_name text);
    ```
    """

    id = "ban-reserved-identifier"
    severity = Severity.WARNING
    help = "Rename it to a word that is not an SQL keyword (orders, user_name, sort_order)."

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each object named after a keyword it must be quoted for."""
        for obj in named_objects(catalog, _KEYWORDS.__contains__):
            banned = _NOT_COLUMN_NAMES if obj.column_like else _NOT_FUNCTION_NAMES
            if obj.name in banned:
                yield finding(
                    obj,
                    f"{obj.kind} {obj.key} is named after the SQL keyword {obj.name}: every"
                    f' query must quote it ("{obj.name}"): unquoted, it is read as the keyword',
                )
