"""pci-audit-trigger."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog, Table
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules._audit_trigger import AuditTrailOptions, AuditTriggerRule
from plimsoll.db.lint.rules.pci_dss._common import CardDataOptions, cardholder_tables


class PciAuditTrigger(AuditTriggerRule):
    """Log every change to cardholder-data tables: an audit trigger, or pgaudit.

    **Problem.** A table storing card numbers has no audit trigger covering ``INSERT``,
    ``UPDATE`` and ``DELETE``, and no auditing extension (``pgaudit``) is installed.

    **Why.** PCI DSS v4.0 Requirement 10.2.1: audit logs are enabled and active for all
    system components and cardholder data; 10.2.1.1 logs all individual user access to
    cardholder data, and 10.2.2 records for each event the user, type, date and time, and
    the affected data. Without a trail, a changed or removed card record cannot be traced
    to anyone. Triggers see changes only; ``pgaudit`` object auditing also logs reads
    (10.2.1.1).

    **Fix.** Install ``pgaudit`` (``audit_extensions``) and configure object auditing of the
    table, or add an ``AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW`` trigger that
    writes who, what and when to a protected audit table (10.3.2: the log itself is
    protected from modification). ``audit_trigger_patterns`` (default empty: any trigger)
    restricts which triggers count, by trigger or function name.

    **Example.**

    ```sql
    CREATE TRIGGER cards_audit AFTER INSERT OR UPDATE OR DELETE ON cards
        FOR EACH ROW EXECUTE FUNCTION audit.log_change();
    ```
    """

    id = "pci-audit-trigger"
    severity = Severity.ERROR
    help = "Add an AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW audit trigger, or pgaudit."

    class Options(AuditTrailOptions, CardDataOptions):
        """Which tables hold cardholder data, and what counts as an audit trail."""

    def audited(self, catalog: Catalog) -> Iterator[tuple[Table, str]]:
        """The tables holding cardholder data."""
        for card in cardholder_tables(catalog, self.options):
            yield card.table, card.key

    def message(self, table: str, missing: str) -> str:
        """What a cardholder table missing audited events is told."""
        return (
            f"cardholder table {table} has no audit trigger recording {missing} and no auditing"
            " extension is installed: changes to card data leave no trail (Req. 10.2.1, 10.2.2)"
        )
