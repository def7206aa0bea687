"""hipaa-phi-security-definer-search-path."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog, Function
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, phi_tables
from plimsoll.db.lint.schema_facts import finding, identifiers


def search_path(function: Function) -> list[str] | None:
    """The schemas of the function's ``SET search_path``, or None when it sets none."""
    for setting in function.config:
        name, sep, value = setting.partition("=")
        if not sep:
            name, _, value = setting.partition(" TO ")
        if name.strip().lower() == "search_path":
            parts = [p.strip().strip("'\"").strip() for p in value.split(",")]
            return [p for p in parts if p]
    return None


class PhiSecurityDefinerSearchPath(SchemaRule):
    """SECURITY DEFINER functions that touch PHI tables pin a safe ``search_path``.

    **Problem.** A ``SECURITY DEFINER`` function whose body names a table holding PHI does
    not set ``search_path``, or sets one that does not end with ``pg_temp``.

    **Why.** Such a function runs with its owner's rights, which usually include reading all
    the PHI. Without a fixed ``search_path`` it resolves unqualified names in the caller's
    path: any role that can create objects in a schema on that path can plant a function or
    operator the definer then runs with its rights. And PostgreSQL searches the temporary
    schema, which every session can write, *first* for tables unless ``pg_temp`` is listed:
    a caller's temporary table named like the PHI table shadows it. This is privilege
    escalation to ePHI: 45 CFR 164.312(a)(1) (access control) and 164.308(a)(3)(ii)(A)
    (authorization of workforce access). The PostgreSQL documentation ("Writing SECURITY
    DEFINER Functions Safely") prescribes trusted schemas followed by ``pg_temp``. An empty
    ``search_path`` (every name qualified) is accepted.

    **Fix.** ``ALTER FUNCTION ... SET search_path = <trusted schemas>, pg_temp``.

    **Example.**

    ```sql
    CREATE FUNCTION patient_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER
        SET search_path = clinical, pg_temp
        AS $$ SELECT count(*) FROM patients $$;
    ```
    """

    id = "hipaa-phi-security-definer-search-path"
    severity = Severity.ERROR
    help = "ALTER FUNCTION ... SET search_path = <trusted schemas>, pg_temp."
    version = "1.0.0"

    class Options(PhiOptions):
        """Which tables hold PHI, and whether ``pg_temp`` must come last."""

        require_pg_temp_last: bool = Field(
            default=True,
            description="A non-empty search_path must end with pg_temp (else temporary tables"
            " shadow the PHI tables).",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each SECURITY DEFINER function naming a PHI table without a safe search_path."""
        scope = phi_tables(catalog, self.options)
        if not scope:
            return
        names: dict[str, str] = {}
        for phi in scope:
            names.setdefault(phi.table.name.lower(), phi.key)
        for function in catalog.functions.values():
            if not function.security_definer:
                continue
            touched = sorted(
                {names[w] for w in identifiers(function.body or function.definition) if w in names}
            )
            if not touched:
                continue
            path = search_path(function)
            what = f"SECURITY DEFINER function {function.key} reads PHI tables {', '.join(touched)}"
            if path is None:
                yield finding(
                    function,
                    f"{what} without setting search_path: a caller's objects earlier on the"
                    " path run with the owner's rights over the PHI",
                )
            elif path and self.options.require_pg_temp_last and path[-1].lower() != "pg_temp":
                yield finding(
                    function,
                    f"{what} and its search_path ({', '.join(path)}) does not end with pg_temp:"
                    " the temporary schema is searched first, so a caller's temporary table"
                    " shadows the PHI table",
                    help="List pg_temp last: SET search_path = <trusted schemas>, pg_temp.",
                )
