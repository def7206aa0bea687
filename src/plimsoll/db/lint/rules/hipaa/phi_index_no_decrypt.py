"""hipaa-phi-index-no-decrypt."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import Field

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.hipaa._common import PhiOptions, phi_tables
from plimsoll.db.lint.schema_facts import NameMatcher, Patterns, matcher

_CALL = re.compile(r"([a-z_][a-z0-9_$]*)\s*\(", re.IGNORECASE)


def _arguments(text: str, start: int) -> str:
    """The text of a call's arguments, from just after its ``(`` to the matching ``)``."""
    depth = 1
    quoted = False
    for position in range(start, len(text)):
        char = text[position]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                return text[start:position]
    return text[start:]


def decrypt_calls(definition: str, decrypts: NameMatcher) -> tuple[list[str], bool]:
    """The decrypting functions an index definition calls, and whether one is given a literal.

    A string literal among a decryption call's arguments is most likely the key.
    """
    names: set[str] = set()
    literal = False
    for call in _CALL.finditer(definition):
        if decrypts(call.group(1)):
            names.add(call.group(1))
            literal = literal or "'" in _arguments(definition, call.end())
    return sorted(names), literal


class PhiIndexNoDecrypt(SchemaRule):
    """Indexes on tables holding PHI do not decrypt the encrypted columns.

    **Problem.** An index (or exclusion constraint) on a table holding PHI indexes an
    expression that calls a decryption function (``pgp_sym_decrypt(ssn, 'key')``), usually
    to make lookups by the clear value fast.

    **Why.** An expression index stores the expression's results: the index holds every
    identifier in plain text, in files, backups and replicas, and the column's encryption
    (45 CFR 164.312(a)(2)(iv)) protects nothing. Worse, the expression itself, key included
    when it is written as a literal, is stored in ``pg_index`` and printed by
    ``pg_get_indexdef`` for every role that can read the catalog, which is every role.

    **Fix.** Drop the index; index a keyed hash (HMAC) of the value, computed by the
    application or with the key outside the schema, and look up by the hash.

    **Example.**

    ```sql
    DROP INDEX patients_ssn_clear_idx;
    CREATE INDEX patients_ssn_hmac_idx ON patients (ssn_hmac);
    ```
    """

    id = "hipaa-phi-index-no-decrypt"
    severity = Severity.ERROR
    help = "Drop the index; index a keyed hash (HMAC) of the value instead."
    version = "1.0.0"

    class Options(PhiOptions):
        """Which tables hold PHI, and which function names decrypt."""

        decrypt_function_patterns: Patterns = Field(
            default=(r"decrypt",),
            description="Function names that return clear text (pgp_sym_decrypt,"
            " pgp_pub_decrypt, decrypt, decrypt_iv, the project's own).",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each index or exclusion constraint on a PHI table whose expression decrypts."""
        decrypts = matcher(self.options.decrypt_function_patterns)
        for phi in phi_tables(catalog, self.options):
            table = phi.table
            found = [(i.name, i.definition, i.origin) for i in table.indexes]
            found += [(c.name, c.definition, c.origin) for c in table.constraints if c.kind == "x"]
            for name, definition, origin in found:
                calls, literal = decrypt_calls(definition, decrypts)
                if not calls:
                    continue
                key_note = (
                    ", and the key written in its expression is readable by every role in pg_index"
                    if literal
                    else ""
                )
                yield Violation(
                    f"index {name} on table {phi.key} stores the results of"
                    f" {', '.join(calls)}(): the encrypted PHI sits in the index in plain"
                    f" text{key_note}",
                    object=f"{phi.key}.{name}",
                    origin=origin or table.origin,
                )
