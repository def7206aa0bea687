"""security-definer-search-path."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from plimsoll.db.catalog import Catalog, Function, quote_ident
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.schema_facts import finding


def search_path(function: Function) -> list[str] | None:
    """The schemas of the function's own ``SET search_path``, or None when it sets none."""
    for entry in function.config:
        name, sep, value = entry.partition("=")
        if sep and name.strip().lower() == "search_path":
            parts = [p.strip().strip("'\"").strip() for p in value.split(",")]
            return [p for p in parts if p]
    return None


class SecurityDefinerSearchPath(SchemaRule):
    """SECURITY DEFINER functions set their own search_path.

    **Problem.** A ``SECURITY DEFINER`` function runs with its owner's privileges but, unless
    it sets ``search_path`` itself, resolves unqualified table, function and operator names
    through the caller's ``search_path``.

    **Why.** A caller who can create objects in any schema on their path (or in their own
    temporary schema, searched first for tables unless listed) defines a table, function
    or operator with the name the function uses, and the function runs the attacker's code
    with the owner's privileges, typically a superuser's or the table owner's. The
    PostgreSQL documentation ("Writing SECURITY DEFINER Functions Safely") calls for a
    fixed ``search_path``.

    **Fix.** Add ``SET search_path = ...`` to the function: only trusted schemas, and
    ``pg_temp`` last (or ``SET search_path = ''`` with every name schema-qualified). With
    ``require_pg_temp_last: true`` a ``search_path`` that does not end with ``pg_temp`` is
    flagged too (the temporary schema is otherwise searched first for tables). Procedures
    are checked the same way.

    **Example.**

    ```sql
    CREATE FUNCTION app.close_account(account_id bigint) RETURNS void
        LANGUAGE sql SECURITY DEFINER
        SET search_path = app, pg_temp
        AS $$ UPDATE app.accounts SET closed = true WHERE id = account_id $$;
    ```
    """

    id = "security-definer-search-path"
    severity = Severity.ERROR
    help = "Add SET search_path = <trusted schemas>, pg_temp to the function."

    class Options(BaseModel):
        """``require_pg_temp_last``: also require ``pg_temp`` as the path's last entry."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        require_pg_temp_last: bool = False

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each SECURITY DEFINER function without its own search_path."""
        for function in catalog.functions.values():
            if not function.security_definer:
                continue
            kind = "procedure" if function.procedure else "function"
            path = search_path(function)
            if path is None:
                yield finding(
                    function,
                    f"SECURITY DEFINER {kind} {function.key} does not set search_path: a"
                    " caller's own tables, functions or operators can run with its owner's"
                    " privileges",
                )
            elif self.options.require_pg_temp_last and path and path[-1] != "pg_temp":
                yield finding(
                    function,
                    f"SECURITY DEFINER {kind} {function.key} sets search_path without pg_temp"
                    " last: a caller's temporary tables are searched first and can stand in"
                    " for the tables it uses",
                    help=(
                        "SET search_path = "
                        + ", ".join([*(quote_ident(p) for p in path if p != "pg_temp"), "pg_temp"])
                        + "."
                    ),
                )
