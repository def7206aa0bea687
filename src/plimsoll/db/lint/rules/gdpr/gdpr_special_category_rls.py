"""gdpr-special-category-rls."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import PersonalDataOptions, personal_tables
from plimsoll.db.lint.schema_facts import finding, rls_origin


class GdprSpecialCategoryRls(SchemaRule):
    """Enable row-level security on tables holding special categories of personal data.

    **Problem.** A table with special-category columns (health, religion, ethnicity,
    biometrics, sexual orientation...) has row-level security disabled: any role with
    ``SELECT`` on the table reads every person's row.

    **Why.** Art. 9 data needs safeguards beyond ordinary personal data; Art. 32(1) asks for
    measures appropriate to the risk, and Art. 25(2) for access limited by default to what
    each purpose needs. Row-level security (PostgreSQL 9.5+) makes the database itself
    enforce which rows a role may see, whatever query the application or an analyst sends.

    **Fix.** ``ALTER TABLE ... ENABLE ROW LEVEL SECURITY`` and ``CREATE POLICY`` for the
    roles that need the rows (no policy at all denies every role but the owner). The table
    owner bypasses policies unless ``FORCE ROW LEVEL SECURITY`` is set: with
    ``require_force`` (default false) the rule asks for it too, for applications that
    connect as the owner.

    **Example.**

    ```sql
    ALTER TABLE patients ENABLE ROW LEVEL SECURITY;
    CREATE POLICY patients_own ON patients
        USING (clinician_id = current_setting('app.clinician_id')::bigint);
    ```
    """

    id = "gdpr-special-category-rls"
    severity = Severity.ERROR
    help = "ALTER TABLE ... ENABLE ROW LEVEL SECURITY and add policies for the roles that need it."

    class Options(PersonalDataOptions):
        """Which columns hold special categories, and whether FORCE is required."""

        require_force: bool = Field(
            default=False,
            description="Also require FORCE ROW LEVEL SECURITY (the owner obeys the policies).",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag tables with special-category columns and no (forced) row-level security."""
        for held in personal_tables(catalog, self.options).values():
            if not held.special:
                continue
            table = held.table
            names = ", ".join(c.name for c in held.special)
            if not table.rls_enabled:
                problem = "has row-level security disabled: every role with SELECT reads all rows"
                origin = rls_origin(table)
            elif self.options.require_force and not table.rls_forced:
                problem = (
                    "does not FORCE row-level security: its owner, which the application may"
                    " connect as, bypasses the policies"
                )
                origin = rls_origin(table, forced=True)
            else:
                continue
            yield finding(
                table,
                f"table {table.key} holds special-category data (Art. 9: {names}) and {problem}",
                origin=origin,
            )
