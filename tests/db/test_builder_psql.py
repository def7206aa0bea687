"""Building from files written for psql (pg_dump's output, COPY seeds, meta-commands), and the
build's mark on the databases it creates, against the real PostgreSQL, pg_dump and psql."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from plimsoll.core.errors import InputError, UsageError
from plimsoll.db.builder import (
    BUILD_MARK,
    ApplyError,
    apply_schema,
    build_schema,
    create_database,
)
from plimsoll.db.sql import parse_sql
from tests.support.postgres import PgDatabase, PgServer

# Values that pg_dump's COPY format must escape: NULL, tab, newline, backslash, non-ASCII.
SOURCE_SQL = r"""
CREATE TABLE public.customers (id int PRIMARY KEY, name text, note text);
INSERT INTO public.customers VALUES
    (1, 'plain', NULL),
    (2, E'tab\there', E'two\nlines'),
    (3, E'back\\slash', 'Zürich ☃'),
    (4, E'\\N is not null', '');
-- A body with a line that starts with a backslash: SQL, not a psql command.
CREATE FUNCTION public.slash() RETURNS text LANGUAGE sql AS $$
SELECT '
\not a command'::text
$$;
"""


@pytest.fixture
def names(pg_server: PgServer) -> Iterator[list[str]]:
    """Database names a test creates; all dropped afterwards."""
    made: list[str] = []
    yield made
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        for name in made:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _name(names: list[str]) -> str:
    names.append(f"bp_{uuid.uuid4().hex[:10]}")
    return names[-1]


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _contents(conninfo: str) -> tuple[list[tuple[Any, ...]], Any]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT * FROM public.customers ORDER BY id").fetchall()
        slash = conn.execute("SELECT public.slash()").fetchone()
    return rows, slash


def _psql(server: PgServer, dbname: str, path: Path) -> None:
    subprocess.run(
        [
            str(server.bindir / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            server.dsn_for(dbname),
            "-f",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_pg_dump_file_builds_the_same_database_psql_restores(
    pg_database: PgDatabase, pg_server: PgServer, names: list[str], tmp_path: Path
) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(SOURCE_SQL)
    dump = subprocess.run(
        [str(pg_server.bindir / "pg_dump"), "-d", pg_database.dsn],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    schema = _write(tmp_path / "schema", {"01_dump.sql": dump})
    built = build_schema(schema, "db/schema")
    # pg_dump's psql lines (\restrict/\unrestrict since the 2025 security releases) are
    # reported as the file has them, and every other line of the dump is SQL or COPY data.
    script = parse_sql(dump, "dump")
    restricts = [line.split()[0] for line in dump.splitlines() if line.startswith("\\restrict")]
    restricts += [line.split()[0] for line in dump.splitlines() if line.startswith("\\unrest")]
    assert sorted(m.command for m in script.meta_commands) == sorted(restricts)
    copies = [s for s in built.statements if s.is_copy_from_stdin]
    assert len(copies) == 1 and copies[0].copy_data is not None
    assert copies[0].copy_data.text.count("\n") == 4

    created = create_database(pg_server.dsn, _name(names))
    apply_schema(created.conninfo, built)
    expected = _contents(pg_database.dsn)
    assert _contents(created.conninfo) == expected
    assert expected[1] == ("\n\\not a command",)
    # The built script is still a psql script: psql restores the same database from it.
    (tmp_path / "built.sql").write_text(built.sql, encoding="utf-8")
    by_psql = create_database(pg_server.dsn, _name(names))
    _psql(pg_server, by_psql.name, tmp_path / "built.sql")
    assert _contents(by_psql.conninfo) == expected


def test_copy_seeds_are_loaded_and_a_bad_row_is_named_by_its_line(
    pg_server: PgServer, names: list[str], tmp_path: Path
) -> None:
    schema = _write(
        tmp_path / "schema",
        {"t.sql": "\\set ON_ERROR_STOP on\nCREATE TABLE customers (id int, name text);\n"},
    )
    seeds_dir = _write(
        tmp_path / "seeds",
        {
            "03_copy.sql": "COPY customers (id, name) FROM stdin;\n3\tz\n4\t\\N\n\\.\n",
            # Rows to the end of the file, no "\.": the next file must not become data.
            "04_open.sql": '\\echo loading\nCOPY customers FROM stdin (FORMAT csv);\n5,"a\nb"',
            "05_after.sql": "INSERT INTO customers VALUES (6, 'after');\n",
        },
    )
    built = build_schema(schema, "db/schema")
    seeds = build_schema(seeds_dir, "db/seeds")
    assert [s.kind for s in seeds.statements] == ["CopyStmt", "CopyStmt", "InsertStmt"]
    assert seeds.sql.count("\n\\.\n") == 2
    created = create_database(pg_server.dsn, _name(names))
    report = apply_schema(created.conninfo, built, seeds)
    assert (report.statements, report.seed_statements) == (1, 3)
    expected = [(3, "z"), (4, None), (5, "a\nb"), (6, "after")]
    with psycopg.connect(created.conninfo) as conn:
        assert conn.execute("SELECT * FROM customers ORDER BY id").fetchall() == expected
    # psql, given the built seeds, loads the same rows.
    (tmp_path / "seeds.sql").write_text(built.sql + seeds.sql, encoding="utf-8")
    by_psql = create_database(pg_server.dsn, _name(names))
    _psql(pg_server, by_psql.name, tmp_path / "seeds.sql")
    with psycopg.connect(by_psql.conninfo) as conn:
        assert conn.execute("SELECT * FROM customers ORDER BY id").fetchall() == expected


@pytest.mark.parametrize(
    ("rows", "line", "detail"),
    [
        # Text format: one row a line; an escaped newline continues a row.
        (
            "COPY c FROM stdin;\n1\tx\\\ny\n2\tok\nthree\tz\n\\.\n",
            5,
            'invalid input syntax for type integer: "three"',
        ),
        ("COPY c FROM stdin;\n1\tx\n2\n\\.\n", 3, 'missing data for column "name"'),
        # CSV with a header and quoted values over several lines.
        (
            'COPY c FROM stdin (FORMAT csv, HEADER);\nid,name\n1,"a\nb"\n2,"c\n\nd"\nx,y\n\\.\n',
            8,
            'invalid input syntax for type integer: "x"',
        ),
        # CSV whose first row spans lines (the server does not count those newlines).
        ('COPY c FROM stdin CSV;\n1,"a\nb"\n2,"c\nd"\nx,y\n\\.\n', 6, '"x"'),
    ],
)
def test_a_bad_copy_row_is_reported_at_its_file_line(
    pg_server: PgServer, names: list[str], tmp_path: Path, rows: str, line: int, detail: str
) -> None:
    built = build_schema(
        _write(tmp_path / "schema", {"c.sql": "CREATE TABLE c (id int, name text);\n"})
    )
    seeds = build_schema(_write(tmp_path / "seeds", {"s.sql": rows}), "db/seeds")
    created = create_database(pg_server.dsn, _name(names))
    with pytest.raises(ApplyError) as caught:
        apply_schema(created.conninfo, built, seeds)
    assert (caught.value.position.file, caught.value.position.line) == ("db/seeds/s.sql", line)
    assert str(caught.value).startswith(f"db/seeds/s.sql:{line}: ERROR: ")
    assert detail in str(caught.value) and "(COPY c, line " in str(caught.value)
    assert caught.value.sqlstate in ("22P02", "22P04")


def test_an_unsupported_meta_command_stops_the_build_at_its_line(tmp_path: Path) -> None:
    schema = _write(
        tmp_path / "schema",
        {"a.sql": "CREATE TABLE a (id int);\n", "b.sql": "\\echo ok\n\n\\ir more.sql\n"},
    )
    with pytest.raises(InputError) as caught:
        build_schema(schema, "db/schema")
    assert str(caught.value).startswith(
        "db/schema/b.sql:3:1: psql meta-command \\ir is not supported: "
    )


def _comment(server: PgServer, name: str) -> str | None:
    with psycopg.connect(server.dsn) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    return None if row is None else row[0]


def test_only_databases_a_build_made_are_dropped_without_force(
    pg_database: PgDatabase, pg_server: PgServer, names: list[str]
) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2)")
    with pytest.raises(UsageError) as caught:
        create_database(pg_server.dsn, pg_database.dbname)
    message = str(caught.value)
    assert message.startswith(f"refusing to drop database '{pg_database.dbname}': ")
    assert "--force" in message and "\n" not in message
    with pg_database.connect() as conn:  # untouched, data and all
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (2,)

    # A database the build makes carries the mark, and the next build replaces it freely.
    name = _name(names)
    first = create_database(pg_server.dsn, name)
    assert (first.dropped, first.forced) == (False, False)
    assert (_comment(pg_server, name) or "").startswith(BUILD_MARK)
    again = create_database(pg_server.dsn, name)
    assert (again.dropped, again.forced) == (True, False)
    # Its mark removed (someone took the database over), it is refused like any other.
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("COMMENT ON DATABASE {} IS 'mine'").format(sql.Identifier(name)))
    with pytest.raises(UsageError, match="was not created by plimsoll db build"):
        create_database(pg_server.dsn, name)

    # --force drops the unmarked database and makes a marked, empty one.
    forced = create_database(pg_server.dsn, pg_database.dbname, force=True)
    assert (forced.dropped, forced.forced) == (True, True)
    assert (_comment(pg_server, pg_database.dbname) or "").startswith(BUILD_MARK)
    with psycopg.connect(forced.conninfo) as conn:
        assert conn.execute("SELECT to_regclass('orders')").fetchone() == (None,)
    # Never the server's own databases, force or not.
    with pytest.raises(UsageError, match="refusing to build into database 'postgres'"):
        create_database(pg_server.dsn, "postgres", force=True)


def test_copy_to_stdout_is_refused_when_building(tmp_path: Path) -> None:
    # psql would print the rows; applied by the build it would leave the connection busy.
    seeds = _write(tmp_path / "seeds", {"s.sql": "SELECT 1;\nCOPY (SELECT 1) TO STDOUT;\n"})
    with pytest.raises(InputError, match=r"^db/seeds/s.sql:2:1: COPY \.\.\. TO STDOUT in a "):
        build_schema(seeds, "db/seeds")
