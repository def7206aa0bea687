"""hipaa-phi-audit-trigger."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog, Table
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules._audit_trigger import AuditTriggerOptions, AuditTriggerRule
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, audited_phi_tables


class PhiAuditTrigger(AuditTriggerRule):
    """Tables holding PHI have audit triggers recording every INSERT, UPDATE and DELETE.

    **Problem.** A table holding PHI has no audit trigger for some of the row events: a
    change of that kind leaves no trace in the database.

    **Why.** 45 CFR 164.312(b) (audit controls) requires hardware, software or procedural
    mechanisms that record and examine activity in systems containing ePHI. Audit columns
    keep only the last change; a row-level trigger writing the old and new row to an audit
    table keeps every change, including deletions, whatever client made it (the application,
    a script, an administrator in ``psql``). A row-level trigger fires for each row; a
    statement-level trigger counts only when it declares transition tables (``REFERENCING
    NEW TABLE AS ...``, PostgreSQL 10 and later), which hold every row the statement
    changed. ``TRUNCATE`` fires no row trigger: add ``TRUNCATE`` to ``events`` to require a
    statement-level trigger for it too. Reads fire no trigger at all: see
    ``hipaa-access-log-table``.

    **Fix.** Create an ``AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW`` trigger calling
    an audit function. Only triggers whose name or function name matches
    ``trigger_name_patterns`` count (a trigger that sets ``updated_at`` audits nothing); an
    empty list accepts any trigger.

    Audit and access-log tables (the ``log_table_patterns`` option) are left out: they are
    the audit trail, and auditing them in turn would never end.

    **Example.**

    ```sql
    CREATE TRIGGER patients_audit AFTER INSERT OR UPDATE OR DELETE ON patients
        FOR EACH ROW EXECUTE FUNCTION audit.log_change();
    ```
    """

    id = "hipaa-phi-audit-trigger"
    severity = Severity.ERROR
    help = (
        "Add an AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW trigger writing an audit trail."
    )
    version = "1.1.0"

    class Options(AuditTriggerOptions, PhiOptions):
        """Which tables hold PHI, the events to audit, and what an audit trigger is called."""

    def audited(self, catalog: Catalog) -> Iterator[tuple[Table, str]]:
        """The tables holding PHI, named with why they do."""
        for phi in audited_phi_tables(catalog, self.options):
            yield phi.table, phi.describe()

    def message(self, table: str, missing: str) -> str:
        """What a PHI table missing audited events is told."""
        return (
            f"table {table} has no audit trigger recording {missing}: those changes to PHI"
            " leave no audit trail"
        )
