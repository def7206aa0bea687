"""gdpr-processing-purpose."""

from __future__ import annotations

from collections.abc import Iterator

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import PersonalDataOptions, has_purpose, personal_tables
from plimsoll.db.lint.schema_facts import origin_of


class GdprProcessingPurpose(SchemaRule):
    """Document the purpose of processing on every table holding personal data.

    **Problem.** A table holding personal data has no ``purpose: ...`` in its comment: the
    schema does not say why the data is collected.

    **Why.** Personal data is collected for specified, explicit purposes and not processed
    further in a way incompatible with them (GDPR Art. 5(1)(b), purpose limitation); the
    record of processing lists the purposes (Art. 30(1)(b)), and retention, minimisation and
    the lawful basis are all judged against the purpose. A purpose next to the table is seen
    by whoever adds the next column or query.

    **Fix.** ``COMMENT ON TABLE ... IS '... purpose: <why>'`` (for example ``purpose: order
    fulfilment and invoicing``), together with the ``retention:`` of
    ``gdpr-retention-policy``.

    **Example.**

    ```sql
    COMMENT ON TABLE customers IS
        'purpose: order fulfilment and invoicing. retention: 10 years';
    ```
    """

    id = "gdpr-processing-purpose"
    severity = Severity.WARNING
    help = "Add 'purpose: <why the data is processed>' to the table comment."

    class Options(PersonalDataOptions):
        """Which tables hold personal data (shared by the gdpr library: set them once under ``db.lint.library_options.gdpr``)."""

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag personal-data tables whose comment documents no purpose."""
        for held in personal_tables(catalog, self.options).values():
            if has_purpose(held.table.comment):
                continue
            key = held.key
            yield Violation(
                f"table {key} holds personal data ({held.describe()}) but its comment documents"
                " no purpose: purpose limitation and the record of processing (Art. 5(1)(b),"
                " 30(1)(b)) have nothing to refer to",
                object=key,
                origin=origin_of(held.table),
            )
