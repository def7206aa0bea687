"""The ``pci_dss`` library: a schema storing payment card data that meets PCI DSS v4.0."""

from plimsoll.db.lint.library import Library

LIBRARY = Library.of(
    "pci_dss",
    "1.0.0",
    "PCI DSS v4.0: card numbers never readable, no sensitive authentication data (CVV, track,"
    " PIN), access to cardholder data restricted and audited.",
    "pci-pan-not-plaintext",
    "pci-no-card-verification-code",
    "pci-no-track-or-pin-data",
    "pci-pan-not-indexed",
    "pci-no-pan-literal",
    "pci-expiry-date-protected",
    "pci-truncated-pan-bounded",
    "pci-no-public-grants",
    "pci-restricted-access",
    "pci-audit-trigger",
    "pci-cardholder-primary-key",
    shared_options=(
        "pan_patterns",
        "not_pan_patterns",
        "truncated_patterns",
        "token_patterns",
        "protected_names",
        "protected_types",
        "cardholder_tables",
    ),
)
