"""psql's own lines in SQL scripts: meta-commands and COPY data, found as psql's lexer finds them.

Locations are checked against PostgreSQL's parser itself: a script with its psql lines must give
the very statements (text, line, column) that the same script with those lines blanked gives.
"""

from __future__ import annotations

import pglast.parser
import pytest

from plimsoll.db.sql import SqlSyntaxError, UnsupportedMetaCommand, parse_sql, split_statements
from plimsoll.db.sqlfiles import has_psql_lines, psql_lines
from plimsoll.db.sqljson import parse_json

# A script as pg_dump and people write them: meta-commands, COPY rows (with \N and backslashes
# at the start of a row), and backslash lines that are SQL (in a function body, a string, a
# quoted identifier, comments) and must stay.
SCRIPT = (
    "\\restrict AbC123\n"  # 1
    "SET statement_timeout = 0;\n"  # 2
    "  \\set ON_ERROR_STOP on\n"  # 3
    "CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $body$\n"  # 4
    "BEGIN\n"  # 5
    "\\echo not a command: inside a dollar-quoted body\n"  # 6
    "  RETURN E'it\\'s\n"  # 7
    "\\x';\n"  # 8
    "END $body$;\n"  # 9
    "/* a comment /* nested */\n"  # 10
    "\\c other\n"  # 11
    "*/\n"  # 12
    "SELECT 'a\n"  # 13
    "\\z', \"q\n"  # 14
    '\\w" FROM (SELECT 1 AS "q\n\\w") AS s;\n'  # 15-16
    "-- \\i in a line comment\n"  # 17
    "\\echo building é\n"  # 18
    "COPY t (id, note) FROM stdin;\n"  # 19
    "1\t\\N\n"  # 20
    "\\N\tx\\ty\n"  # 21
    "\\.\n"  # 22
    "SELECT\n"  # 23
    "\\qecho in the middle of a statement\n"  # 24
    "  2;\n"  # 25
    "\\unrestrict AbC123\n"  # 26
)
PSQL_LINES = {1, 3, 18, 20, 21, 22, 24, 26}


def _blanked(text: str, lines: set[int]) -> str:
    return "\n".join(
        " " * len(line) if number in lines else line
        for number, line in enumerate(text.split("\n"), 1)
    )


def _parser_spans(text: str) -> list[tuple[str, int, int]]:
    """(text, line, column) of each statement as PostgreSQL's parser splits ``text``."""
    spans = []
    for piece in pglast.parser.split(text, with_parser=True, only_slices=True):
        start = piece.start
        line = text.count("\n", 0, start) + 1
        spans.append((text[piece].rstrip(), line, start - text.rfind("\n", 0, start)))
    return spans


def test_meta_commands_are_found_with_their_lines_and_left_out() -> None:
    script = parse_sql(SCRIPT, "dump.sql")
    assert [(m.line, m.column, m.command, m.argument) for m in script.meta_commands] == [
        (1, 1, "\\restrict", "AbC123"),
        (3, 3, "\\set", "ON_ERROR_STOP on"),
        (18, 1, "\\echo", "building é"),
        (24, 1, "\\qecho", "in the middle of a statement"),
        (26, 1, "\\unrestrict", "AbC123"),
    ]
    assert all(m.harmless for m in script.meta_commands)
    # Every statement is where PostgreSQL's parser puts it in the script without those lines.
    assert [(s.text, s.start_line, s.start_column) for s in script] == _parser_spans(
        _blanked(SCRIPT, PSQL_LINES)
    )
    assert [s.kind for s in script] == [
        "VariableSetStmt",
        "CreateFunctionStmt",
        "SelectStmt",
        "CopyStmt",
        "SelectStmt",
    ]
    # The backslash lines inside the body, the string and the identifiers are kept as SQL.
    body = script.statements[1].text
    assert "\\echo not a command" in body and "\\x';" in body
    assert "\\z'" in script.statements[2].text and '"q\n\\w"' in script.statements[2].text
    assert script.statements[4].text == "SELECT\n" + " " * 35 + "\n  2"
    assert len(script.text) == len(SCRIPT)


def test_copy_rows_belong_to_their_statement() -> None:
    script = parse_sql(SCRIPT, "dump.sql")
    copy = script.statements[3]
    assert copy.is_copy_from_stdin and copy.copy_data is not None
    assert (copy.copy_data.line, copy.copy_data.terminated) == (20, True)
    # Exactly the rows psql would send: \N and a backslash at a row's start are data.
    assert copy.copy_data.text == "1\t\\N\n\\N\tx\\ty\n"
    assert SCRIPT[copy.copy_data.start : copy.copy_data.end] == copy.copy_data.text
    assert all(s.copy_data is None for s in script if s is not copy)


def test_copy_rows_to_the_end_of_the_file_without_a_terminator() -> None:
    # No line starts with a backslash here: the rows run to the end, as psql reads them.
    text = "CREATE TABLE t (id int);\nCOPY t FROM STDIN;\n3\n4"
    assert not has_psql_lines(text)
    script = parse_sql(text, "seed.sql")
    data = script.statements[1].copy_data
    assert data is not None and (data.line, data.text, data.terminated) == (3, "3\n4", False)
    # A COPY from a file is SQL for the server: what follows is not its data.
    served = parse_sql("COPY t FROM '/tmp/x.csv';\nSELECT 1;\n")
    assert [s.kind for s in served] == ["CopyStmt", "SelectStmt"]
    assert served.statements[0].copy_data is None and not served.statements[0].is_copy_from_stdin


def test_an_unsupported_meta_command_is_refused_at_its_line() -> None:
    text = "SELECT 1;\n\n  \\i other.sql\nSELECT 2;\n"
    with pytest.raises(UnsupportedMetaCommand) as caught:
        parse_sql(text, "db/schema/a.sql")
    message = str(caught.value)
    assert message.startswith("db/schema/a.sql:3:3: psql meta-command \\i is not supported: ")
    assert "\\restrict" in message and "\n" not in message
    assert caught.value.exit_code == 2
    with pytest.raises(UnsupportedMetaCommand, match=r"^a.sql:1:1: psql meta-command \\set "):
        split_statements("\\set x 1\nSELECT :x;\n", "a.sql")
    # A reader (the linter) may ask for every one of them instead.
    read = parse_sql(text, "a.sql", all_meta_commands=True)
    assert [(m.line, m.command, m.harmless) for m in read.meta_commands] == [(3, "\\i", False)]
    assert [s.text for s in read] == ["SELECT 1", "SELECT 2"]


def test_a_meta_command_after_sql_on_its_line_is_named() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse_sql("SELECT 1;\nSELECT 2 AS n \\gset\n", "q.sql")
    assert str(caught.value) == (
        "q.sql:2:15: psql meta-command \\gset after SQL on the same line is not supported: "
        "plimsoll runs the SQL itself, without psql"
    )
    with pytest.raises(SqlSyntaxError, match=r"^q.sql:1:10: psql meta-command \\gset after"):
        parse_json("SELECT 1 \\gset\n", "q.sql")


def test_split_statements_gives_the_texts_parse_sql_gives() -> None:
    assert split_statements(SCRIPT) == [s.text for s in parse_sql(SCRIPT)]


def test_the_json_parser_reads_the_same_script() -> None:
    script = parse_json(SCRIPT, "dump.sql")
    ours = parse_sql(SCRIPT, "dump.sql")
    assert [s.kind for s in script] == [s.kind for s in ours]
    assert [script.statement_text(s) for s in script] == [s.text for s in ours]
    assert [script.line_column(s.start) for s in script] == [
        (s.start_line, s.start_column) for s in ours
    ]
    assert script.meta_commands == ours.meta_commands
    assert [d.text for d in script.copy_data] == ["1\t\\N\n\\N\tx\\ty\n"]
    # A reader is refused nothing.
    assert [m.command for m in parse_json("\\connect x\nSELECT 1;\n").meta_commands] == [
        "\\connect"
    ]


def test_scripts_without_psql_lines_are_not_scanned() -> None:
    plain = "SELECT 'a\\b';\nSELECT E'\\n';\n"
    assert psql_lines(plain) is None
    assert parse_sql(plain).meta_commands == ()
    assert parse_sql(plain).text == plain


@pytest.mark.parametrize(
    ("text", "commands"),
    [
        # A dollar sign inside an identifier or a parameter opens no dollar quote.
        ("SELECT a$b$ FROM t;\n\\echo x\n", ["\\echo"]),
        ("PREPARE p AS SELECT $1;\n\\echo x\n", ["\\echo"]),
        # An E'' string's escaped quote does not close it; a plain string's backslash is text.
        ("SELECT E'\\'\n\\echo no';\n\\echo yes\n", ["\\echo"]),
        ("SELECT 'a\\';\n\\echo yes\n", ["\\echo"]),
        # An identifier ending in e before a quote is not an E'' prefix.
        ("SELECT type'x\\';\n\\echo yes\n", ["\\echo"]),
        # Indented on the first line; after a minus and a slash that open no comment.
        ("  \\echo first\nSELECT 2 - 1 / 1;\n\\echo last\n", ["\\echo", "\\echo"]),
        # A COPY from stdin in lower case, after a comment: its rows are data, not commands.
        ("/* c */ copy t from stdin;\n\\N\n\\.\n\\echo after\n", ["\\echo"]),
        # An unterminated literal runs to the end: nothing after it is a command.
        ("SELECT 'open\n\\echo no\n", []),
    ],
)
def test_lexical_states(text: str, commands: list[str]) -> None:
    found = psql_lines(text)
    assert found is not None
    assert [m.command for m in found.meta_commands] == commands
