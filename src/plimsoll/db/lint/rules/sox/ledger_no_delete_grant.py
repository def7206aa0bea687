"""sox-ledger-no-delete-grant."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.sox._common import LedgerOptions, ledger_tables
from plimsoll.db.lint.schema_facts import finding, holders


class LedgerNoDeleteGrant(SchemaRule):
    """No role is granted DELETE or TRUNCATE on a ledger table.

    **Problem.** A ledger table (ledger, journal, general-ledger postings) grants ``DELETE``
    or ``TRUNCATE`` to a role other than its owner (``PUBLIC`` included).

    **Why.** A posted ledger entry is a financial record: it is corrected by a reversing
    entry, never removed. Sarbanes-Oxley section 802 (18 U.S.C. 1519, 1520) makes destroying
    records a crime and requires their retention; section 404 controls must prevent, not
    only detect, unauthorised removal. A role that may ``DELETE`` (or ``TRUNCATE``, which
    fires no row trigger) can erase entries; the owner's rights are implied and are covered
    by ``sox-ledger-delete-blocked``.

    **Fix.** ``REVOKE DELETE, TRUNCATE ON ... FROM ...``; correct entries with reversing
    entries.

    **Example.**

    ```sql
    REVOKE DELETE, TRUNCATE ON gl_entries FROM PUBLIC, accounting_app;
    GRANT SELECT, INSERT ON gl_entries TO accounting_app;
    ```
    """

    id = "sox-ledger-no-delete-grant"
    severity = Severity.ERROR
    help = "REVOKE DELETE, TRUNCATE on the ledger table; correct entries with reversing entries."
    version = "1.0.0"

    class Options(LedgerOptions):
        """Which tables are ledgers, and which privileges remove their rows."""

        privileges: tuple[str, ...] = Field(
            default=("DELETE", "TRUNCATE"),
            description="The privileges no role may hold on a ledger table.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each role holding a removing privilege on a ledger table."""
        for table in ledger_tables(catalog, self.options):
            for grantee, held in holders(table.grants, self.options.privileges).items():
                yield finding(
                    table,
                    f"ledger table {table.key} grants {', '.join(held)} to {grantee}:"
                    " that role can destroy posted financial records",
                )
