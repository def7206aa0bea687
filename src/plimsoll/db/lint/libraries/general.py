"""The ``general`` library: schema best practices (on by default).

Schema rules over the catalog model, grouped as the original plan has them (naming, keys,
documentation, multi-tenancy, foreign-key indexes, security) and followed by the checks that
catch real defects in a schema: duplicate indexes, foreign keys that cannot hold their keys or
carry out their actions, row-level security that does nothing, constraints left unvalidated.
Types that statement rules already cover in every file (timestamptz, jsonb, text over
varchar(n), identity over serial, bigint keys) are left to the ``safety`` library.
"""

from plimsoll.db.lint.library import Library, LibraryRule
from plimsoll.db.lint.rule import Severity

LIBRARY = Library.of(
    "general",
    "1.0.0",
    "Schema best practices: naming, keys, documentation, indexes, row-level security, security.",
    # Naming.
    "naming-snake-case",
    "identifier-length",
    "ban-reserved-identifier",
    # Keys.
    "require-primary-key",
    "id-column-not-primary-key",
    # Documentation: tables must say what they hold; columns are a goal, reported as info.
    "require-table-comment",
    LibraryRule("require-column-comment", severity=Severity.INFO),
    # Multi-tenancy: finds nothing until the project names its tenant schemas or tables.
    "multi-tenancy",
    # Indexes and foreign keys.
    "require-foreign-key-index",
    "redundant-index",
    "too-many-indexes",
    "foreign-key-type-mismatch",
    "impossible-foreign-key-action",
    "cascade-delete-depth",
    "constraint-not-validated",
    # Security and row-level security.
    "security-plaintext-secret",
    "security-public-grant",
    "security-definer-search-path",
    "policy-without-rls",
    "rls-policy-always-true",
    LibraryRule("rls-enabled-without-policy", severity=Severity.INFO),
    # Types and shape.
    "ban-money-type",
    "too-many-columns",
)
