"""sox-ledger-no-cascade-delete."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.sox._common import LedgerOptions, ledger_tables
from plimsoll.db.lint.schema_facts import foreign_keys

_EFFECT = {"CASCADE": "deletes", "SET NULL": "rewrites", "SET DEFAULT": "rewrites"}


class LedgerNoCascadeDelete(SchemaRule):
    """Foreign keys of ledger tables do not cascade deletions (or updates) into ledger rows.

    **Problem.** A foreign key of a ledger table is ``ON DELETE CASCADE`` (or ``SET NULL``,
    ``SET DEFAULT``; or the same ``ON UPDATE``): deleting a customer, an account or a
    vendor silently deletes or rewrites the ledger entries that reference it.

    **Why.** Referential actions run as the table owner, with no ``DELETE`` privilege on
    the ledger needed and no trace in the application: one ``DELETE FROM customers`` erases
    posted entries. Sarbanes-Oxley section 802 (18 U.S.C. 1519, 1520) requires financial
    records to be kept unaltered; section 404 controls must prevent their removal. With
    ``NO ACTION`` or ``RESTRICT`` the parent cannot be deleted while entries reference it,
    which is the point. This contradicts a GDPR erasure path made of ``ON DELETE CASCADE``
    (``gdpr-erasure-path``): for ledgers, erase personal data by anonymising the parent row
    instead of deleting it.

    **Fix.** Recreate the foreign key with ``ON DELETE RESTRICT`` (or ``NO ACTION``).

    **Example.**

    ```sql
    ALTER TABLE gl_entries DROP CONSTRAINT gl_entries_account_id_fkey,
        ADD CONSTRAINT gl_entries_account_id_fkey FOREIGN KEY (account_id)
            REFERENCES accounts (id) ON DELETE RESTRICT;
    ```
    """

    id = "sox-ledger-no-cascade-delete"
    severity = Severity.ERROR
    help = (
        "Recreate the foreign key ON DELETE RESTRICT; anonymise parents instead of deleting them."
    )
    version = "1.0.0"
    # GDPR's erasure path asks for ON DELETE CASCADE on data-subject tables; this forbids it
    # on ledgers: with both libraries on, the composer has to pick.
    conflicts_with = ("gdpr-erasure-path",)

    class Options(LedgerOptions):
        """Which tables are ledgers, and which referential actions are forbidden."""

        forbidden_actions: tuple[str, ...] = Field(
            default=("CASCADE", "SET NULL", "SET DEFAULT"),
            description="ON DELETE actions a ledger's foreign keys may not have.",
        )
        check_on_update: bool = Field(
            default=True,
            description="Also forbid those actions ON UPDATE (a changed parent key rewrites"
            " ledger rows).",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each foreign key of a ledger table with a forbidden referential action."""
        forbidden = {a.upper() for a in self.options.forbidden_actions}
        for table in ledger_tables(catalog, self.options):
            for fk in foreign_keys(table):
                actions = [("DELETE", fk.on_delete.upper())]
                if self.options.check_on_update:
                    actions.append(("UPDATE", fk.on_update.upper()))
                for event, action in actions:
                    if action not in forbidden:
                        continue
                    parent = fk.references or "the referenced table"
                    verb = "deleting" if event == "DELETE" else "updating the key of"
                    yield Violation(
                        f"foreign key {fk.name} of ledger table {table.key} is ON {event}"
                        f" {action}: {verb} a row of {parent} {_EFFECT.get(action, 'changes')}"
                        " posted ledger entries",
                        object=f"{table.key}.{fk.name}",
                        origin=fk.origin or table.origin,
                    )
