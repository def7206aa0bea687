"""pci-audit-trigger."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import DML_EVENTS, Patterns, audited_events, matcher
from plimsoll.db.lint.rules.pci_dss._common import CardDataOptions, cardholder_tables, origin_of


class PciAuditTrigger(SchemaRule):
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

    class Options(CardDataOptions):
        """Which tables hold cardholder data, and what counts as an audit trail."""

        audit_extensions: tuple[str, ...] = Field(
            default=("pgaudit",),
            description="Extensions whose presence counts as an audit trail of every table.",
        )
        audit_trigger_patterns: Patterns = Field(
            default=(),
            description="Trigger or trigger-function names that count as audit triggers"
            " (empty: any trigger).",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag cardholder tables whose changes no trigger or extension records."""
        if set(self.options.audit_extensions) & set(catalog.extensions):
            return
        names = matcher(tuple(self.options.audit_trigger_patterns))
        for card in cardholder_tables(catalog, self.options):
            covered = audited_events(card.table, names, context.pg_version)
            missing = [e for e in DML_EVENTS if e not in covered]
            if missing:
                yield Violation(
                    f"cardholder table {card.key} has no audit trigger recording"
                    f" {', '.join(missing)} and no auditing extension is installed: changes"
                    " to card data leave no trail (Req. 10.2.1, 10.2.2)",
                    object=card.key,
                    origin=origin_of(card.table),
                )
