"""Reading PostgreSQL's JSON parse tree: type names, locations, errors, constants, walking."""

from __future__ import annotations

import pytest

from plimsoll.db.sql import SqlSyntaxError
from plimsoll.db.sqljson import constant, parse_json, type_name, walk
from tests.support.postgres import PgDatabase


def column_types(sql: str) -> list[str]:
    """type_name of each column of the first statement, a CREATE TABLE."""
    node = parse_json(sql).statements[0].node
    return [type_name(e["ColumnDef"]["typeName"]) for e in node["tableElts"]]


def first_expression(sql: str) -> object:
    """The expression of the first target of ``SELECT <sql>``."""
    node = parse_json(f"SELECT {sql}").statements[0].node
    return node["targetList"][0]["ResTarget"]["val"]


# --- type_name ----------------------------------------------------------------------------

# Types written as a schema writes them, and what format_type prints (checked against the
# server by test_type_names_agree_with_format_type).
TYPES = {
    "integer": "integer",
    "int8": "bigint",
    "smallint[]": "smallint[]",
    "varchar(40)": "character varying(40)",
    "character varying": "character varying",
    "char": "character(1)",
    "char(3)": "character(3)",
    "character(4)[]": "character(4)[]",
    "bpchar": "bpchar",
    "bpchar(5)": "character(5)",
    '"char"': '"char"',
    '"char"[]': '"char"[]',
    "numeric(10,2)": "numeric(10,2)",
    "decimal(5)": "numeric(5,0)",
    "numeric(7)": "numeric(7,0)",
    "numeric": "numeric",
    "double precision": "double precision",
    "float4": "real",
    "bit": "bit(1)",
    "bit varying(8)": "bit varying(8)",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "timestamp(3) with time zone": "timestamp(3) with time zone",
    "time(2)": "time(2) without time zone",
    "timetz": "time with time zone",
    "interval": "interval",
    "interval(3)": "interval(3)",
    "interval day": "interval day",
    "interval year to month": "interval year to month",
    "interval day to second": "interval day to second",
    "interval minute to second(2)": "interval minute to second(2)",
    "interval second(4)": "interval second(4)",
    # A precision above 6 is lowered to 6 (with a warning).
    "timestamp(9)": "timestamp(6) without time zone",
    "interval second(8)": "interval second(6)",
    "interval hour to minute": "interval hour to minute",
    "interval day to second(1)[]": "interval day to second(1)[]",
    "text": "text",
    "jsonb": "jsonb",
    "pg_catalog.int4": "integer",
}


@pytest.mark.parametrize(("written", "printed"), sorted(TYPES.items()))
def test_type_names_as_format_type_prints_them(written: str, printed: str) -> None:
    assert column_types(f"CREATE TABLE t (c {written});") == [printed]


def test_type_names_agree_with_format_type(pg_database: PgDatabase) -> None:
    columns = ", ".join(f"c{i} {written}" for i, written in enumerate(TYPES))
    sql = f"CREATE TABLE t ({columns});"
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]
        rows = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = 't'::regclass AND attnum > 0 ORDER BY attnum"
        ).fetchall()
    assert column_types(sql) == [row[0] for row in rows]


def test_type_names_keep_other_schemas_and_serials() -> None:
    assert column_types("CREATE TABLE t (a shop.state, b serial, c public.citext[])") == [
        "shop.state",
        "serial",
        "public.citext[]",
    ]
    assert type_name(None) == ""
    assert type_name({}) == ""


# --- parse_json: statements and locations ---------------------------------------------------


def test_statements_and_their_spans() -> None:
    text = "-- header\nCREATE TABLE a (id int);\n\n  /* c */ DROP TABLE a ;\nSELECT 1"
    script = parse_json(text, "x.sql")
    assert [s.kind for s in script] == ["CreateStmt", "DropStmt", "SelectStmt"]
    assert [script.statement_text(s) for s in script] == [
        "CREATE TABLE a (id int)",
        "DROP TABLE a",
        "SELECT 1",
    ]
    assert [s.index for s in script] == [0, 1, 2]
    assert "/* c */" in script.gap_before(script.statements[1])
    assert script.gap_before(script.statements[0]) == "-- header\n"


def test_locations_are_bytes_and_line_columns_are_characters() -> None:
    text = "SELECT 'héllo'; -- ünïcode\nCREATE TABLE t (naïve int, après text);"
    script = parse_json(text, "x.sql")
    data = text.encode("utf-8")
    create = script.statements[1]
    # Offsets in the tree are UTF-8 byte offsets into the script.
    assert data[create.start : create.start + 12] == b"CREATE TABLE"
    columns = [e["ColumnDef"] for e in create.node["tableElts"]]
    after = columns[1]["location"]
    assert data[after : after + len("après".encode())] == "après".encode()
    # Lines and columns count characters, as an editor shows them.
    assert script.line_column(create.start) == (2, 1)
    assert script.line_column(after) == (2, text.split("\n")[1].index("après") + 1)
    assert script.line_column(data.index(b"-- ")) == (1, text.index("--") + 1)
    # Offsets past either end are clamped.
    assert script.line_column(-5) == (1, 1)
    assert script.line_column(len(data) + 10) == (2, len(text.split("\n")[1]) + 1)


def test_comments_only_and_empty_scripts_have_no_statements() -> None:
    assert len(parse_json("")) == 0
    assert len(parse_json("-- nothing\n/* at all */\n")) == 0


# --- parse_json: syntax errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        ("SELECT 1 FRM t;", 1, 14, 'syntax error at or near "t"'),
        ("SELECT 'é', 'ü' FRM t;", 1, 21, 'syntax error at or near "t"'),
        ("SELECT 1;\nCREATE TABLE ( a int);", 2, 14, 'syntax error at or near "("'),
        ("CREATE TABLE t (a int  \n\n", 1, 22, "syntax error at end of input"),
        ("SELECT 'a\x00b';", 1, 10, "NUL"),
        ("SELECT '\ud800';", 1, 9, "text is not valid Unicode"),
    ],
)
def test_syntax_errors_name_the_file_line_and_column(
    text: str, line: int, column: int, reason: str
) -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse_json(text, "bad.sql")
    error = caught.value
    assert (error.source, error.line, error.column, error.reason) == (
        "bad.sql",
        line,
        column,
        reason,
    )
    assert str(error) == f"bad.sql:{line}:{column}: {reason}"


# --- constant and walk ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "value"),
    [
        ("42", 42),
        ("0", 0),
        ("-7", -7),
        ("1.5", "1.5"),
        ("99999999999", "99999999999"),
        ("'text'", "text"),
        ("''", ""),
        ("true", True),
        ("false", False),
        ("NULL", None),
        ("B'101'", "b101"),
        ("'5'::integer", "5"),
        ("now()", None),
        ("a + 1", None),
    ],
)
def test_constant_values(sql: str, value: object) -> None:
    assert constant(first_expression(sql)) == value


def test_constant_of_plain_nodes() -> None:
    assert constant({"String": {"sval": "x"}}) == "x"
    assert constant({"String": {}}) == ""
    assert constant({"Integer": {"ival": 3}}) == 3
    assert constant({"Integer": {}}) == 0
    assert constant({"Boolean": {}}) is False
    assert constant(None) is None
    assert constant([]) is None


def test_walk_visits_every_node_depth_first() -> None:
    expression = first_expression("coalesce(a, b + 1, lower(c))")
    kinds = [kind for kind, _node in walk(expression)]
    assert kinds[0] == "CoalesceExpr"
    assert kinds.count("ColumnRef") == 3
    assert kinds.count("A_Const") == 1
    assert "FuncCall" in kinds and "A_Expr" in kinds
    # Depth first, left to right: a is met before b, b before c.
    names = [n["fields"][0]["String"]["sval"] for k, n in walk(expression) if k == "ColumnRef"]
    assert names == ["a", "b", "c"]
    # Lists and non-node values are gone through, not yielded.
    assert list(walk([{"String": {"sval": "x"}}, 5, "y"])) == [("String", {"sval": "x"})]
    assert list(walk(None)) == []
