"""security-plaintext-secret."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.schema._objects import SECRET_COLUMN_PATTERNS
from plimsoll.db.lint.schema_facts import (
    Patterns,
    ResolvedType,
    columns_named,
    is_text_type,
    matcher,
    resolve_type,
)


class SecurityPlaintextSecret(SchemaRule):
    """Passwords, secrets, tokens and API keys are never stored as plain text.

    **Problem.** A column named ``password``, ``api_key``, ``client_secret`` or
    ``refresh_token`` of type ``text``, ``varchar``, ``char``, ``citext`` or ``json`` most
    likely holds the credential itself, readable by anyone who can read the table. An array
    of them (``backup_codes_token text[]``) or a domain over them (``CREATE DOMAIN
    plain_text AS text``) stores the same readable text.

    **Why.** Everything that copies the table copies the credentials: backups, replicas,
    dumps handed to developers, logical decoding, query logs and error messages. A leaked
    password also opens the user's other accounts; a leaked API key or token is a session
    anyone can use.

    **Fix.** Store a password as a slow salted hash (bcrypt, scrypt, argon2) and say so in
    the name (``password_hash``); encrypt secrets the application must read back, and keep
    the ciphertext in ``bytea`` (``pgp_sym_encrypt`` or the application's own envelope
    encryption). A text column is accepted when its name or its comment says it holds a
    hash or ciphertext (``hashed``: patterns searched in the lower-case name and comment,
    default ``hash``, ``digest``, ``crypt``, ``cipher``): ``COMMENT ON COLUMN
    users.password IS 'bcrypt hash'`` is taken at its word, and so is a domain whose name or
    comment says so (``CREATE DOMAIN password_hash AS text``). ``patterns`` (regular
    expressions searched in the lower-case column name, or ``glob:`` patterns) select the
    secret columns; the defaults are anchored at the end of the name, so
    ``password_changed_at`` or ``token_type`` are not taken for secrets.

    **Example.**

    ```sql
    -- readable by anything that can read users
    CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, password text NOT NULL);
    -- a hash, named as one
    CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, password_hash text NOT NULL);
    ```
    """

    id = "security-plaintext-secret"
    severity = Severity.ERROR
    help = (
        "Store a salted hash (password_hash) or ciphertext in bytea instead; say so in the"
        " column's name or comment."
    )

    class Options(BaseModel):
        """``patterns``: names of secret columns; ``hashed``: markers of a hash or ciphertext."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        patterns: Patterns = tuple(SECRET_COLUMN_PATTERNS)
        hashed: Patterns = (
            "hash",
            "digest",
            "crypt",
            "cipher",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each secret-named column of a text type not marked as hashed or encrypted."""
        secrets = matcher(tuple(self.options.patterns))
        hashed = matcher(tuple(self.options.hashed))
        for table, column in columns_named(catalog, lambda n: secrets(n) and not hashed(n)):
            stored = resolve_type(catalog, column.type)
            if not is_text_type(stored.element):
                continue
            if column.comment and hashed(column.comment):
                continue
            if any(hashed(d.name) or (d.comment and hashed(d.comment)) for d in stored.domains):
                continue
            key = f"{table.key}.{column.name}"
            yield Violation(
                f"{key} is {column.type}{_underneath(stored)}: a secret stored as readable"
                " text is exposed to every backup, replica, dump and SELECT on the table",
                object=key,
                origin=column.origin,
            )


def _underneath(stored: ResolvedType) -> str:
    """`` (a domain over text)`` when a domain hides the text type, else nothing."""
    if not stored.domains:
        return ""
    return f" (a domain over {stored.domains[-1].base_type})"
