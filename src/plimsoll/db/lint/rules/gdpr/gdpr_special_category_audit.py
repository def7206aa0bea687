"""gdpr-special-category-audit."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog, Table
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules._audit_trigger import AuditTrailOptions, AuditTriggerRule
from plimsoll.db.lint.rules.gdpr._common import PersonalDataOptions, personal_tables


class GdprSpecialCategoryAudit(AuditTriggerRule):
    """Keep an audit trail of changes to tables holding special categories of personal data.

    **Problem.** A table with special-category columns has no audit trigger covering
    ``INSERT``, ``UPDATE`` and ``DELETE``, and no auditing extension (``pgaudit``) is
    installed: nobody can tell afterwards who changed a person's health or belief data.

    **Why.** The controller must be able to demonstrate that processing complies (GDPR
    Art. 5(2), accountability; Art. 24(1)), detect and document breaches (Art. 33(5)) and
    ensure the integrity of the data (Art. 5(1)(f), Art. 32(1)(b)). For Art. 9 data the
    risk, and so the expected measures, is highest. Triggers cannot see reads; ``pgaudit``
    object auditing can log SELECT as well.

    **Fix.** Install ``pgaudit`` (``CREATE EXTENSION pgaudit``, with
    ``shared_preload_libraries`` set on the server), or add row-level triggers that write
    each change to an audit table. ``audit_extensions`` (default ``pgaudit``) lists the
    extensions that count; ``audit_trigger_patterns`` (default empty: any trigger) restricts
    which triggers count, by trigger or function name. A statement-level trigger with
    transition tables (``REFERENCING NEW TABLE``, PostgreSQL 10+) counts as well.

    **Example.**

    ```sql
    CREATE TRIGGER patients_audit AFTER INSERT OR UPDATE OR DELETE ON patients
        FOR EACH ROW EXECUTE FUNCTION audit.log_change();
    ```
    """

    id = "gdpr-special-category-audit"
    severity = Severity.WARNING
    help = "Add an AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW audit trigger, or pgaudit."

    class Options(AuditTrailOptions, PersonalDataOptions):
        """Which columns hold special categories, and what counts as an audit trail."""

    def audited(self, catalog: Catalog) -> Iterator[tuple[Table, str]]:
        """The tables holding special categories of personal data."""
        for held in personal_tables(catalog, self.options).values():
            if held.special:
                yield held.table, held.table.key

    def message(self, table: str, missing: str) -> str:
        """What a special-category table missing audited events is told."""
        return (
            f"table {table} holds special-category data (Art. 9) but no audit trigger records"
            f" {missing} and no auditing extension is installed"
        )
