"""The schema builder: order, hash stability, error locations, and a fresh database built for real."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from plimsoll.core.errors import CannotRunError, InputError, UsageError
from plimsoll.db.builder import ApplyError, apply_schema, build_schema, create_database
from plimsoll.db.sql import SqlSyntaxError, parse_sql
from tests.support.postgres import PgServer


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


SCHEMA = {
    "20_views/v_users.sql": "CREATE VIEW app.v_users AS SELECT id, email FROM app.users;\n",
    "00_common/schema.sql": "-- the application's schema\nCREATE SCHEMA app;\n",
    "10_tables/10_users.sql": (
        "/* users\n   and their emails */\n"
        "CREATE TABLE app.users (\n"
        "    id bigint PRIMARY KEY,\n"
        "    email text NOT NULL\n"
        ");\n"
    ),
    "10_tables/20_orders.sql": (
        "CREATE TABLE app.orders (id bigint PRIMARY KEY, user_id bigint REFERENCES app.users);\n"
    ),
    "10_tables/README.md": "not SQL\n",
    ".hidden/x.sql": "SELECT broken syntax here (;\n",
}


def test_files_are_built_in_path_order_and_only_sql(tmp_path: Path) -> None:
    built = build_schema(_write(tmp_path / "schema", SCHEMA), "db/schema")
    assert [s.path for s in built.sources] == [
        "00_common/schema.sql",
        "10_tables/10_users.sql",
        "10_tables/20_orders.sql",
        "20_views/v_users.sql",
    ]
    assert built.sources[0].display == "db/schema/00_common/schema.sql"
    assert [s.kind for s in built.statements] == [
        "CreateSchemaStmt",
        "CreateStmt",
        "CreateStmt",
        "ViewStmt",
    ]
    # The built script parses to the very statements it was built from.
    assert [s.text for s in parse_sql(built.sql)] == [s.text for s in built.statements]
    for statement in built.statements:
        assert built.sql[statement.offset :].startswith(statement.text)
        assert built.sql.splitlines()[statement.built_line - 1].startswith(statement.text[:10])


def test_hash_is_stable_across_runs_folders_and_line_ends(tmp_path: Path) -> None:
    one = build_schema(_write(tmp_path / "a", SCHEMA), "db/schema")
    again = build_schema(tmp_path / "a", "db/schema")
    assert (one.sql, one.sha256) == (again.sql, again.sha256)
    # Elsewhere on disk, under another label, with CRLF line ends: the same body and hash.
    crlf = {k: v.replace("\n", "\r\n") for k, v in SCHEMA.items()}
    other = build_schema(_write(tmp_path / "elsewhere" / "b", crlf), "schema")
    assert other.sha256 == one.sha256
    body = one.sql.split("-- end of header\n", 1)[1]
    assert hashlib.sha256(body.encode()).hexdigest() == one.sha256
    assert f"-- sha256: {one.sha256}" in one.sql
    assert str(tmp_path) not in one.sql
    # A changed file changes the hash.
    (tmp_path / "a" / "10_tables" / "20_orders.sql").write_text(
        "CREATE TABLE app.orders (id int);\n"
    )
    assert build_schema(tmp_path / "a", "db/schema").sha256 != one.sha256


def test_header_names_every_file_with_its_hash(tmp_path: Path) -> None:
    built = build_schema(_write(tmp_path / "s", SCHEMA), "db/schema")
    header = built.sql.split("-- end of header\n", 1)[0]
    for source in built.sources:
        assert re.search(
            rf"^--   {re.escape(source.path)} +sha256:{source.sha256[:16]} ", header, re.M
        )
        assert f"-- file: {source.path}\n" in built.sql


def test_a_file_without_a_final_semicolon_does_not_run_into_the_next(tmp_path: Path) -> None:
    built = build_schema(
        _write(tmp_path / "s", {"a.sql": "CREATE TABLE a (id int)\n-- done", "b.sql": "SELECT 1"}),
        "s",
    )
    assert [s.text for s in parse_sql(built.sql)] == ["CREATE TABLE a (id int)", "SELECT 1"]


def test_locate_maps_a_position_to_the_source_line_and_column(tmp_path: Path) -> None:
    built = build_schema(
        _write(tmp_path / "s", {"a.sql": "SELECT 1;\n\n  SELECT\n    x,\n    yy FROM t;\n"}), "s"
    )
    second = built.statements[1]
    assert (second.line, second.column) == (3, 3)
    assert built.locate(1, 1) == ("s/a.sql", 3)
    position = second.text.index("yy") + 1
    assert built.locate(1, position) == ("s/a.sql", 5)
    assert str(built.position(1, position)) == "s/a.sql:5:5"
    assert str(built.position(1, 3)) == "s/a.sql:3:5"
    assert str(built.position(1, None)) == "s/a.sql:3:3"


def test_a_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    schema = _write(
        tmp_path / "s",
        {
            "00_ok.sql": "SELECT 1;\n",
            "10_bad.sql": "-- fine so far\nSELECT 1;\nCREATE TABEL x (id int);\n",
        },
    )
    with pytest.raises(SqlSyntaxError) as caught:
        build_schema(schema, "db/schema")
    assert (caught.value.source, caught.value.line, caught.value.column) == (
        "db/schema/10_bad.sql",
        3,
        8,
    )
    assert str(caught.value).startswith("db/schema/10_bad.sql:3:8: syntax error")


def test_bad_input_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="schema folder not found"):
        build_schema(tmp_path / "missing", "db/schema")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .sql files"):
        build_schema(tmp_path / "empty")
    with pytest.raises(InputError, match=r"c.sql:2:1: CREATE INDEX CONCURRENTLY"):
        build_schema(
            _write(tmp_path / "c", {"c.sql": "SELECT 1;\nCREATE INDEX CONCURRENTLY i ON t (a);\n"})
        )
    with pytest.raises(InputError, match=r"t.sql:1:1: transaction control"):
        build_schema(_write(tmp_path / "t", {"t.sql": "BEGIN;\nSELECT 1;\nCOMMIT;\n"}))
    (tmp_path / "latin1").mkdir()
    (tmp_path / "latin1" / "l.sql").write_bytes(b"SELECT '\xe9';\n")
    with pytest.raises(InputError, match="not UTF-8"):
        build_schema(tmp_path / "latin1")


# --- against the real server --------------------------------------------------------------


@pytest.fixture
def build_db(pg_server: PgServer) -> Iterator[str]:
    """A unique database name for one test, dropped afterwards."""
    name = f"b_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _tables(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


def test_create_apply_and_seed_a_fresh_database(
    pg_server: PgServer, build_db: str, tmp_path: Path
) -> None:
    built = build_schema(_write(tmp_path / "schema", SCHEMA), "db/schema")
    seeds = build_schema(
        _write(
            tmp_path / "seeds",
            {
                "01_users.sql": "INSERT INTO app.users VALUES (1, 'a@example.com');\n",
                "02_orders.sql": "INSERT INTO app.orders VALUES (10, 1), (11, 1);\n",
            },
        ),
        "db/seeds",
    )
    created = create_database(pg_server.dsn, build_db)
    assert (created.name, created.dropped) == (build_db, False)
    report = apply_schema(created.conninfo, built, seeds)
    assert (report.database, report.statements, report.seed_statements) == (build_db, 4, 2)
    assert _tables(created.conninfo) == ["app.orders", "app.users", "app.v_users"]
    with psycopg.connect(created.conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM app.v_users").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM app.orders").fetchone() == (2,)
    # Built again: the old database is dropped (even with a session open on it) and made anew.
    with psycopg.connect(created.conninfo):
        again = create_database(pg_server.dsn, build_db)
    assert again.dropped
    assert _tables(again.conninfo) == []


def test_default_name_and_refusals(pg_server: PgServer) -> None:
    created = create_database(pg_server.dsn)
    try:
        assert created.name == "postgres_build"
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
            admin.execute("DROP DATABASE postgres_build")
    for name in ("postgres", "template1", "x" * 64):
        with pytest.raises(UsageError):
            create_database(pg_server.dsn, name)


def test_a_failing_statement_is_reported_at_its_source_line(
    pg_server: PgServer, build_db: str, tmp_path: Path
) -> None:
    schema = _write(
        tmp_path / "schema",
        {
            "00_first.sql": "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n",
            # The 2nd file's 3rd statement fails, after comments and multi-line statements.
            "10_second.sql": (
                "-- a comment line\n"
                "/* a block\n   comment */\n"
                "CREATE TABLE c (\n"
                "    id int,\n"
                "    note text\n"
                ");\n"
                "INSERT INTO c\n"
                "    VALUES (1, 'x;y');  -- a semicolon in a string\n"
                "\n"
                "SELECT id,\n"
                "       note,\n"
                "       missing_column\n"
                "  FROM c;\n"
                "CREATE TABLE never (id int);\n"
            ),
        },
    )
    built = build_schema(schema, "db/schema")
    created = create_database(pg_server.dsn, build_db)
    with pytest.raises(ApplyError) as caught:
        apply_schema(created.conninfo, built)
    failure = caught.value
    assert failure.statement_index == 4
    assert (failure.position.file, failure.position.line, failure.position.column) == (
        "db/schema/10_second.sql",
        13,
        8,
    )
    assert built.locate(failure.statement_index, 28) == ("db/schema/10_second.sql", 13)
    assert failure.sqlstate == "42703"
    assert str(failure).startswith("db/schema/10_second.sql:13:8: ERROR: column")
    assert "missing_column" in str(failure) and "rolled back" in str(failure)
    assert _tables(created.conninfo) == []  # one transaction: nothing stayed


def test_a_failing_seed_keeps_the_schema(
    pg_server: PgServer, build_db: str, tmp_path: Path
) -> None:
    built = build_schema(
        _write(tmp_path / "schema", {"a.sql": "CREATE TABLE a (id int PRIMARY KEY);\n"})
    )
    seeds = build_schema(
        _write(
            tmp_path / "seeds", {"s.sql": "INSERT INTO a VALUES (1);\nINSERT INTO a VALUES (1);\n"}
        ),
        "db/seeds",
    )
    created = create_database(pg_server.dsn, build_db)
    with pytest.raises(ApplyError, match=r"^db/seeds/s.sql:2:1: ERROR: duplicate key") as caught:
        apply_schema(created.conninfo, built, seeds)
    assert caught.value.sqlstate == "23505"
    # The message says what stays: only the seeds were rolled back, not the built schema.
    assert str(caught.value).endswith(
        f"; the seeds were rolled back; the schema built before them stays in database {build_db}"
    )
    assert _tables(created.conninfo) == ["public.a"]
    with psycopg.connect(created.conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM a").fetchone() == (0,)


def test_a_deferred_constraint_failing_at_commit(
    pg_server: PgServer, build_db: str, tmp_path: Path
) -> None:
    built = build_schema(
        _write(
            tmp_path / "schema",
            {
                "a.sql": (
                    "CREATE TABLE p (id int PRIMARY KEY);\n"
                    "CREATE TABLE c (p int REFERENCES p DEFERRABLE INITIALLY DEFERRED);\n"
                    "INSERT INTO c VALUES (7);\n"
                )
            },
        )
    )
    created = create_database(pg_server.dsn, build_db)
    with pytest.raises(ApplyError, match="at COMMIT") as caught:
        apply_schema(created.conninfo, built)
    assert caught.value.sqlstate == "23503"


def test_unreachable_server_cannot_run() -> None:
    with pytest.raises(CannotRunError, match="unreachable") as caught:
        create_database("postgresql://app:s3cret@127.0.0.1:1/app")
    assert "s3cret" not in str(caught.value)
