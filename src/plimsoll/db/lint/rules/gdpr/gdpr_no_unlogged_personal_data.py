"""gdpr-no-unlogged-personal-data."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import PersonalDataOptions, personal_tables
from plimsoll.db.lint.schema_facts import finding


class GdprNoUnloggedPersonalData(SchemaRule):
    """Do not keep personal data in UNLOGGED tables.

    **Problem.** A table holding personal data is ``UNLOGGED``: its changes skip the
    write-ahead log.

    **Why.** PostgreSQL truncates an unlogged table after a crash or an unclean shutdown,
    does not replicate it to standbys, and physical backups taken from the WAL do not
    restore its contents. The GDPR counts loss of personal data as a breach (Art. 4(12):
    accidental loss) and asks for the ability to restore availability and access in a
    timely manner (Art. 32(1)(b), 32(1)(c)).

    **Fix.** ``ALTER TABLE ... SET LOGGED`` (it rewrites the table into the WAL under an
    ACCESS EXCLUSIVE lock), or keep only non-personal or easily rebuilt data (caches of
    anonymised aggregates) unlogged.

    **Example.**

    ```sql
    ALTER TABLE session_profiles SET LOGGED;
    ```
    """

    id = "gdpr-no-unlogged-personal-data"
    severity = Severity.WARNING
    help = "ALTER TABLE ... SET LOGGED, or keep personal data out of unlogged tables."

    class Options(PersonalDataOptions):
        """Which tables hold personal data (shared by the gdpr library: set them once under ``db.lint.library_options.gdpr``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag unlogged tables holding personal data."""
        for held in personal_tables(catalog, self.options).values():
            if held.table.unlogged:
                yield finding(
                    held.table,
                    f"unlogged table {held.key} holds personal data ({held.describe()}): it is"
                    " emptied after a crash and not replicated, an accidental loss (Art. 32)",
                )
