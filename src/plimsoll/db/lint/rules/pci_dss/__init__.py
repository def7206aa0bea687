"""The ``pci_dss`` rules: how a schema storing payment card data meets PCI DSS v4.0.

Each rule cites the PCI DSS v4.0 requirement it supports: Requirement 3 (protect stored
account data: 3.2.1 keep it minimal, 3.3.1 never retain sensitive authentication data after
authorization, 3.4.1 masking and truncation, 3.5.1 render the PAN unreadable), Requirement 7
(restrict access by need to know: 7.2.1, 7.2.2, 7.2.6) and Requirement 10 (log access to
cardholder data: 10.2.1, 10.2.2). Which columns hold a primary account number (PAN), and in
which form, is decided by configurable name patterns and column types (see
:mod:`plimsoll.db.lint.rules.pci_dss._common`).
"""
