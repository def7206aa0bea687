"""hipaa-phi-identifier-encrypted."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.schema_facts import (
    Patterns,
    base_type,
    classification,
    column_finding,
    columns_named,
    matcher,
    unqualified,
)

DEFAULT_IDENTIFIER_PATTERNS = (
    r"(^|_)ssn($|_)",
    r"social_?security",
    r"(^|_)mrn($|_)",
    r"medical_?record_?(number|no|num|id)",
    r"beneficiary_?(number|no|num|id)",
    r"health_?plan_?(number|no|num|id)",
    r"insurance_?(id|number|member)",
)
DEFAULT_ENCRYPTED_TYPE_PATTERNS = (r"encrypt", r"cipher", r"(^|_)pgp($|_)", r"(^|_)enc($|_)")


class PhiIdentifierEncrypted(SchemaRule):
    """Direct identifiers (SSN, medical record number, plan number) are stored encrypted.

    **Problem.** A column holding a direct identifier (by default: a social security number,
    a medical record number, a health plan beneficiary or insurance number) has a readable
    type such as ``text`` or ``integer``.

    **Why.** 45 CFR 164.312(a)(2)(iv) (encryption and decryption) asks for a mechanism to
    encrypt ePHI, and the HHS breach guidance treats encrypted data as secured: a leaked
    backup, replica or ``SELECT`` of ciphertext is not a reportable breach, a leaked column
    of SSNs is. The decision this rule takes: the column is encrypted when its type is
    ``bytea`` (ciphertext from pgcrypto's ``pgp_sym_encrypt`` or from the application) or a
    type or domain whose name says so (``encrypted_type_patterns``, for example a domain
    ``encrypted_text``). With ``require_pgcrypto``, a ``bytea`` identifier also needs the
    ``pgcrypto`` extension, for teams that encrypt in the database. Disk encryption does not
    count: it protects against a stolen disk, not against a database role or a dump. A
    column labelled with another classification than ``phi`` is left alone.

    **Fix.** Store the ciphertext (``bytea``), or declare an encrypted domain, and keep the
    key outside the database; search by a keyed hash (HMAC) column if lookups are needed.

    **Example.**

    ```sql
    CREATE EXTENSION IF NOT EXISTS pgcrypto;
    CREATE TABLE patients (id bigint PRIMARY KEY, ssn bytea, ssn_hmac bytea);
    INSERT INTO patients VALUES (1, pgp_sym_encrypt('078-05-1120', current_setting('app.key')),
        hmac('078-05-1120', current_setting('app.hmac_key'), 'sha256'));
    ```
    """

    id = "hipaa-phi-identifier-encrypted"
    severity = Severity.ERROR
    help = "Store the identifier encrypted (bytea ciphertext or a declared encrypted domain)."
    version = "1.0.0"

    class Options(BaseModel):
        """Which columns are direct identifiers, and which types count as encrypted."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        identifier_patterns: Patterns = Field(
            default=DEFAULT_IDENTIFIER_PATTERNS,
            description="Column names holding direct identifiers, in any table.",
        )
        encrypted_type_patterns: Patterns = Field(
            default=DEFAULT_ENCRYPTED_TYPE_PATTERNS,
            description="Type or domain names (without schema) that hold ciphertext; bytea"
            " always counts.",
        )
        require_pgcrypto: bool = Field(
            default=False,
            description="A bytea identifier also needs the pgcrypto extension (encryption in"
            " the database rather than in the application).",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each identifier column whose type is not ciphertext."""
        identifiers = matcher(self.options.identifier_patterns)
        encrypted = matcher(self.options.encrypted_type_patterns)
        pgcrypto = "pgcrypto" in catalog.extensions
        for table, column in columns_named(catalog, identifiers):
            label = classification(column.comment)
            if label is not None and label != "phi":
                continue
            key = f"{table.key}.{column.name}"
            if base_type(column.type) == "bytea":
                if self.options.require_pgcrypto and not pgcrypto:
                    yield column_finding(
                        table,
                        column,
                        f"column {key} holds an identifier as bytea but the pgcrypto"
                        " extension is not installed: nothing in the database encrypts it",
                        help="CREATE EXTENSION pgcrypto and store pgp_sym_encrypt(...).",
                    )
                continue
            if encrypted(unqualified(column.type)):
                continue
            yield column_finding(
                table,
                column,
                f"column {key} ({column.type}) holds an identifier in plain text: every"
                " role with SELECT, every backup and every replica reads it",
            )
