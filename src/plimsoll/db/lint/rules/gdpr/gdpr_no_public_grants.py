"""gdpr-no-public-grants."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import PersonalDataOptions, personal_tables
from plimsoll.db.lint.schema_facts import (
    grant_finding,
    privileges_by_grantee,
    public_column_grants,
    revoke_column_help,
)


class GdprNoPublicGrants(SchemaRule):
    """Grant nothing to PUBLIC on tables and views holding personal data.

    **Problem.** ``GRANT ... TO PUBLIC`` on a table holding personal data, or on a view
    reading one, gives every role of the database (every present and future login) access
    to it.

    **Why.** Data protection by default (GDPR Art. 25(2)): personal data is not made
    accessible without the individual's intervention to an indefinite number of persons;
    confidentiality is a principle (Art. 5(1)(f)) and a security measure (Art. 32(1)(b),
    32(4): only those who need it, on instruction). A grant to PUBLIC is exactly access for
    an indefinite number of roles.

    Column privileges count too: ``GRANT SELECT (id, email) ON customers TO PUBLIC`` is
    reported on each personal-data column it reaches (every column of a data-subject table
    without a personal column of its own).

    **Fix.** ``REVOKE ... FROM PUBLIC`` and grant to the roles that need the data. Views are
    checked through the tables they read (``depends_on``).

    **Example.**

    ```sql
    REVOKE ALL ON customers FROM PUBLIC;
    GRANT SELECT ON customers TO billing_service;
    ```
    """

    id = "gdpr-no-public-grants"
    severity = Severity.ERROR
    help = "REVOKE ... FROM PUBLIC and grant to the roles that need the data."

    class Options(PersonalDataOptions):
        """Which tables hold personal data (shared by the gdpr library: set them once under ``db.lint.library_options.gdpr``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag PUBLIC grants on personal-data tables and on views reading them."""
        held = personal_tables(catalog, self.options)
        for table_key, entry in held.items():
            granted = privileges_by_grantee(entry.table.grants).get("PUBLIC")
            if granted:
                yield grant_finding(
                    entry.table,
                    entry.table.grants,
                    f"table {table_key} holds personal data ({entry.describe()}) and grants"
                    f" {', '.join(sorted(granted))} to PUBLIC: every role can reach it",
                )
                continue
            for grant in public_column_grants(entry.table, entry.personal or None):
                yield grant.finding(
                    f"column {table_key}.{grant.column.name} holds personal data and is"
                    f" granted to PUBLIC ({grant.statement}): every role can reach it",
                    help=revoke_column_help(grant),
                )
        for view in catalog.views.values():
            granted = privileges_by_grantee(view.grants).get("PUBLIC")
            if not granted:
                continue
            sources = [k for k in view.depends_on if k in held]
            if sources:
                yield grant_finding(
                    view,
                    view.grants,
                    f"view {view.key} reads personal data ({', '.join(sources)}) and grants"
                    f" {', '.join(sorted(granted))} to PUBLIC: every role can reach it",
                )
