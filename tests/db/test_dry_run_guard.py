"""Which statements a dry run refuses to run (calls to setval, wherever the parser finds
them), and what it runs instead of those that cannot run in a transaction block."""

from __future__ import annotations

import pytest

from plimsoll.db.dry_run_guard import (
    Execution,
    refusal,
    substitute,
    undoable_reason,
    without_concurrently,
)
from plimsoll.db.sql import parse_sql, transactional
from plimsoll.db.sqljson import parse_json

REASON = "setval is not transactional: a dry run cannot undo it"


def _node(sql: str) -> dict[str, object]:
    (statement,) = parse_json(sql).statements
    return statement.node


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT setval('big_id_seq', 1)",
        "SELECT pg_catalog.setval('big_id_seq', 1, false)",
        "SELECT app.setval('big_id_seq', 1)",  # another schema's setval may wrap the real one
        "SELECT * FROM setval('s', 5)",
        "WITH s AS (SELECT setval('s', 5)) SELECT * FROM s",
        "UPDATE big SET x = setval('s', 5)::int WHERE id = 1",
        "ALTER TABLE big ADD COLUMN y bigint DEFAULT setval('s', 1)",
        "INSERT INTO t SELECT CASE WHEN true THEN setval('s', max(id)) END FROM t",
    ],
)
def test_setval_anywhere_in_a_statement_is_refused(sql: str) -> None:
    assert undoable_reason(_node(sql)) == REASON


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT nextval('s')",
        "SELECT 'setval(1)'",  # a string, not a call
        "SELECT setval FROM t",  # a column
        "ALTER SEQUENCE s RESTART WITH 1",  # transactional: the rollback undoes it
        "TRUNCATE big RESTART IDENTITY",
        "DO $$ BEGIN PERFORM setval('s', 1); END $$",  # not visible to the parser
    ],
)
def test_other_statements_are_not_refused(sql: str) -> None:
    assert undoable_reason(_node(sql)) is None


def test_the_refusal_names_each_line() -> None:
    statements = [
        (1, _node("SELECT 1")),
        (2, _node("SELECT setval('a', 1)")),
        (4, _node("SELECT setval('b', 1)")),
    ]
    assert refusal(statements) == f"line 2: {REASON}; line 4: {REASON}"
    assert refusal([(1, _node("SELECT 1"))]) is None


# The transactional equivalents: the statement's own text with CONCURRENTLY blanked.
@pytest.mark.parametrize(
    ("sql", "equivalent"),
    [
        (
            "CREATE INDEX CONCURRENTLY t_x ON t (x)",
            "CREATE INDEX              t_x ON t (x)",
        ),
        (
            "create unique index /* é */ concurrently if not exists \"é\" on s.t (lower(x)) where x > ''",
            "create unique index /* é */              if not exists \"é\" on s.t (lower(x)) where x > ''",
        ),
        ("DROP INDEX CONCURRENTLY IF EXISTS app.t_x", "DROP INDEX              IF EXISTS app.t_x"),
        ("REINDEX INDEX CONCURRENTLY t_x", "REINDEX INDEX              t_x"),
        ("REINDEX (CONCURRENTLY) TABLE t", "REINDEX                TABLE t"),
        (
            "REINDEX (VERBOSE, CONCURRENTLY true) TABLE t",
            "REINDEX (VERBOSE                   ) TABLE t",
        ),
        ("REINDEX (CONCURRENTLY, VERBOSE) INDEX t_x", "REINDEX (              VERBOSE) INDEX t_x"),
        (
            "CREATE INDEX\n  CONCURRENTLY -- why\n  t_x ON t (x)",
            "CREATE INDEX\n               -- why\n  t_x ON t (x)",
        ),
    ],
)
def test_the_equivalent_is_the_text_without_concurrently(sql: str, equivalent: str) -> None:
    (statement,) = parse_json(sql).statements
    found = without_concurrently(sql, statement.kind, statement.node)
    assert found == equivalent
    # Every other character stays where it was: lines and error positions are the user's.
    assert len(found) == len(sql) and found.count("\n") == sql.count("\n")
    (plain,) = parse_json(found).statements
    assert plain.kind == statement.kind
    assert "concurrent" not in plain.node
    assert "concurrently" not in str(plain.node.get("params", "")).lower()


@pytest.mark.parametrize(
    ("sql", "execution", "statement"),
    [
        (
            "CREATE INDEX CONCURRENTLY t_x ON t (x)",
            Execution.EQUIVALENT,
            "CREATE INDEX CONCURRENTLY",
        ),
        ("DROP INDEX CONCURRENTLY t_x", Execution.EQUIVALENT, "DROP INDEX CONCURRENTLY"),
        ("REINDEX TABLE CONCURRENTLY t", Execution.EQUIVALENT, "REINDEX CONCURRENTLY"),
        ("VACUUM (ANALYZE) t", Execution.SKIPPED, "VACUUM"),
        ("VACUUM FULL", Execution.SKIPPED, "VACUUM"),
        ("CLUSTER", Execution.SKIPPED, "CLUSTER without a table"),
        ("REINDEX SCHEMA CONCURRENTLY public", Execution.SKIPPED, "REINDEX SCHEMA"),
        ("REINDEX DATABASE app", Execution.SKIPPED, "REINDEX DATABASE"),
    ],
)
def test_what_runs_instead(sql: str, execution: Execution, statement: str) -> None:
    (parsed,) = parse_sql(sql).statements
    requirement = transactional(parsed, 150000)
    assert not requirement.in_transaction and requirement.reason is not None
    (tree,) = parse_json(sql).statements
    found = substitute(tree.kind, tree.node, sql, requirement.reason)
    assert found is not None
    assert (found.execution, found.statement) == (execution, statement)
    assert (found.text == "") is (execution is Execution.SKIPPED)
    assert found.note.startswith(statement)


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER SYSTEM SET work_mem = '8MB'",
        "CREATE DATABASE other",
        "DROP DATABASE other",
        "CREATE TABLESPACE s LOCATION '/tmp/s'",
        "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY",  # it also adds a CHECK constraint
        "DISCARD ALL",  # resets the session the later statements run in
        "COMMIT PREPARED 'x'",
    ],
)
def test_statements_without_an_equivalent(sql: str) -> None:
    (parsed,) = parse_sql(sql).statements
    requirement = transactional(parsed, 150000)
    assert not requirement.in_transaction and requirement.reason is not None
    (tree,) = parse_json(sql).statements
    assert substitute(tree.kind, tree.node, sql, requirement.reason) is None


def test_alter_type_add_value_before_12_has_no_equivalent() -> None:
    sql = "ALTER TYPE mood ADD VALUE 'meh'"
    (parsed,) = parse_sql(sql).statements
    requirement = transactional(parsed, 110000)
    assert requirement.reason is not None
    (tree,) = parse_json(sql).statements
    assert substitute(tree.kind, tree.node, sql, requirement.reason) is None
