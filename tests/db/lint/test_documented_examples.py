"""A rule's documented example must not be reported by the other rules.

A user who follows a rule's page (its remedy and example) with every library on must get a
clean run from the rules that judge the same thing: a column's type, its name, a grant. The
example is linted with all libraries; a rule that fires on it is a contradiction unless it is
listed below with its reason.
"""

from __future__ import annotations

import re

import pytest

from plimsoll.db.lint.compose import compose
from plimsoll.db.lint.engine import SourceFile, lint_sources
from plimsoll.db.lint.registry import load_registry

LIBRARIES = ["safety", "general", "hipaa", "gdpr", "pci_dss", "sox"]

# Rules that ask for more of a schema than one example shows (comments, an audit trail, a
# retention period, a primary key, timeouts around the statement...): a fragment cannot
# satisfy them, and following the example does not go against them.
COMPLETENESS = {
    "require-column-comment": "asks for comments the example leaves out",
    "require-table-comment": "asks for comments the example leaves out",
    "require-primary-key": "examples show the column in question, not every key",
    "require-foreign-key-index": "examples show the key, not every index",
    "prefer-robust-stmts": "examples are not written to be re-run",
    "require-lock-timeout": "examples leave out the migration's SET lock_timeout",
    "require-statement-timeout": "examples leave out the migration's SET statement_timeout",
    "transaction-nesting": "examples show one step of a migration",
    "gdpr-collection-timestamp": "asks for a collection timestamp on the whole table",
    "gdpr-consent-records": "asks for a consent table elsewhere in the schema",
    "gdpr-processing-purpose": "asks for a table comment",
    "gdpr-retention-policy": "asks for a table comment or expiry column",
    "gdpr-personal-data-classified": "asks for column comments",
    "gdpr-erasure-path": "asks for an erasure path elsewhere in the schema",
    "gdpr-special-category-audit": "asks for an audit trigger on the table",
    "gdpr-special-category-rls": "asks for row-level security on the table",
    "gdpr-subject-primary-key": "examples show columns, not every key",
    "hipaa-access-log-table": "asks for an access-log table elsewhere in the schema",
    "hipaa-phi-audit-columns": "asks for audit columns on the table",
    "hipaa-phi-audit-trigger": "asks for an audit trigger on the table",
    "hipaa-phi-column-classified": "asks for column comments",
    "hipaa-phi-retention-column": "asks for a retention column",
    "hipaa-phi-row-level-security": "asks for row-level security on the table",
    "pci-audit-trigger": "asks for an audit trigger on the table",
    "sox-financial-audit-columns": "asks for audit columns on the table",
    "sox-financial-audit-trigger": "asks for an audit trigger on the table",
    "sox-financial-change-history": "asks for a history table",
    "sox-amount-currency": "asks for a currency column next to amounts",
}
# Examples that show the problem next to its fix: what fires on the problem half.
SHOWS_THE_PROBLEM = {
    ("changing-column-type", "prefer-text-field"): "shows a varchar change, as it is met",
    ("constraint-missing-not-valid", "transaction-nesting"): "COMMIT between the two steps",
    ("id-column-not-primary-key", "prefer-bigint-over-int"): "shows an int id, the problem",
    ("identifier-length", "require-concurrent-index-creation"): "shows an index name",
    ("prefer-bigint-over-int", "prefer-identity"): "shows a serial key, the problem",
    ("prefer-bigint-over-smallint", "prefer-identity"): "shows a serial key, the problem",
    ("require-statement-timeout", "changing-column-type"): "the slow statement it guards",
    ("too-many-columns", "prefer-bigint-over-int"): "a wide table sketched with int columns",
}
_SQL = re.compile(r"```sql\n(.*?)```", re.S)


def _examples() -> list[object]:
    registry = load_registry()
    out = []
    for rule_id, rule in sorted(registry.rules.items()):
        found = _SQL.search(rule.documentation())
        if found and not rule.removed_in:
            out.append(pytest.param(rule_id, found.group(1), id=rule_id))
    return out


@pytest.mark.parametrize(("rule_id", "sql"), _examples())
def test_documented_example_is_not_contradicted(rule_id: str, sql: str) -> None:
    registry = load_registry()
    active, audit = compose(registry, LIBRARIES)
    rule = registry.rules[rule_id]
    report = lint_sources(
        [SourceFile("example.sql", sql, rule.kind == "statement")], active, audit, pg_version=17
    )
    fired = {f.rule for f in report.findings} - {rule_id}
    against = sorted(
        other
        for other in fired
        if other not in COMPLETENESS and (rule_id, other) not in SHOWS_THE_PROBLEM
    )
    assert not against, f"{rule_id}'s documented example trips {against}"


def test_the_examples_named_by_the_review_are_clean() -> None:
    """pci-pan-not-plaintext's token and last-four columns, pci-truncated-pan-bounded's last
    four, sox-amount-currency's currency: no char(n), no token column taken for a secret."""
    registry = load_registry()
    for rule_id in ("pci-pan-not-plaintext", "pci-truncated-pan-bounded", "sox-amount-currency"):
        found = _SQL.search(registry.rules[rule_id].documentation())
        assert found is not None
        assert "char(" not in found.group(1)
        assert "_token " not in found.group(1)
