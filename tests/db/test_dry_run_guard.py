"""Which statements a dry run refuses to run: calls to setval, wherever the parser finds them."""

from __future__ import annotations

import pytest

from plimsoll.db.dry_run_guard import refusal, undoable_reason
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
