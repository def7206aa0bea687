"""sox-segregation-of-duties."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.sox._common import HistoryOptions, financial_tables, history_tables
from plimsoll.db.lint.schema_facts import finding, holders


class SegregationOfDuties(SchemaRule):
    """No role that writes financial records can also rewrite their audit trail.

    **Problem.** A role that may write a financial table (``INSERT``, ``UPDATE``,
    ``DELETE``, ``TRUNCATE``) also holds ``UPDATE``, ``DELETE`` or ``TRUNCATE`` on that
    table's history or audit table, or ``PUBLIC`` does.

    **Why.** Segregation of duties is a core Sarbanes-Oxley section 404 control: the person
    (or service) recording transactions must not be the one able to hide them. A role that
    can change a payment and then delete the audit rows recording the change defeats both
    the trail and section 802 (18 U.S.C. 1519: altering or concealing records). The decision
    this rule takes: granting a role INSERT together with UPDATE on a transactional table is
    ordinary (an invoice's status changes) and is left to the ledger rules
    (``sox-ledger-append-only``, ``sox-ledger-no-delete-grant``); what no single role may
    hold is write access to the records *and* the power to change the trail of them. Writers
    of the audit trail should only ``INSERT`` (an audit trigger running ``SECURITY
    DEFINER`` needs no grant at all). History tables are found as by
    ``sox-financial-change-history``.

    **Fix.** Revoke ``UPDATE``, ``DELETE`` and ``TRUNCATE`` on the history table from the
    role; let the audit trigger's owner write it.

    **Example.**

    ```sql
    REVOKE UPDATE, DELETE, TRUNCATE ON invoices_history FROM billing_app;
    ```
    """

    id = "sox-segregation-of-duties"
    severity = Severity.WARNING
    help = (
        "Revoke UPDATE, DELETE and TRUNCATE on the audit trail from roles that write the records."
    )
    version = "1.0.0"

    class Options(HistoryOptions):
        """Which tables are financial, where their history is kept, and what tampers with it."""

        write_privileges: tuple[str, ...] = Field(
            default=("INSERT", "UPDATE", "DELETE", "TRUNCATE"),
            description="Privileges on a financial table that make a role a writer of records.",
        )
        trail_privileges: tuple[str, ...] = Field(
            default=("UPDATE", "DELETE", "TRUNCATE"),
            description="Privileges on a history table that let a role change the trail.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each role writing a financial table that can also change its history table."""
        for table in financial_tables(catalog, self.options):
            writers = holders(table.grants, self.options.write_privileges)
            for trail in history_tables(catalog, table, self.options):
                tamperers = holders(trail.grants, self.options.trail_privileges)
                for role, held in tamperers.items():
                    if role == "PUBLIC":
                        who = "every role (PUBLIC)"
                    elif role in writers:
                        who = f"role {role}, which writes {table.key} ({', '.join(writers[role])}),"
                    else:
                        continue
                    yield finding(
                        table,
                        f"{who} can {', '.join(held)} the audit trail {trail.key} of"
                        f" financial table {table.key}: whoever records the transactions can"
                        " also erase the evidence of them",
                    )
