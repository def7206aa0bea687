"""gdpr-special-category-audit."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import PersonalDataOptions, origin_of, personal_tables
from plimsoll.db.lint.rules.hipaa._common import DML_EVENTS, Patterns, audited_events, matcher


class GdprSpecialCategoryAudit(SchemaRule):
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

    class Options(PersonalDataOptions):
        """Which columns hold special categories, and what counts as an audit trail."""

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
        """Flag special-category tables whose changes no trigger or extension records."""
        if set(self.options.audit_extensions) & set(catalog.extensions):
            return
        names = matcher(tuple(self.options.audit_trigger_patterns))
        for held in personal_tables(catalog, self.options).values():
            if not held.special:
                continue
            covered = audited_events(held.table, names, context.pg_version)
            missing = [e for e in DML_EVENTS if e not in covered]
            if not missing:
                continue
            key = held.table.key
            yield Violation(
                f"table {key} holds special-category data (Art. 9) but no audit trigger records"
                f" {', '.join(missing)} and no auditing extension is installed",
                object=key,
                origin=origin_of(held.table),
            )
