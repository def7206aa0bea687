"""The real PostgreSQL fixture: a live server, and one isolated database per test."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.postgres import PgDatabase, PgServer

pytestmark = pytest.mark.integration

# Databases handed out by earlier tests of this module, by test id.
_SEEN: dict[str, str] = {}


def test_server_answers_over_tcp_and_unix_socket(pg_server: PgServer) -> None:
    with psycopg.connect(pg_server.dsn) as conn:
        row = conn.execute("SELECT version(), current_setting('server_version_num')").fetchone()
    assert row is not None
    assert row[0].startswith("PostgreSQL ")
    assert int(row[1]) == pg_server.version
    assert pg_server.major >= 10
    assert pg_server.version_string == row[0]

    with psycopg.connect(
        host=str(pg_server.socket_dir), port=pg_server.port, user=pg_server.user, dbname="postgres"
    ) as conn:
        row = conn.execute("SELECT inet_server_addr()").fetchone()
    assert row is not None and row[0] is None  # None means: connected over the unix socket


def test_server_runs_with_test_settings(pg_server: PgServer) -> None:
    with pg_server.connect() as conn:
        fsync = conn.execute("SHOW fsync").fetchone()
        listen = conn.execute("SHOW listen_addresses").fetchone()
    assert fsync == ("off",)
    assert listen == ("127.0.0.1",)


def test_database_fields_make_a_working_connection(pg_database: PgDatabase) -> None:
    assert pg_database.dsn == (
        f"postgresql://{pg_database.user}@{pg_database.host}:{pg_database.port}/"
        f"{pg_database.dbname}"
    )
    with psycopg.connect(pg_database.dsn) as conn:
        row = conn.execute("SELECT current_database(), current_user, version()").fetchone()
    assert row is not None
    assert row[0] == pg_database.dbname
    assert row[1] == pg_database.user
    assert "PostgreSQL" in row[2]


@pytest.mark.parametrize("which", ["first", "second"])
def test_each_test_gets_its_own_empty_database(pg_database: PgDatabase, which: str) -> None:
    with pg_database.connect() as conn:
        leaked = conn.execute("SELECT to_regclass('public.leak_probe')").fetchone()
        assert leaked == (None,), "a table from another test is visible"
        conn.execute("CREATE TABLE leak_probe (who text NOT NULL)")
        conn.execute("INSERT INTO leak_probe VALUES (%s)", (which,))
        conn.commit()
        assert conn.execute("SELECT who FROM leak_probe").fetchall() == [(which,)]
    assert pg_database.dbname not in _SEEN.values()
    _SEEN[which] = pg_database.dbname


def test_databases_of_earlier_tests_are_dropped(pg_server: PgServer) -> None:
    with pg_server.connect() as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert names.isdisjoint(_SEEN.values())
    assert {"postgres", "template0", "template1"} <= names
