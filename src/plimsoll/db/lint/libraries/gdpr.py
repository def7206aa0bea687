"""The ``gdpr`` library: a schema holding personal data that supports the GDPR."""

from plimsoll.db.lint.library import Library

LIBRARY = Library.of(
    "gdpr",
    "1.0.0",
    "GDPR (Regulation (EU) 2016/679): personal data classified, purpose and retention declared,"
    " an erasure path for every data subject, consent records, minimisation, and protection of"
    " special categories.",
    "gdpr-personal-data-classified",
    "gdpr-special-category-classified",
    "gdpr-special-category-rls",
    "gdpr-special-category-audit",
    "gdpr-processing-purpose",
    "gdpr-retention-policy",
    "gdpr-collection-timestamp",
    "gdpr-erasure-path",
    "gdpr-soft-delete-erasure",
    "gdpr-consent-records",
    "gdpr-subject-primary-key",
    "gdpr-personal-data-not-key",
    "gdpr-pseudonymise-identifiers",
    "gdpr-no-public-grants",
    "gdpr-no-free-text-notes",
    "gdpr-no-duplicate-personal-data",
    "gdpr-no-personal-data-in-logs",
    "gdpr-no-unlogged-personal-data",
    shared_options=(
        "personal_patterns",
        "subject_attribute_patterns",
        "special_patterns",
        "not_personal_patterns",
        "subject_tables",
    ),
)
