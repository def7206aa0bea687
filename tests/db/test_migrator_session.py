"""Each migration starts from the session the run found, against a real PostgreSQL.

A migration's ``SET search_path``, ``set_config(..., false)`` (pg_dump's first lines),
``SET ROLE`` and ``SET SESSION AUTHORIZATION`` must neither reach the next migration nor the
tracking row, as they would not under psql running each file in a session of its own: up in
one invocation leaves what up in two leaves.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from plimsoll.core.hooks import HookExecutor, HookRegistry
from plimsoll.db.hooks import DbPhase
from plimsoll.db.migrator import Migrator


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _statement_hooks() -> HookExecutor:
    """Hooks around each statement: the migrator then runs statements one by one (not batched)."""
    registry = HookRegistry()
    registry.hook(DbPhase.BEFORE_STATEMENT, name="noop")(lambda context: None)
    return HookExecutor(registry)


# Both ways a transactional SQL migration runs: batched (one message), or statement by
# statement (when hooks run around each statement).
WAYS = pytest.mark.parametrize("hooked", [False, True], ids=["batched", "statement_hooks"])


def _where(dsn: str, *tables: str) -> dict[str, tuple[str, str]]:
    """Schema and owner of each table named, as the catalog says."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname, n.nspname, pg_get_userbyid(c.relowner) FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE c.relname = ANY(%s) AND c.relkind = 'r'",
            (list(tables),),
        ).fetchall()
    return {name: (schema, owner) for name, schema, owner in rows}


def _tracked(dsn: str, table: str = "public.plimsoll_migrations") -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute(f"SELECT version FROM {table} ORDER BY applied_rank")]


# --- search_path ------------------------------------------------------------------------------


@WAYS
def test_a_pg_dump_as_first_migration_leaves_the_search_path_to_itself(
    pg_server: Any, pg_database: Any, tmp_path: Path, hooked: bool
) -> None:
    # A real pg_dump -s: its first lines run set_config('search_path', '', false).
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE SCHEMA shop; CREATE TABLE shop.orders (id bigint PRIMARY KEY, total numeric);"
            " CREATE FUNCTION shop.double(x int) RETURNS int LANGUAGE sql AS 'SELECT x * 2'"
        )
    dump = subprocess.run(
        [str(pg_server.bindir / "pg_dump"), "-s", "-n", "shop", "--no-owner", pg_database.dsn],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "set_config('search_path', '', false)" in dump
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA shop CASCADE")
    folder = _write(
        tmp_path / "m",
        {
            "0001_baseline.up.sql": dump,
            # Unqualified: with the dump's empty search_path it would have nowhere to go.
            "0002_later.up.sql": "CREATE TABLE later (id int);\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder, hooks=_statement_hooks() if hooked else None)
    assert [s.version for s in migrator.up().steps] == ["0001", "0002"]
    assert _tracked(pg_database.dsn) == ["0001", "0002"]
    assert _where(pg_database.dsn, "orders", "later") == {
        "orders": ("shop", "postgres"),
        "later": ("public", "postgres"),
    }


def test_set_local_search_path_in_the_first_migration_does_not_hide_the_tracking_table(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "0001_local.up.sql": "CREATE SCHEMA app;\nSET LOCAL search_path = app;\nCREATE TABLE a (id int);\n"
        },
    )
    Migrator(pg_database.dsn, folder).up()
    assert _tracked(pg_database.dsn) == ["0001"]
    assert _where(pg_database.dsn, "a") == {"a": ("app", "postgres")}


SEARCH_PATH = {
    "0004_private.up.sql": (
        "CREATE SCHEMA app_private;\nSET search_path = app_private;\nCREATE TABLE t4 (id int);\n"
    ),
    "0004_private.down.sql": "DROP TABLE app_private.t4;\nDROP SCHEMA app_private;\n",
    "0005_t5.up.sql": "CREATE TABLE t5 (id int);\n",
    "0005_t5.down.sql": "DROP TABLE t5;\n",
    "0006_py.py": (
        "def up(conn):\n"
        "    conn.execute(\"SELECT set_config('search_path', 'app_private', false)\")\n"
        "    conn.execute('CREATE TABLE t6 (id int)')\n\n\n"
        "def down(conn):\n"
        "    conn.execute('DROP TABLE app_private.t6')\n"
    ),
    "0007_t7.up.sql": "CREATE TABLE t7 (id int);\n",
    "0007_t7.down.sql": "DROP TABLE t7;\n",
}


@WAYS
def test_up_in_one_invocation_leaves_what_up_in_two_leaves(
    pg_database: Any, tmp_path: Path, hooked: bool
) -> None:
    folder = _write(tmp_path / "m", SEARCH_PATH)
    migrator = Migrator(pg_database.dsn, folder, hooks=_statement_hooks() if hooked else None)
    tables = ("t4", "t5", "t6", "t7")

    migrator.up()
    together = _where(pg_database.dsn, *tables)
    assert together == {
        "t4": ("app_private", "postgres"),
        "t5": ("public", "postgres"),
        "t6": ("app_private", "postgres"),
        "t7": ("public", "postgres"),
    }
    migrator.down(target="0")
    assert _where(pg_database.dsn, *tables) == {}

    for version in ("0004", "0005", "0006", "0007"):
        Migrator(pg_database.dsn, folder).up(target=version)
    assert _where(pg_database.dsn, *tables) == together
    assert _tracked(pg_database.dsn) == ["0004", "0005", "0006", "0007"]


# --- roles ------------------------------------------------------------------------------------


@pytest.fixture
def other_role(pg_database: Any) -> Iterator[str]:
    """A role without any right on the tracking table, that migrations may switch to."""
    role = f"mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role}")
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {role}")
    try:
        yield role
    finally:
        with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


@WAYS
def test_a_role_taken_by_a_migration_ends_with_it(
    pg_database: Any, other_role: str, tmp_path: Path, hooked: bool
) -> None:
    role = other_role
    folder = _write(
        tmp_path / "m",
        {
            # Its row is written as the connecting role: the role taken has no right on it.
            "0001_as_role.up.sql": f"SET ROLE {role};\nCREATE TABLE by_role (id int);\n",
            "0002_after.up.sql": "CREATE TABLE after_role (id int);\n",
            "0003_session.py": (
                "def up(conn):\n"
                f"    conn.execute('SET SESSION AUTHORIZATION {role}')\n"
                "    conn.execute('CREATE TABLE by_session (id int)')\n"
            ),
            "0004_after.up.sql": "CREATE TABLE after_session (id int);\n",
            # Outside a transaction: its row is written in a transaction of its own.
            "0005_index.up.sql": (
                f"SET ROLE {role};\nCREATE INDEX CONCURRENTLY by_role_id ON by_role (id);\n"
            ),
            "0006_who.up.sql": "CREATE TABLE who AS SELECT current_user AS name;\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder, hooks=_statement_hooks() if hooked else None)
    assert [s.version for s in migrator.up().steps] == [f"000{v}" for v in range(1, 7)]
    assert _where(pg_database.dsn, "by_role", "after_role", "by_session", "after_session") == {
        "by_role": ("public", role),
        "after_role": ("public", "postgres"),
        "by_session": ("public", role),
        "after_session": ("public", "postgres"),
    }
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT name FROM who").fetchall() == [("postgres",)]
        owner = conn.execute(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'plimsoll_migrations'"
        ).fetchone()
    assert owner == ("postgres",)
    assert _tracked(pg_database.dsn) == [f"000{v}" for v in range(1, 7)]


def test_a_temporary_table_does_not_outlive_its_migration(pg_database: Any, tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "0001_tmp.up.sql": "CREATE TEMP TABLE scratch (id int);\nINSERT INTO scratch VALUES (1);\n",
            # Under psql, a session of its own: the same name is free again.
            "0002_tmp.up.sql": "CREATE TEMP TABLE scratch (id int);\n",
        },
    )
    assert [s.version for s in Migrator(pg_database.dsn, folder).up().steps] == ["0001", "0002"]
