"""gdpr-personal-data-not-key."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import PersonalDataOptions, personal_tables
from plimsoll.db.lint.schema_facts import origin_of


class GdprPersonalDataNotKey(SchemaRule):
    """Do not use personal data as a primary key or a foreign key.

    **Problem.** A primary key or a foreign key is made of a personal-data column:
    ``email text PRIMARY KEY``, or ``orders.customer_email REFERENCES users (email)``.

    **Why.** A key is copied into every referencing row, index, log line and URL, so the
    personal data spreads far beyond the table that needs it (data minimisation, GDPR
    Art. 5(1)(c)); rectifying it (Art. 16) means updating every copy, and erasing it
    (Art. 17) means finding them all. A surrogate key is pseudonymous by design (Art. 25(1)).

    **Fix.** Key the table on a surrogate (``bigint GENERATED ALWAYS AS IDENTITY`` or a
    UUID) and keep the personal value in one column with a UNIQUE constraint; reference the
    surrogate.

    **Example.**

    ```sql
    CREATE TABLE users (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        email text NOT NULL UNIQUE
    );
    CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));
    ```
    """

    id = "gdpr-personal-data-not-key"
    severity = Severity.WARNING
    help = "Key on a surrogate (identity or UUID); keep the personal value UNIQUE in one place."

    class Options(PersonalDataOptions):
        """Which columns hold personal data (shared by the gdpr library: set them once under ``db.lint.library_options.gdpr``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag primary and foreign keys made of personal-data columns."""
        for held in personal_tables(catalog, self.options).values():
            personal = {c.name for c in held.personal}
            if not personal:
                continue
            for constraint in held.table.constraints:
                if constraint.kind not in ("p", "f"):
                    continue
                columns = [c for c in constraint.columns if c in personal]
                if not columns:
                    continue
                kind = "primary key" if constraint.kind == "p" else "foreign key"
                spread = (
                    "is copied into every referencing row"
                    if constraint.kind == "p"
                    else f"copies it from {constraint.references}"
                )
                yield Violation(
                    f"{kind} {constraint.name} of {held.key} is made of personal data"
                    f" ({', '.join(columns)}) and {spread}: rectification and erasure"
                    " (Art. 16, 17) must chase every copy",
                    object=f"{held.key}.{constraint.name}",
                    origin=origin_of(held.table, constraint),
                )
