"""The ``hipaa`` library: safeguards for protected health information (opt-in)."""

from plimsoll.db.lint.library import Library

LIBRARY = Library.of(
    "hipaa",
    "1.1.0",
    "HIPAA Security Rule safeguards for tables holding PHI: classification, audit columns"
    " and triggers, row-level security, grants, encryption of identifiers, integrity,"
    " retention and access logging.",
    "hipaa-phi-column-classified",
    "hipaa-phi-audit-columns",
    "hipaa-phi-audit-trigger",
    "hipaa-phi-row-level-security",
    "hipaa-phi-no-public-grant",
    "hipaa-phi-no-broad-role-grant",
    "hipaa-phi-view-no-public-grant",
    "hipaa-phi-identifier-encrypted",
    "hipaa-phi-index-no-decrypt",
    "hipaa-phi-security-definer-search-path",
    "hipaa-phi-primary-key",
    "hipaa-phi-no-constant-default",
    "hipaa-phi-table-logged",
    "hipaa-phi-retention-column",
    "hipaa-access-log-table",
    shared_options=(
        "phi_column_patterns",
        "linked_identifier_patterns",
        "phi_table_patterns",
        "log_table_patterns",
    ),
)
