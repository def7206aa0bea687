"""sox-ledger-delete-blocked."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Table
from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.sox._common import LedgerOptions, LedgerTriggerRule
from plimsoll.db.lint.schema_facts import finding


class LedgerDeleteBlocked(LedgerTriggerRule):
    """Ledger tables have a BEFORE DELETE (and BEFORE TRUNCATE) trigger that refuses it.

    **Problem.** A ledger table has no ``BEFORE DELETE`` trigger whose function raises an
    error (or, with ``block_truncate``, no ``BEFORE TRUNCATE`` one).

    **Why.** Privileges do not bind the table's owner, and the application often connects
    as the owner; nor do they bind superusers or a careless migration. A trigger that raises
    makes every deletion fail, whoever runs it, and turning it off takes a visible ``ALTER
    TABLE ... DISABLE TRIGGER``. Sarbanes-Oxley section 802 (18 U.S.C. 1519, 1520) punishes
    destroying financial records and requires keeping them; section 404 asks for controls
    that prevent it. ``TRUNCATE`` fires no ``DELETE`` trigger, so it needs its own
    (statement-level) trigger. A trigger counts when its function contains a ``RAISE`` of
    error level (``RAISE EXCEPTION``, or ``RAISE`` without a level); a function the schema
    does not define (so cannot be read) is trusted. A trigger returning NULL would also skip
    the deletion, but silently: the caller believes the row is gone, so it does not count.

    **Fix.** Create a ``BEFORE DELETE`` row trigger and a ``BEFORE TRUNCATE`` statement
    trigger calling a function that raises.

    **Example.**

    ```sql
    CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% on % is not allowed: post a reversing entry', TG_OP, TG_TABLE_NAME;
    END $$;
    CREATE TRIGGER gl_entries_no_delete BEFORE DELETE ON gl_entries
        FOR EACH ROW EXECUTE FUNCTION forbid_change();
    CREATE TRIGGER gl_entries_no_truncate BEFORE TRUNCATE ON gl_entries
        FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
    ```
    """

    id = "sox-ledger-delete-blocked"
    severity = Severity.ERROR
    help = "Add BEFORE DELETE (and BEFORE TRUNCATE) triggers whose function raises an exception."
    version = "1.0.0"

    class Options(LedgerOptions):
        """Which tables are ledgers, and whether TRUNCATE must be blocked too."""

        block_truncate: bool = Field(
            default=True,
            description="Also require a BEFORE TRUNCATE trigger (TRUNCATE fires no DELETE"
            " trigger).",
        )

    def judge(self, table: Table, blocked: set[str]) -> Iterator[Violation]:
        """Flag the ledger table if DELETE (or TRUNCATE) is not refused by a trigger."""
        wanted = ["DELETE", "TRUNCATE"] if self.options.block_truncate else ["DELETE"]
        missing = [e for e in wanted if e not in blocked]
        if missing:
            yield finding(
                table,
                f"ledger table {table.key} has no BEFORE trigger refusing"
                f" {' or '.join(missing)}: its owner (often the application) can destroy"
                " posted financial records",
            )
