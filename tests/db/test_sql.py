"""Tests of plimsoll.db.sql: statement locations, syntax errors, transactions, touched tables."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plimsoll.core.errors import InputError
from plimsoll.db.sql import (
    ParsedScript,
    QualifiedName,
    SqlSyntaxError,
    Statement,
    TransactionRequirement,
    parse_sql,
    split_statements,
    statement_kind,
    strip_outer_transaction,
    touched_tables,
    transaction_control,
    transactional,
)


def spans(script: ParsedScript) -> list[tuple[str, int, int, int]]:
    return [(s.text, s.start_line, s.start_column, s.end_line) for s in script.statements]


def one(sql: str) -> Statement:
    (statement,) = parse_sql(sql).statements
    return statement


# --- locations -------------------------------------------------------------------------------


def test_locations_skip_comments_and_blank_lines() -> None:
    sql = (
        "-- header comment\n"
        "\n"
        "/* block\n   comment */\n"
        "CREATE TABLE a (id int);\n"
        "\n"
        "   -- indented comment\n"
        "   ALTER TABLE a\n"
        "     ADD COLUMN b text;  -- trailing\n"
        "/* one */ /* two */ DROP TABLE a;\n"
    )
    script = parse_sql(sql)
    assert spans(script) == [
        ("CREATE TABLE a (id int)", 5, 1, 5),
        ("ALTER TABLE a\n     ADD COLUMN b text", 8, 4, 9),
        ("DROP TABLE a", 10, 21, 10),
    ]
    assert [s.kind for s in script] == ["CreateStmt", "AlterTableStmt", "DropStmt"]
    for statement in script:
        assert sql[statement.start : statement.end] == statement.text


def test_end_column_is_the_last_character() -> None:
    script = parse_sql("select 1;\n  select\n  22 ;")
    first, second = script.statements
    assert (first.end_line, first.end_column) == (1, 8)
    assert (second.start_line, second.start_column) == (2, 3)
    assert (second.end_line, second.end_column) == (3, 4)


def test_nested_block_comment_before_a_statement() -> None:
    statement = one("/* outer /* inner; */ still comment; */\nselect 1;")
    assert (statement.text, statement.start_line, statement.start_column) == ("select 1", 2, 1)


def test_dollar_quoted_body_with_semicolons() -> None:
    body = (
        "CREATE FUNCTION f() RETURNS int AS $body$\n"
        "BEGIN\n"
        "  PERFORM 1; -- a comment; with a semicolon\n"
        "  RETURN 2;\n"
        "END;\n"
        "$body$ LANGUAGE plpgsql"
    )
    sql = f"select 1;\n{body};\nselect $$;$$;"
    script = parse_sql(sql)
    assert spans(script) == [
        ("select 1", 1, 1, 1),
        (body, 2, 1, 7),
        ("select $$;$$", 8, 1, 8),
    ]
    assert script.statements[1].kind == "CreateFunctionStmt"


def test_non_ascii_text_before_a_statement() -> None:
    # 'é', 'ü' and '€' are 2 or 3 bytes in UTF-8: offsets must count characters.
    sql = "-- café ü\nselect 'naïve €';  select 'x';\n/* 😀 */ select 2"
    script = parse_sql(sql)
    assert spans(script) == [
        ("select 'naïve €'", 2, 1, 2),
        ("select 'x'", 2, 20, 2),
        ("select 2", 3, 9, 3),
    ]
    for statement in script:
        assert sql[statement.start : statement.end] == statement.text


def test_no_final_semicolon_and_trailing_comments() -> None:
    script = parse_sql("select 1;\nselect 2 -- two\n  /* end */\n\n")
    assert spans(script) == [("select 1", 1, 1, 1), ("select 2", 2, 1, 2)]


def test_trailing_comment_before_semicolon_is_dropped_but_dashes_in_strings_are_kept() -> None:
    assert one("select '--' -- real comment\n;").text == "select '--'"
    assert one("select 1 /* c */;").text == "select 1"
    assert one("select '*/'").text == "select '*/'"


@pytest.mark.parametrize("sql", ["", "   \n\t", "-- only a comment\n", "/* a */ ;; ; -- b"])
def test_empty_and_comment_only_scripts_have_no_statements(sql: str) -> None:
    assert parse_sql(sql).statements == ()
    assert split_statements(sql) == []


def test_line_column_of_any_offset() -> None:
    sql = "select 1;\nselect\n  foo from bar;"
    script = parse_sql(sql)
    assert script.line_column(0) == (1, 1)
    assert script.line_column(sql.index("foo")) == (3, 3)
    assert script.line_column(sql.index("select\n")) == (2, 1)


def test_statement_equality_ignores_the_node() -> None:
    a, b = parse_sql("select 1").statements[0], parse_sql("select 1").statements[0]
    assert a == b and hash(a) == hash(b)
    assert "node" not in repr(a)
    assert a.node is not b.node


def test_kinds_and_flags() -> None:
    script = parse_sql(
        "BEGIN; CREATE INDEX i ON t (a); INSERT INTO t VALUES (1); "
        "UPDATE t SET a = 2; DELETE FROM t; COMMIT"
    )
    assert [s.kind for s in script] == [
        "TransactionStmt",
        "IndexStmt",
        "InsertStmt",
        "UpdateStmt",
        "DeleteStmt",
        "TransactionStmt",
    ]
    assert [s.is_transaction_control for s in script] == [True, False, False, False, False, True]
    assert [s.is_dml for s in script] == [False, False, True, True, True, False]
    assert statement_kind(script.statements[1].node) == "IndexStmt"


def test_split_statements_matches_parse_sql() -> None:
    sql = "-- c\nselect 1 ;\n/* x */ create table t (a int) -- y\n; select 'é' -- z"
    assert split_statements(sql) == [s.text for s in parse_sql(sql)]


# --- syntax errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "line", "column", "reason"),
    [
        ("select 1;\n  selec 2;", 2, 3, 'syntax error at or near "selec"'),
        ("-- é ü\nselect 'ö' frm frm;", 2, 16, 'syntax error at or near "frm"'),
        ("create table t (\n  a int,\n", 2, 9, "syntax error at end of input"),
        ("select 1;\nselect $$ abc", 2, 8, "unterminated dollar-quoted string"),
    ],
)
def test_syntax_error_location(sql: str, line: int, column: int, reason: str) -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse_sql(sql, "db/migrations/001.up.sql")
    error = caught.value
    assert isinstance(error, InputError)
    assert (error.source, error.line, error.column) == ("db/migrations/001.up.sql", line, column)
    assert error.reason.startswith(reason)
    assert str(error).startswith(f"db/migrations/001.up.sql:{line}:{column}: {reason}")


def test_split_statements_raises_the_same_error() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        split_statements("select 1;\n  selec 2;", "f.sql")
    assert (caught.value.line, caught.value.column) == (2, 3)


def test_nul_and_lone_surrogates_are_errors_not_truncation() -> None:
    with pytest.raises(SqlSyntaxError, match=r"f\.sql:2:8: NUL"):
        parse_sql("select 1;\nselect \x00 2;", "f.sql")
    with pytest.raises(SqlSyntaxError, match=r"f\.sql:1:9: .*surrogate"):
        parse_sql("select '\udcff'", "f.sql")


# --- transactions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE INDEX CONCURRENTLY i ON t (a)",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON s.t (a)",
        "DROP INDEX CONCURRENTLY i",
        "REINDEX INDEX CONCURRENTLY i",
        "REINDEX (CONCURRENTLY) TABLE t",
        "REINDEX SCHEMA s",
        "REINDEX DATABASE d",
        "REINDEX SYSTEM d",
        "VACUUM",
        "VACUUM t",
        "VACUUM (FULL, ANALYZE) t",
        "CLUSTER",
        "CREATE DATABASE d",
        "DROP DATABASE d",
        "ALTER DATABASE d SET TABLESPACE ts",
        "ALTER SYSTEM SET work_mem = '64MB'",
        "CREATE TABLESPACE ts LOCATION '/data'",
        "DROP TABLESPACE ts",
        "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY",
        "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p",
        "ALTER SUBSCRIPTION s REFRESH PUBLICATION",
        "ALTER SUBSCRIPTION s SET PUBLICATION p",
        "DROP SUBSCRIPTION s",
        "DISCARD ALL",
        "COMMIT PREPARED 'x'",
        "ROLLBACK PREPARED 'x'",
    ],
)
def test_non_transactional_statements(sql: str) -> None:
    requirement = transactional(one(sql))
    assert requirement.in_transaction is False
    assert requirement.reason


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE INDEX i ON t (a)",
        "DROP INDEX i",
        "DROP TABLE t",
        "REINDEX TABLE t",
        "REINDEX (CONCURRENTLY false) TABLE t",
        "ANALYZE t",
        "CLUSTER t USING i",
        "ALTER DATABASE d SET work_mem = '1MB'",
        "ALTER TABLE p DETACH PARTITION p1",
        "ALTER TABLE t ADD COLUMN a int",
        "ALTER TYPE e RENAME VALUE 'a' TO 'b'",
        "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p WITH (create_slot = false)",
        "CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p WITH (connect = off)",
        "ALTER SUBSCRIPTION s SET PUBLICATION p WITH (refresh = false)",
        "ALTER SUBSCRIPTION s DISABLE",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY m",
        "DISCARD PLANS",
        "INSERT INTO t VALUES (1)",
    ],
)
def test_transactional_statements(sql: str) -> None:
    assert transactional(one(sql)) == TransactionRequirement(True, None)


def test_add_enum_value_depends_on_the_server_version() -> None:
    statement = one("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'ok'")
    old = transactional(statement, server_version=110000)
    assert not old.in_transaction and "ADD VALUE" in (old.reason or "")
    assert transactional(statement, server_version=120000).in_transaction
    assert transactional(statement).in_transaction


def test_transactional_accepts_a_node() -> None:
    node = one("VACUUM").node
    assert transactional(node).in_transaction is False


def test_transaction_control_lists_every_kind() -> None:
    script = parse_sql(
        "BEGIN; START TRANSACTION; SAVEPOINT a; RELEASE a; ROLLBACK TO a; "
        "select 1; ROLLBACK; ABORT; END; COMMIT; PREPARE TRANSACTION 'x'"
    )
    assert len(transaction_control(script)) == 10


@pytest.mark.parametrize(
    "sql",
    [
        "BEGIN;\ncreate table a (id int);\ncreate index i on a (id);\nCOMMIT;\n",
        "-- c\nstart transaction;\ncreate table a (id int);\ncreate index i on a (id);\nend",
        "begin transaction; create table a (id int); create index i on a (id); commit work;",
    ],
)
def test_strip_outer_transaction(sql: str) -> None:
    script = parse_sql(sql)
    stripped = strip_outer_transaction(script)
    assert stripped is not None
    assert [s.kind for s in stripped] == ["CreateStmt", "IndexStmt"]
    assert stripped.statements == script.statements[1:-1]
    assert transaction_control(stripped) == []


@pytest.mark.parametrize(
    "sql",
    [
        "BEGIN; select 1;",
        "select 1; COMMIT;",
        "select 1; BEGIN; select 2; COMMIT;",
        "BEGIN; select 1; COMMIT; select 2;",
        "BEGIN; select 1; ROLLBACK;",
        "BEGIN; select 1; COMMIT AND CHAIN;",
        "BEGIN ISOLATION LEVEL SERIALIZABLE; select 1; COMMIT;",
        "BEGIN; SAVEPOINT a; select 1; COMMIT;",
        "BEGIN; select 1; COMMIT; BEGIN; select 2; COMMIT;",
        "COMMIT; select 1; BEGIN;",
        "BEGIN; COMMIT PREPARED 'x'",
    ],
)
def test_strip_outer_transaction_rejects(sql: str) -> None:
    assert strip_outer_transaction(parse_sql(sql)) is None


def test_strip_outer_transaction_without_control_is_identity() -> None:
    script = parse_sql("create table a (id int)")
    assert strip_outer_transaction(script) is script
    emptied = strip_outer_transaction(parse_sql("BEGIN; COMMIT"))
    assert emptied is not None and emptied.statements == ()


# --- touched tables --------------------------------------------------------------------------


def names(sql: str) -> list[str]:
    return [str(name) for name in touched_tables(one(sql))]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("CREATE TABLE app.users (id int REFERENCES orgs (id))", ["app.users"]),
        ("CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1)", ["p1", "p"]),
        ('CREATE TABLE "Mixed" (a int)', ["Mixed"]),
        ("CREATE UNLOGGED TABLE IF NOT EXISTS t AS SELECT * FROM src", ["t"]),
        ("SELECT * INTO t2 FROM src", ["t2"]),
        ("CREATE FOREIGN TABLE ft (a int) SERVER s", ["ft"]),
        ("CREATE MATERIALIZED VIEW m AS SELECT 1", ["m"]),
        ("CREATE VIEW v AS SELECT * FROM t", ["v"]),
        ("ALTER TABLE s.t ADD COLUMN a int, ALTER COLUMN b SET NOT NULL", ["s.t"]),
        ("ALTER TABLE p ATTACH PARTITION p1 FOR VALUES IN (1)", ["p", "p1"]),
        ("ALTER TABLE t RENAME TO u", ["t"]),
        ("ALTER TABLE t RENAME COLUMN a TO b", ["t"]),
        ("ALTER TABLE t SET SCHEMA archive", ["t"]),
        ("ALTER INDEX i RENAME TO j", []),
        ("ALTER SEQUENCE q RESTART", []),
        ("CREATE INDEX i ON s.t (a)", ["s.t"]),
        ("CREATE INDEX CONCURRENTLY ON t USING gin (doc)", ["t"]),
        ("DROP TABLE a, s.b CASCADE", ["a", "s.b"]),
        ("DROP TABLE IF EXISTS db.s.c", ["s.c"]),
        ("DROP INDEX i", []),
        ("DROP VIEW v", ["v"]),
        ("TRUNCATE a, ONLY s.b RESTART IDENTITY", ["a", "s.b"]),
        ("INSERT INTO t (a) SELECT a FROM src", ["t"]),
        ("UPDATE s.t SET a = 1 FROM other WHERE other.id = t.id", ["s.t"]),
        ("DELETE FROM t USING other WHERE t.id = other.id", ["t"]),
        ("MERGE INTO t USING src ON t.a = src.a WHEN MATCHED THEN DELETE", ["t"]),
        ("WITH gone AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM gone", ["a", "b"]),
        ("WITH x AS (UPDATE a SET v = 1 RETURNING *) SELECT * FROM x", ["a"]),
        ("COPY t FROM STDIN", ["t"]),
        ("COPY t TO STDOUT", []),
        ("CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", ["t"]),
        ("CREATE POLICY p ON t USING (true)", ["t"]),
        ("REINDEX TABLE t", ["t"]),
        ("CLUSTER t USING i", ["t"]),
        ("VACUUM a, b", ["a", "b"]),
        ("REFRESH MATERIALIZED VIEW m", ["m"]),
        ("SELECT * FROM t", []),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'", []),
    ],
)
def test_touched_tables(sql: str, expected: list[str]) -> None:
    assert names(sql) == expected


def test_touched_tables_qualified_names() -> None:
    assert touched_tables(one("ALTER TABLE s.t ADD COLUMN a int")) == [QualifiedName("s", "t")]
    assert touched_tables(one("INSERT INTO t SELECT * FROM t")) == [QualifiedName(None, "t")]


# --- property: generated scripts -------------------------------------------------------------

KNOWN = [
    "CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL DEFAULT 'é;')",
    "ALTER TABLE t\n  ADD COLUMN c int",
    "CREATE INDEX CONCURRENTLY i ON t (name)",
    "INSERT INTO t VALUES (1, 'a -- not a comment')",
    "UPDATE t SET name = '/* nor this */' WHERE id = 1",
    "DELETE FROM t WHERE id = 2",
    "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1; -- x;\nEND;\n$$ LANGUAGE plpgsql",
    "select 'naïve ☃'",
    "BEGIN",
    "COMMIT",
    "DROP TABLE a, b",
]
GAPS = st.lists(
    st.sampled_from(["", " ", "\n", "\t", "\n\n", "-- c ü\n", "/* c; */", "/* a /* b */ */", ";"]),
    max_size=4,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(GAPS, st.sampled_from(KNOWN)), min_size=1, max_size=8),
    GAPS,
    st.booleans(),
)
def test_generated_scripts_recover_texts_and_lines(
    parts: list[tuple[str, str]], tail: str, final_semicolon: bool
) -> None:
    sql = ""
    expected = []
    for index, (gap, statement) in enumerate(parts):
        sql += gap
        if sql and not sql[-1].isspace() and not sql.endswith(";"):
            sql += " "  # keep a comment-free gap from gluing two tokens together
        expected.append((statement, sql.count("\n") + 1))
        sql += statement
        if index < len(parts) - 1 or final_semicolon:
            sql += ";"
        elif tail.strip() and not tail.startswith(("\n", ";")):
            sql += "\n"  # a final statement without semicolon needs a line break before "--"
    sql += tail
    script = parse_sql(sql)
    assert [(s.text, s.start_line) for s in script] == expected
    assert split_statements(sql) == [text for text, _ in expected]
    for statement in script:
        assert sql[statement.start : statement.end] == statement.text
        assert statement.end_line == statement.start_line + statement.text.count("\n")


# --- node locations and large scripts --------------------------------------------------------


def test_node_locations_are_relative_to_the_statement_text() -> None:
    sql = "-- é\nselect 1;\n\n  UPDATE t\n     SET name = 'ü' WHERE id = 1;"
    script = parse_sql(sql)
    update = script.statements[1]
    where = update.node.whereClause
    location = where.lexpr.location
    assert update.text[location:].startswith("id = 1")
    assert script.locate(update, location) == (5, 27)


def test_unicode_space_that_postgresql_reads_as_part_of_a_name_is_kept() -> None:
    # U+00A0 is whitespace to Python but an identifier character to PostgreSQL.
    statement = one("select abc\u00a0 ;")
    assert statement.text == "select abc\u00a0"
    assert statement.node.targetList[0].val.fields[0].sval == "abc\u00a0"


def test_large_non_ascii_script_parses_in_linear_time() -> None:
    # pglast maps byte offsets to characters by scanning every later multi-byte character:
    # over one big script that is quadratic (minutes here), statement by statement it is not.
    sql = "".join(
        f"-- ligne {i} é ü ☃\nINSERT INTO t VALUES ({i}, 'naïve');\n" for i in range(6000)
    )
    script = parse_sql(sql)
    assert len(script) == 6000
    assert script.statements[-1].start_line == 2 * 6000
