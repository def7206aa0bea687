"""The migrator and what the database allows, against a real PostgreSQL: a least-privilege
deploy role, a read-only database, another tool's table, timeouts the server refuses, and
the first migration of a database that already has its schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from plimsoll.core.errors import CannotRunError, ConfigError, ExitCode, UsageError
from plimsoll.db.migrator import ADOPT_HINT, MigrationError, Migrator, Settings


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _exists(dsn: str, name: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


@pytest.fixture
def deploy(pg_database: Any) -> Iterator[str]:
    """The URL of a login role with no CREATE right on the database nor on schema public,
    owning schema ``app``."""
    role = f"deploy_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(f"REVOKE CREATE ON DATABASE {pg_database.dbname} FROM PUBLIC")
        conn.execute(f"CREATE SCHEMA app AUTHORIZATION {role}")
    try:
        yield pg_database.dsn.replace("postgresql://postgres@", f"postgresql://{role}@")
    finally:
        with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


APP = {
    "0001_items.up.sql": "CREATE TABLE app.items (id int);\n",
    "0001_items.down.sql": "DROP TABLE app.items;\n",
}


def test_a_deploy_role_with_rights_on_an_existing_tracking_table_needs_no_create(
    pg_database: Any, deploy: str, tmp_path: Path
) -> None:
    Migrator(pg_database.dsn, _write(tmp_path / "empty", {})).up()  # the owner makes it
    role = deploy.split("//")[1].split("@")[0]
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON plimsoll_migrations TO {role}")
    migrator = Migrator(deploy, _write(tmp_path / "m", APP))
    assert [s.version for s in migrator.up().steps] == ["0001"]
    assert _exists(pg_database.dsn, "app.items")
    assert [r.applied_by for r in migrator.status().applied]  # read back as that role
    assert [s.version for s in migrator.down().steps] == ["0001"]
    assert not _exists(pg_database.dsn, "app.items")


def test_a_tracking_table_in_a_schema_the_role_owns_is_created_there(
    pg_database: Any, deploy: str, tmp_path: Path
) -> None:
    migrator = Migrator(deploy, _write(tmp_path / "m", APP), Settings(tracking_table="app.history"))
    assert [s.version for s in migrator.up().steps] == ["0001"]
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT version FROM app.history").fetchall() == [("0001",)]


@pytest.mark.parametrize(
    ("tracking", "expected"),
    [
        (
            "plimsoll_migrations",
            "db.tracking_table plimsoll_migrations: table public.plimsoll_migrations does not"
            " exist and role {role} may not create it (no CREATE privilege on schema public",
        ),
        (
            "ops.history",
            "db.tracking_table ops.history: schema ops does not exist and role {role} may not"
            " create it (no CREATE privilege on database {db}",
        ),
    ],
)
def test_a_tracking_table_the_role_may_not_create_is_one_line_naming_the_right(
    pg_database: Any, deploy: str, tmp_path: Path, tracking: str, expected: str
) -> None:
    role = deploy.split("//")[1].split("@")[0]
    migrator = Migrator(deploy, _write(tmp_path / "m", APP), Settings(tracking_table=tracking))
    with pytest.raises(CannotRunError) as err:
        migrator.up()
    assert err.value.exit_code == ExitCode.CANNOT_RUN
    assert expected.format(role=role, db=pg_database.dbname) in str(err.value)
    assert "\n" not in str(err.value)
    assert not _exists(pg_database.dsn, "app.items")


def test_missing_rights_on_the_tracking_table_are_named_before_anything_runs(
    pg_database: Any, deploy: str, tmp_path: Path
) -> None:
    Migrator(pg_database.dsn, _write(tmp_path / "empty", {})).up()
    role = deploy.split("//")[1].split("@")[0]
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(f"GRANT SELECT ON plimsoll_migrations TO {role}")
    with pytest.raises(
        CannotRunError, match=f"role {role} lacks INSERT on public.plimsoll_migrations"
    ):
        Migrator(deploy, _write(tmp_path / "m", APP)).up()
    assert not _exists(pg_database.dsn, "app.items")


# --- databases that cannot take the run -------------------------------------------------------


def test_a_read_only_database_is_refused_before_anything(pg_database: Any, tmp_path: Path) -> None:
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {pg_database.dbname} SET default_transaction_read_only = on")
    migrator = Migrator(pg_database.dsn, _write(tmp_path / "m", APP))
    with pytest.raises(CannotRunError) as err:
        migrator.up()
    assert str(err.value) == (
        "the database is read-only (default_transaction_read_only is on): cannot apply"
        f" migrations to {pg_database.dbname}"
    )
    assert migrator.status().applied == ()  # reading still works


def test_another_tools_table_is_refused_naming_its_columns(
    pg_database: Any, tmp_path: Path
) -> None:
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
    migrator = Migrator(
        pg_database.dsn,
        _write(tmp_path / "m", APP),
        Settings(tracking_table="alembic_version", source="plimsoll.toml"),
    )
    message = (
        "plimsoll.toml: db.tracking_table alembic_version exists but is not a plimsoll"
        " tracking table (columns version_num;"
    )
    for action in (migrator.up, migrator.status):
        with pytest.raises(ConfigError) as err:
            action()
        assert str(err.value).startswith(message), str(err.value)
        assert err.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("value", ["abc", "-1s", "25d"])
@pytest.mark.parametrize("which", ["lock_timeout", "statement_timeout"])
def test_a_timeout_the_server_refuses_is_a_config_error_naming_its_key(
    pg_database: Any, tmp_path: Path, value: str, which: str
) -> None:
    key = f"db.environments.prod.{which}"
    settings = Settings(**{which: value, f"{which}_key": key})  # type: ignore[arg-type]
    migrator = Migrator(pg_database.dsn, _write(tmp_path / "m", APP), settings)
    with pytest.raises(ConfigError) as err:
        migrator.up()
    assert str(err.value).startswith(f"{key} = {value!r}: not a duration PostgreSQL takes")
    assert not _exists(pg_database.dsn, "plimsoll_migrations")  # nothing written


# --- the first migration of a database that has its schema -------------------------------------

USERS = {
    "0001_users.up.sql": "CREATE TABLE users (id int);\n",
    "0002_orders.up.sql": "CREATE TABLE orders (id int);\n",
}


def test_the_first_migration_finding_its_table_hints_at_baseline(
    pg_database: Any, tmp_path: Path
) -> None:
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id int); CREATE TABLE orders (id int)")
    migrator = Migrator(pg_database.dsn, _write(tmp_path / "m", USERS))
    with pytest.raises(MigrationError) as err:
        migrator.up()
    assert 'relation "users" already exists' in str(err.value)
    assert str(err.value).endswith(f"; {ADOPT_HINT}")
    # Adopted as the hint says, the same database goes on.
    migrator.baseline("0001")
    with pytest.raises(MigrationError) as later:
        migrator.up()
    # Not the first migration any more: the database was adopted, no hint.
    assert 'relation "orders" already exists' in str(later.value)
    assert ADOPT_HINT not in str(later.value)


# --- down --steps beyond what is applied --------------------------------------------------------


def test_down_more_steps_than_applied_is_refused(pg_database: Any, tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "m",
        {f"000{v}_t.up.sql": f"CREATE TABLE t{v} ();\n" for v in range(1, 4)}
        | {f"000{v}_t.down.sql": f"DROP TABLE t{v};\n" for v in range(1, 4)},
    )
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up()
    with pytest.raises(UsageError) as err:
        migrator.down(steps=99)
    assert (
        str(err.value)
        == "--steps 99: only 3 migrations are applied (--target 0 reverts all of them)"
    )
    assert err.value.exit_code == ExitCode.USAGE
    assert len(migrator.status().applied) == 3  # nothing reverted
    assert [s.version for s in migrator.down(steps=3).steps] == ["0003", "0002", "0001"]
    # With nothing applied, `--steps 1` is the default spelt out: nothing to do, as `down`.
    assert migrator.down(steps=1).steps == []
    assert migrator.down().steps == []


PUBLIC = {"0001_items.up.sql": "CREATE TABLE public.items (id int);\n"}


def test_a_search_path_naming_no_schema_leaves_nowhere_to_create_the_table(
    pg_database: Any, tmp_path: Path
) -> None:
    dsn = f"{pg_database.dsn}?options=-csearch_path%3Dnowhere"
    with pytest.raises(ConfigError) as err:
        Migrator(dsn, _write(tmp_path / "m", PUBLIC)).up()
    assert str(err.value) == (
        "db.tracking_table plimsoll_migrations: no schema to create it in (the search_path"
        " 'nowhere' names no schema that exists): write it as schema.plimsoll_migrations"
    )
    # Qualified, it goes where it says whatever the search_path.
    Migrator(dsn, _write(tmp_path / "m", PUBLIC), Settings(tracking_table="public.track")).up()
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT version FROM public.track").fetchall() == [("0001",)]


def test_a_tracking_table_of_the_old_layout_the_role_does_not_own_is_used_as_it_is(
    pg_database: Any, deploy: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    role = deploy.split("//")[1].split("@")[0]
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE plimsoll_migrations (version text PRIMARY KEY, name text NOT NULL,"
            " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
            " execution_ms integer NOT NULL, applied_by text NOT NULL DEFAULT current_user)"
        )
        conn.execute(f"GRANT SELECT, INSERT, DELETE ON plimsoll_migrations TO {role}")
    migrator = Migrator(deploy, _write(tmp_path / "m", APP))
    assert [s.version for s in migrator.up().steps] == ["0001"]
    assert "cannot add applied_rank to public.plimsoll_migrations" in caplog.text
    assert [s.version for s in migrator.down().steps] == ["0001"]
