"""``plimsoll db build`` end to end: the script, --output, --apply with seeds, exit codes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.support.cli import COMMAND, ENV, plimsoll
from tests.support.postgres import PgServer


@pytest.fixture
def project(tmp_path: Path, pg_server: PgServer) -> Iterator[tuple[Path, str]]:
    """A project whose development environment is the test server; yields (root, build db)."""
    root = tmp_path / "service"
    (root / "db" / "schema" / "00_common").mkdir(parents=True)
    (root / "db" / "schema" / "10_tables").mkdir()
    (root / "db" / "seeds").mkdir()
    (root / "plimsoll.toml").write_text(
        f'[db.environments.development]\nurl = "{pg_server.dsn}"\n'
        '[db.environments.down]\nurl = "postgresql://app:s3cret-pw@127.0.0.1:1/app"\n'
    )
    (root / "db" / "schema" / "00_common" / "schema.sql").write_text("CREATE SCHEMA app;\n")
    (root / "db" / "schema" / "10_tables" / "users.sql").write_text(
        "-- people\nCREATE TABLE app.users (\n    id bigint PRIMARY KEY,\n    email text\n);\n"
    )
    (root / "db" / "seeds" / "users.sql").write_text(
        "INSERT INTO app.users VALUES (1, 'a@example.com');\n"
    )
    name = f"cli_{uuid.uuid4().hex[:10]}"
    yield root, name
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_prints_the_script_and_writes_it_with_a_stable_hash(project: tuple[Path, str]) -> None:
    root, _ = project
    printed = plimsoll(root, "db", "build")
    assert printed.stdout.startswith("-- plimsoll db build\n")
    assert "-- file: 00_common/schema.sql\nCREATE SCHEMA app;\n" in printed.stdout
    assert "built 2 files, 2 statements" in printed.stderr
    out = root / "build.sql"
    summary = json.loads(plimsoll(root, "db", "build", "-o", str(out), "-f", "json").stdout)
    assert out.read_text() == printed.stdout
    body = out.read_text().split("-- end of header\n", 1)[1]
    assert summary["sha256"] == hashlib.sha256(body.encode()).hexdigest()
    assert [f["path"] for f in summary["files"]] == [
        "db/schema/00_common/schema.sql",
        "db/schema/10_tables/users.sql",
    ]
    assert summary["output"] == str(out) and "sql" not in summary
    again = json.loads(plimsoll(root, "db", "build", "-f", "json").stdout)
    assert again["sha256"] == summary["sha256"] and again["sql"] == printed.stdout


def test_apply_with_seeds_on_a_fresh_database(project: tuple[Path, str]) -> None:
    root, name = project
    done = json.loads(
        plimsoll(root, "db", "build", "--apply", "--seeds", "--database", name, "-f", "json").stdout
    )
    assert done["applied"] is True and done["database"] == name
    assert (done["statements"], done["seed_statements"], done["dropped_existing"]) == (2, 1, False)
    again = plimsoll(root, "db", "build", "--apply", "--database", name)
    assert f"dropped the existing database {name}" in again.stderr
    assert f"applied 2 statements to a fresh database {name}" in again.stdout
    with psycopg.connect(done["url"]) as conn:
        assert conn.execute("SELECT count(*) FROM app.users").fetchone() == (0,)


def test_a_failing_statement_exits_1_naming_its_source_line(project: tuple[Path, str]) -> None:
    root, name = project
    (root / "db" / "schema" / "20_views.sql").write_text(
        "-- views\nCREATE VIEW app.v AS\n  SELECT id, nope\n  FROM app.users;\n"
    )
    failed = plimsoll(root, "db", "build", "--apply", "--database", name, "-f", "json", check=1)
    error = json.loads(failed.stdout)["error"]
    assert (error["file"], error["line"], error["column"]) == ("db/schema/20_views.sql", 3, 14)
    text = plimsoll(root, "db", "build", "--apply", "--database", name, check=1)
    assert "db/schema/20_views.sql:3:14: ERROR: column" in text.stderr
    assert "Traceback" not in text.stderr


def test_bad_input_exits_2_and_an_unreachable_server_3(project: tuple[Path, str]) -> None:
    root, _ = project
    bad = root / "db" / "schema" / "10_tables" / "bad.sql"
    bad.write_text("SELECT 1;\n\nSELEC 2;\n")
    failed = plimsoll(root, "db", "build", check=2)
    assert "db/schema/10_tables/bad.sql:3:1: syntax error" in failed.stderr
    bad.unlink()
    assert "--seeds needs --apply" in plimsoll(root, "db", "build", "--seeds", check=2).stderr
    down = plimsoll(root, "db", "build", "--apply", "--env", "down", check=3)
    assert "unreachable" in down.stderr and "s3cret-pw" not in down.stdout + down.stderr
    (root / "plimsoll.toml").write_text('[db]\nschema_dir = "nowhere"\n')
    assert "schema folder not found" in plimsoll(root, "db", "build", check=2).stderr


def _comment(dsn: str, name: str) -> str | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    return None if row is None else row[0]


def test_a_database_the_build_did_not_make_needs_force(
    project: tuple[Path, str], pg_server: PgServer
) -> None:
    root, name = project
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(pg_server.dsn_for(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)")
    refused = plimsoll(root, "db", "build", "--apply", "--database", name, check=2)
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and f"refusing to drop database '{name}'" in lines[0]
    assert "--force" in lines[0] and "applied" not in refused.stdout
    with psycopg.connect(pg_server.dsn_for(name)) as conn:
        assert conn.execute("SELECT count(*) FROM keep").fetchone() == (1,)
    assert "--force needs --apply" in plimsoll(root, "db", "build", "--force", check=2).stderr

    forced = json.loads(
        plimsoll(root, "db", "build", "--apply", "--database", name, "--force", "-f", "json").stdout
    )
    assert (forced["dropped_existing"], forced["forced"]) == (True, True)
    assert (_comment(pg_server.dsn, name) or "").startswith("plimsoll db build:")
    # Made by a build now: the next build replaces it without --force.
    again = plimsoll(root, "db", "build", "--apply", "--database", name)
    assert f"dropped the existing database {name}\n" in again.stderr


def _drop(dsn: str, *names: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        for name in names:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_the_default_build_database_of_an_earlier_version_is_replaced_and_marked(
    project: tuple[Path, str], pg_server: PgServer
) -> None:
    root, name = project
    # An environment of its own, so its default build database is this test's alone.
    env_db, build_db = f"{name}_env", f"{name}_env_build"
    toml = root / "plimsoll.toml"
    toml.write_text(toml.read_text().replace(pg_server.dsn, pg_server.dsn_for(env_db)))
    try:
        with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(env_db)))
            # What the previous version's build left: <dbname>_build with no comment at all.
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(build_db)))
        assert _comment(pg_server.dsn, build_db) is None
        done = json.loads(plimsoll(root, "db", "build", "--apply", "-f", "json").stdout)
        assert (done["database"], done["dropped_existing"], done["forced"]) == (
            build_db,
            True,
            False,
        )
        assert (_comment(pg_server.dsn, build_db) or "").startswith("plimsoll db build:")

        # Named with --database, the same unmarked database is still refused.
        _drop(pg_server.dsn, build_db)
        with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(build_db)))
        named = plimsoll(root, "db", "build", "--apply", "--database", build_db, check=2)
        assert "its comment has no build mark" in named.stderr
        # And the default one is refused when someone described it with another comment.
        with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("COMMENT ON DATABASE {} IS 'reports, keep'").format(
                    sql.Identifier(build_db)
                )
            )
        refused = plimsoll(root, "db", "build", "--apply", check=2)
        assert f"refusing to drop database '{build_db}'" in refused.stderr
        assert "its comment is not a build's" in refused.stderr
        assert _comment(pg_server.dsn, build_db) == "reports, keep"
    finally:
        _drop(pg_server.dsn, build_db, env_db)


def test_psql_files_build_and_their_errors_name_the_line(project: tuple[Path, str]) -> None:
    root, name = project
    (root / "db" / "schema" / "10_tables" / "users.sql").write_text(
        "\\restrict k3y\n\\set ON_ERROR_STOP on\n"
        "CREATE TABLE app.users (id bigint PRIMARY KEY, email text);\n\\unrestrict k3y\n"
    )
    (root / "db" / "seeds" / "users.sql").write_text(
        "COPY app.users (id, email) FROM stdin;\n1\ta@example.com\n2\t\\N\n\\.\n"
    )
    done = json.loads(
        plimsoll(root, "db", "build", "--apply", "--seeds", "--database", name, "-f", "json").stdout
    )
    assert (done["statements"], done["seed_statements"]) == (2, 1)
    assert [(c["line"], c["command"]) for c in done["skipped_meta_commands"]] == [
        (1, "\\restrict k3y"),
        (2, "\\set ON_ERROR_STOP on"),
        (4, "\\unrestrict k3y"),
    ]
    printed = plimsoll(root, "db", "build")
    assert "\\restrict k3y\n\\set ON_ERROR_STOP on\nCREATE TABLE" in printed.stdout
    assert (
        "skipped 3 psql meta-commands when applying (\\restrict, \\set, \\unrestrict; kept in "
        "the script for psql)" in printed.stderr
    )
    with psycopg.connect(done["url"]) as conn:
        rows = conn.execute("SELECT id, email FROM app.users ORDER BY id").fetchall()
    assert rows == [(1, "a@example.com"), (2, None)]

    (root / "db" / "seeds" / "users.sql").write_text(
        "COPY app.users (id, email) FROM stdin;\n1\ta@example.com\ntwo\tb@example.com\n\\.\n"
    )
    failed = plimsoll(root, "db", "build", "--apply", "--seeds", "--database", name, check=1)
    assert (
        '\ndb/seeds/users.sql:3: ERROR: invalid input syntax for type bigint: "two"'
        in failed.stderr
    )
    (root / "db" / "schema" / "20_more.sql").write_text("SELECT 1;\n\\i extra.sql\n")
    refused = plimsoll(root, "db", "build", check=2)
    assert refused.stderr.startswith(
        "plimsoll: error: db/schema/20_more.sql:2:1: psql meta-command \\i is not supported: "
    )
    assert len(refused.stderr.strip().splitlines()) == 1


def test_builds_at_once_take_turns_instead_of_dropping_each_other(
    project: tuple[Path, str],
) -> None:
    root, name = project
    command = [*COMMAND, "db", "build", "--apply", "--database", name, "-f", "json"]
    runs = [
        subprocess.Popen(
            command, cwd=root, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )  # fmt: skip
        for _ in range(3)
    ]
    outcomes = [(run.wait(timeout=120), run.stderr.read() if run.stderr else "") for run in runs]
    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes
    # The last build's database stands, marked: no build dropped another's mid-way.
    dsn = (root / "plimsoll.toml").read_text().split('url = "', 1)[1].split('"', 1)[0]
    assert _comment(dsn, name) is not None


def test_the_build_lock_is_per_target_and_its_wait_is_bounded(
    project: tuple[Path, str], pg_server: PgServer
) -> None:
    from plimsoll.db.build_lock import build_lock_key

    root, name = project
    other = f"{name}_other"
    toml = root / "plimsoll.toml"
    toml.write_text("[db]\nmigrator_lock_timeout_seconds = 1\n" + toml.read_text())
    try:
        # Another build into `name` holds its lock, in the environment's database.
        with psycopg.connect(pg_server.dsn, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (build_lock_key(name),))
            started = time.monotonic()
            stuck = plimsoll(root, "db", "build", "--apply", "--database", name, check=3)
            assert time.monotonic() - started < 30
            assert f"waiting for another plimsoll db build into {name} to finish" in stuck.stderr
            assert (
                f"another plimsoll db build into database '{name}' has held the build lock for"
                in stuck.stderr
            )
            assert "db.migrator_lock_timeout_seconds = 1" in stuck.stderr
            assert _comment(pg_server.dsn, name) is None  # it never got to create it
            # A build into another database does not wait for it.
            free = plimsoll(root, "db", "build", "--apply", "--database", other)
            assert "waiting" not in free.stderr
            assert (_comment(pg_server.dsn, other) or "").startswith("plimsoll db build:")
        # Released: the build goes through.
        plimsoll(root, "db", "build", "--apply", "--database", name)
    finally:
        _drop(pg_server.dsn, other)


def test_output_is_written_whole_or_not_at_all(project: tuple[Path, str]) -> None:
    root, _ = project
    out = root / "build.sql"
    out.write_text("previous\n")
    (root / "build.d").mkdir()
    failed = plimsoll(root, "db", "build", "-o", "build.d", check=2)
    assert "--output build.d: cannot write" in failed.stderr
    assert out.read_text() == "previous\n"
    plimsoll(root, "db", "build", "-o", "build.sql")
    assert out.read_text().startswith("-- plimsoll db build\n")
    assert not [p for p in root.iterdir() if p.name.startswith(".build.")]
