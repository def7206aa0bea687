"""sox-ledger-append-only."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Table
from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.sox._common import LedgerOptions, LedgerTriggerRule
from plimsoll.db.lint.schema_facts import finding, holders


class LedgerAppendOnly(LedgerTriggerRule):
    """Ledger tables are append-only: UPDATE is refused by a trigger or granted to nobody.

    **Problem.** A ledger table lets rows be changed in place: some role holds ``UPDATE`` on
    it and no ``BEFORE UPDATE`` trigger refuses updates (with ``require_trigger``: there is
    no such trigger, whatever the grants).

    **Why.** An entry changed in place loses what it said before: the books can be
    rewritten with no trace. Sarbanes-Oxley section 802 (18 U.S.C. 1519) punishes altering
    financial records; section 404 auditors expect ledgers where corrections are new,
    reversing entries. Either no role but the owner may ``UPDATE``, or a ``BEFORE UPDATE``
    trigger raising an error refuses every update, the owner's included (a trigger counts
    when its function contains a ``RAISE`` of error level; a function the schema does not
    define is trusted).

    **Fix.** ``REVOKE UPDATE`` on the table, and add a ``BEFORE UPDATE`` trigger that
    raises; post reversing entries to correct mistakes.

    **Example.**

    ```sql
    REVOKE UPDATE ON gl_entries FROM accounting_app;
    CREATE TRIGGER gl_entries_no_update BEFORE UPDATE ON gl_entries
        FOR EACH ROW EXECUTE FUNCTION forbid_change();
    ```
    """

    id = "sox-ledger-append-only"
    severity = Severity.ERROR
    help = "REVOKE UPDATE on the ledger and add a BEFORE UPDATE trigger that raises."
    version = "1.0.0"

    class Options(LedgerOptions):
        """Which tables are ledgers, and whether a trigger is required whatever the grants."""

        require_trigger: bool = Field(
            default=False,
            description="Require a BEFORE UPDATE trigger that raises even when no role holds"
            " UPDATE (it binds the owner too).",
        )

    def judge(self, table: Table, blocked: set[str]) -> Iterator[Violation]:
        """Flag the ledger table if some role can update its rows."""
        if "UPDATE" in blocked:
            return
        updaters = holders(table.grants, ("UPDATE",))
        if updaters:
            yield finding(
                table,
                f"ledger table {table.key} grants UPDATE to {', '.join(updaters)} and no"
                " BEFORE UPDATE trigger refuses it: posted entries can be rewritten in place",
            )
        elif self.options.require_trigger:
            yield finding(
                table,
                f"ledger table {table.key} has no BEFORE UPDATE trigger refusing updates:"
                " its owner (often the application) can rewrite posted entries",
                help="Add a BEFORE UPDATE ... FOR EACH ROW trigger whose function raises.",
            )
