"""``plimsoll db lint FILES --env E``: the schema rules check the live database with the files
applied on top, and the report names the environment (never its password)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.cli.test_code_cli import plimsoll
from tests.support.postgres import PgDatabase


@pytest.fixture
def live_project(tmp_path: Path, pg_database: PgDatabase) -> Path:
    """A project whose first migration is applied to a real database, the second is not."""
    root = tmp_path / "svc"
    migrations = root / "db" / "migrations"
    migrations.mkdir(parents=True)
    # A password in the URL (trust authentication ignores it): the report must not show it.
    info = psycopg.conninfo.conninfo_to_dict(pg_database.dsn)
    info["password"] = "s3cret-pw"
    dsn = psycopg.conninfo.make_conninfo(**info)
    (root / "plimsoll.toml").write_text(
        "[db]\ndefault_environment = 'live'\n"
        f"[db.environments.live]\nurl = {json.dumps(dsn)}\n"
        "[db.lint]\nlibraries = ['safety', 'general']\n"
    )
    (migrations / "1_base.up.sql").write_text(
        "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);\n"
        "COMMENT ON TABLE accounts IS 'who logs in';\n"
    )
    plimsoll(root, "db", "migrate", "up", "--env", "live")
    with pg_database.connect(autocommit=True) as conn:
        # Made by hand in the database: no file knows it.
        conn.execute("CREATE TABLE scratch (note text)")
    (migrations / "2_tokens.up.sql").write_text(
        "-- a new table: no primary key, a plain-text secret\n"
        "CREATE TABLE api_tokens (account_id bigint REFERENCES accounts (id), token text);\n"
    )
    return root


def _data(done: object) -> dict:
    return json.loads(done.stdout)  # type: ignore[attr-defined]


def test_schema_rules_see_the_files_applied_on_top_of_the_database(live_project: Path) -> None:
    done = plimsoll(
        live_project,
        "db",
        "lint",
        "db/migrations/2_tokens.up.sql",
        "--env",
        "live",
        "-f",
        "json",
        check=1,
    )
    data = _data(done)
    found = {(f["rule"], f["object"]): f for f in data["findings"]}
    # The new table's findings, at its line (the old code ran the schema rules on the
    # database alone and lost them).
    key = found[("require-primary-key", "public.api_tokens")]
    assert (key["file"], key["line"]) == ("db/migrations/2_tokens.up.sql", 2)
    secret = found[("security-plaintext-secret", "public.api_tokens.token")]
    assert secret["file"] == "db/migrations/2_tokens.up.sql"
    fk = found[("require-foreign-key-index", "public.api_tokens.api_tokens_account_id_fkey")]
    assert fk["line"] == 2
    # The database's own table: no file, and no line or column either.
    scratch = found[("require-primary-key", "public.scratch")]
    assert (scratch["file"], scratch["line"], scratch["column"]) == (None, None, None)
    # The applied table is the database's: nothing about it comes from a file.
    assert ("require-primary-key", "public.accounts") not in found
    assert data["catalog"] == "database + files"
    assert data["format_version"] == 2
    environment = data["environment"]
    assert environment["name"] == "live"
    with psycopg.connect(live_project.joinpath("plimsoll.toml").read_text().split('"')[1]) as c:
        assert environment["database"] == c.info.dbname
        assert environment["port"] == c.info.port
    assert "s3cret-pw" not in done.stdout and "s3cret-pw" not in done.stderr
    assert data["warnings"] == []


def test_applied_migrations_are_not_applied_twice(live_project: Path) -> None:
    done = plimsoll(
        live_project, "db", "lint", "db/migrations", "-e", "live", "-f", "json", check=1
    )
    data = _data(done)
    assert any("1 migration its tracking table lists as applied" in n for n in data["notes"])
    objects = {f["object"] for f in data["findings"] if f["rule"] == "require-primary-key"}
    assert objects == {"public.api_tokens", "public.scratch"}
    text = plimsoll(live_project, "db", "lint", "db/migrations", "-e", "live", check=1).stdout
    assert text.startswith("environment: live: database ")
    assert "schema rules checked the database with 1 of the files applied on top" in text


def test_what_cannot_be_applied_is_said(live_project: Path) -> None:
    (live_project / "db" / "migrations" / "3_typo.up.sql").write_text(
        "ALTER TABLE acounts ADD COLUMN note text;\n"
    )
    done = plimsoll(
        live_project, "db", "lint", "db/migrations", "-e", "live", "-f", "json", check=1
    )
    assert _data(done)["warnings"] == [
        "db/migrations/3_typo.up.sql:1: ALTER TABLE on public.acounts, which neither the"
        " database nor an earlier file has: not applied to the schema the schema rules check"
    ]
    assert "warning: db/migrations/3_typo.up.sql:1: ALTER TABLE on public.acounts" in done.stderr


def test_partitioned_table_of_the_database_refuses_concurrent_index(
    live_project: Path, pg_database: PgDatabase
) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE events (day date) PARTITION BY RANGE (day)")
    (live_project / "db" / "migrations" / "2_tokens.up.sql").write_text(
        "CREATE INDEX CONCURRENTLY events_day_idx ON events (day);\n"
    )
    done = plimsoll(
        live_project,
        "db",
        "lint",
        "db/migrations/2_tokens.up.sql",
        "-e",
        "live",
        "-f",
        "json",
        check=1,
    )
    found = [
        f
        for f in _data(done)["findings"]
        if f["rule"] == "ban-concurrent-index-on-partitioned-table"
    ]
    assert [(f["file"], f["line"]) for f in found] == [("db/migrations/2_tokens.up.sql", 1)]
    assert "as the database says" in found[0]["message"]


@pytest.mark.parametrize(
    ("sql", "rule", "refusal"),
    [
        (
            "ALTER TYPE mood ADD VALUE 'ok' AFTER 'sad';\nUPDATE people SET m = 'ok';\n",
            "ban-uncommitted-enum-value",
            'unsafe use of new value "ok" of enum type mood',
        ),
        (
            "CREATE INDEX CONCURRENTLY events_day_idx ON events (day);\n",
            "ban-concurrent-index-on-partitioned-table",
            'cannot create index on partitioned table "events" concurrently',
        ),
        (
            "REFRESH MATERIALIZED VIEW CONCURRENTLY daily;\n",
            "require-unique-index-for-concurrent-refresh",
            'cannot refresh materialized view "public.daily" concurrently',
        ),
    ],
)
def test_what_the_lint_flags_the_migrator_really_fails_on(
    tmp_path: Path, pg_database: PgDatabase, sql: str, rule: str, refusal: str
) -> None:
    """The lint's error findings are PostgreSQL's refusals: the migrator fails on the same
    migration, with the message the finding quotes or explains."""
    root = tmp_path / "svc"
    migrations = root / "db" / "migrations"
    migrations.mkdir(parents=True)
    (root / "plimsoll.toml").write_text(
        f"[db]\ndefault_environment = 'live'\n[db.environments.live]\nurl = {json.dumps(pg_database.dsn)}\n"
    )
    (migrations / "1_base.up.sql").write_text(
        "CREATE TYPE mood AS ENUM ('sad');\nCREATE TABLE people (id bigint PRIMARY KEY, m mood);\n"
        "CREATE TABLE events (day date) PARTITION BY RANGE (day);\n"
        "CREATE MATERIALIZED VIEW daily AS SELECT 1 AS day;\n"
    )
    (migrations / "2_change.up.sql").write_text(sql)
    found = [
        f
        for f in _data(plimsoll(root, "db", "lint", "-f", "json", check=1))["findings"]
        if f["rule"] == rule
    ]
    assert [f["file"] for f in found] == ["db/migrations/2_change.up.sql"]
    assert found[0]["severity"] == "error"
    failed = plimsoll(root, "db", "migrate", "up", check=None)
    assert failed.returncode != 0
    assert refusal in failed.stderr + failed.stdout
