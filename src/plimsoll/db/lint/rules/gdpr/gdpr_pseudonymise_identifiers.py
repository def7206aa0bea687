"""gdpr-pseudonymise-identifiers."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog, Column
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.gdpr._common import (
    PSEUDONYMISED_LABELS,
    PersonalDataOptions,
    label_of,
    personal_tables,
)
from plimsoll.db.lint.schema_facts import (
    Patterns,
    column_finding,
    column_key,
    matcher,
    unqualified,
)


class GdprPseudonymiseIdentifiers(SchemaRule):
    """Store national identifiers hashed or encrypted, never as readable text.

    **Problem.** A national identification number (national id, social security number,
    passport or identity-card number, tax id, driving licence number) is stored as text or a
    number anyone with SELECT reads in clear.

    **Why.** Member States may set specific conditions for national identification numbers
    (GDPR Art. 87), and they are the identifiers most useful for identity theft.
    Pseudonymisation and encryption are the measures the GDPR names first (Art. 25(1),
    Art. 32(1)(a)); a leaked hash or ciphertext is not a breach the persons must be told of
    when it is unintelligible (Art. 34(3)(a)).

    **Fix.** Store a keyed hash (HMAC, for lookups) or a ciphertext (``pgcrypto``'s
    ``pgp_sym_encrypt``, or application-side encryption) in a ``bytea`` column, or name the
    column for what it holds (``national_id_hash``, ``ssn_encrypted``: ``protected_names``),
    or label it ``classification: pseudonymised`` when it holds a token. ``identifier_patterns``
    sets which names are national identifiers and ``protected_types`` (default ``bytea``)
    which types count as unreadable.

    **Example.**

    ```sql
    CREATE TABLE employees (id bigint PRIMARY KEY, national_id_hmac bytea NOT NULL);
    ```
    """

    id = "gdpr-pseudonymise-identifiers"
    severity = Severity.ERROR
    help = "Store a keyed hash or ciphertext in a bytea column instead of the readable number."

    class Options(PersonalDataOptions):
        """Which columns are national identifiers and what counts as protected."""

        identifier_patterns: Patterns = Field(
            default=(
                r"national_?id|(^|_)ssn($|_)|social_?security|passport",
                r"(^|_)tax_?(id|number|no)$|(^|_)(tin|nin)$",
                r"driv(er|ing)_?licen[cs]e|identity_?card|(^|_)id_card",
            ),
            description="Column names of national identification numbers.",
        )
        protected_names: Patterns = Field(
            default=(
                r"_(hash|hashed|hmac|digest|sha\d*|encrypted|enc|cipher|ciphertext|token)$",
                r"^(encrypted|hashed|hmac|enc)_",
            ),
            description="Column names that say the value is hashed, encrypted or tokenised.",
        )
        protected_types: tuple[str, ...] = Field(
            default=("bytea",),
            description="Column types that hold an unreadable (hashed or encrypted) value.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag national-identifier columns stored in a readable type."""
        is_identifier = matcher(tuple(self.options.identifier_patterns))
        for held in personal_tables(catalog, self.options).values():
            for column in held.personal:
                if not is_identifier(column.name) or self._protected(column):
                    continue
                key = column_key(held.table, column)
                yield column_finding(
                    held.table,
                    column,
                    f"column {key} stores a national identifier readable as {column.type}:"
                    " anyone with SELECT reads it in clear (Art. 87, 32(1)(a))",
                )

    def _protected(self, column: Column) -> bool:
        """Whether the column's type, name or label says the value is not readable."""
        types = {unqualified(t) for t in self.options.protected_types}
        if unqualified(column.type) in types:
            return True
        if matcher(tuple(self.options.protected_names))(column.name):
            return True
        return label_of(column) in PSEUDONYMISED_LABELS
