"""The remedies of the safety rules that change with the PostgreSQL version.

The YAML cases check which lines a rule reports and its message; the help (the remedy) is
not in the case format, yet for these rules it is the version-dependent part: there is no
concurrent form before some version, or a better one after it.
"""

from __future__ import annotations

import pytest

from plimsoll.db.lint.compose import compose
from plimsoll.db.lint.engine import SourceFile, lint_sources
from plimsoll.db.lint.registry import load_registry


def _helps(rule_id: str, sql: str, pg_version: int) -> list[str]:
    active, audit = compose(load_registry(), [], select=[rule_id], pg_version=pg_version)
    report = lint_sources([SourceFile("m.sql", sql, True)], active, audit, pg_version=pg_version)
    return [f.help for f in report.findings if f.rule == rule_id]


@pytest.mark.parametrize(
    ("rule_id", "sql", "pg_version", "expected"),
    [
        ("require-concurrent-reindex", "REINDEX INDEX i;", 11, "no REINDEX CONCURRENTLY"),
        ("require-concurrent-reindex", "REINDEX INDEX i;", 12, "REINDEX ... CONCURRENTLY"),
        (
            "require-concurrent-partition-detach",
            "ALTER TABLE e DETACH PARTITION e1;",
            13,
            "no DETACH PARTITION CONCURRENTLY",
        ),
        (
            "require-concurrent-partition-detach",
            "ALTER TABLE e DETACH PARTITION e1;",
            14,
            "DETACH PARTITION ... CONCURRENTLY",
        ),
        (
            "adding-not-nullable-field",
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL;",
            11,
            "Before PostgreSQL 12",
        ),
        (
            "adding-not-nullable-field",
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL;",
            12,
            "Add CHECK (c IS NOT NULL) NOT VALID",
        ),
        (
            "adding-not-nullable-field",
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL;",
            18,
            "NOT NULL c NOT VALID",
        ),
        (
            "adding-field-with-default",
            "ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a + 1) STORED;",
            18,
            "VIRTUAL generated column",
        ),
    ],
)
def test_remedy_follows_the_version(rule_id: str, sql: str, pg_version: int, expected: str) -> None:
    """The help names the remedy that exists on that version."""
    helps = _helps(rule_id, sql, pg_version)
    assert len(helps) == 1
    assert expected in helps[0]


def test_virtual_generated_columns_are_not_offered_before_18() -> None:
    """Before PostgreSQL 18 a stored column is the only kind: the help does not offer another."""
    sql = "ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a + 1) STORED;"
    (help_text,) = _helps("adding-field-with-default", sql, 17)
    assert "VIRTUAL" not in help_text
