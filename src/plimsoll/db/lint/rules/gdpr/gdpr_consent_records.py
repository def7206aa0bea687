"""gdpr-consent-records."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog, Table
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import PersonalDataOptions, is_temporal, personal_tables
from plimsoll.db.lint.schema_facts import Patterns, finding, matcher


class GdprConsentRecords(SchemaRule):
    """Record consent: a consent table linking each person, purpose, grant and withdrawal.

    **Problem.** The schema stores personal data but has no table recording consent, or its
    consent table cannot show who consented (no foreign key to a data-subject table), to
    what (no purpose), when (no grant timestamp) or whether it was withdrawn (no withdrawal
    timestamp).

    **Why.** Where processing rests on consent, the controller must be able to demonstrate
    that the person consented (GDPR Art. 7(1)), per purpose (Art. 6(1)(a)), and consent can
    be withdrawn at any time (Art. 7(3)): a boolean ``marketing_opt_in`` on the user row
    proves none of it. One row per grant, with its withdrawal, is the evidence.

    **Fix.** Create a table whose name matches ``consent_tables`` (default: containing
    ``consent``) with a foreign key to a data-subject table (or, when the schema has none,
    to a table holding personal data), a purpose column (``purpose_columns``), and grant and
    withdrawal timestamps (``granted_columns``, ``withdrawn_columns``). When no processing
    rests on consent (contract or legal obligation are other lawful bases of Art. 6),
    disable this rule in the config and say why.

    **Example.**

    ```sql
    CREATE TABLE consents (
        id bigint PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        purpose text NOT NULL,
        granted_at timestamptz NOT NULL DEFAULT now(),
        withdrawn_at timestamptz
    );
    ```
    """

    id = "gdpr-consent-records"
    severity = Severity.WARNING
    help = "Add a consents table: subject FK, purpose, granted_at and withdrawn_at."

    class Options(PersonalDataOptions):
        """Which tables record consent and the columns each must have."""

        consent_tables: Patterns = Field(
            default=("consent",),
            description="Names (or schema.name) of consent tables.",
        )
        purpose_columns: tuple[str, ...] = Field(
            default=("purpose", "purpose_id", "purpose_code", "scope"),
            description="Accepted names of the purpose column.",
        )
        granted_columns: tuple[str, ...] = Field(
            default=("granted_at", "given_at", "consented_at", "accepted_at", "created_at"),
            description="Accepted names of the grant timestamp.",
        )
        withdrawn_columns: tuple[str, ...] = Field(
            default=("withdrawn_at", "revoked_at", "retracted_at"),
            description="Accepted names of the withdrawal timestamp.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag personal data without any complete consent table."""
        held = personal_tables(catalog, self.options)
        personal = [h for h in held.values() if h.personal]
        if not personal:
            return
        is_consent = matcher(tuple(self.options.consent_tables))
        consent = [t for t in catalog.all_tables() if is_consent.table(t)]
        subjects = {k for k, h in held.items() if h.subject}
        owners = subjects or {h.key for h in personal}
        gaps = {t.key: self._gaps(t, owners) for t in consent}
        if consent and not all(gaps.values()):
            return  # one complete consent table is enough
        if not consent:
            first = personal[0]
            yield finding(
                first.table,
                f"personal data is stored ({first.key}: {first.describe()}) but no consent table"
                " exists: consent cannot be demonstrated per person and purpose (Art. 7(1))",
            )
            return
        for table in consent:
            yield finding(
                table,
                f"consent table {table.key} lacks {'; '.join(gaps[table.key])}: it cannot"
                " demonstrate who consented to what, when, and whether it was withdrawn"
                " (Art. 7(1), 7(3))",
            )

    def _gaps(self, table: Table, owners: set[str]) -> list[str]:
        """What the consent table lacks (empty when complete)."""
        options = self.options
        gaps = []
        if not any(c.kind == "f" and c.references in owners for c in table.constraints):
            gaps.append("a foreign key to a data-subject table")
        if not any(table.column(n) for n in options.purpose_columns):
            gaps.append(f"a purpose column ({' or '.join(options.purpose_columns)})")
        for what, names in (
            ("grant", options.granted_columns),
            ("withdrawal", options.withdrawn_columns),
        ):
            found = [c for c in table.columns if c.name in names]
            if not any(is_temporal(c) for c in found):
                gaps.append(f"a {what} timestamp ({' or '.join(names)})")
        return gaps
