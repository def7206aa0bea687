"""Environments to connections: resolution, redaction of passwords, real and failed connects."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pydantic import SecretStr

from plimsoll.core.config import LoadedConfig, PlimsollConfig, load
from plimsoll.core.errors import CannotRunError, ConfigError
from plimsoll.db.connection import Target, connect, redact_url, resolve
from tests.support.postgres import PgDatabase

SECRET = "s3cr3t-Pw"


def _loaded(root: Path, db: dict[str, object]) -> LoadedConfig:
    return LoadedConfig(config=PlimsollConfig.model_validate({"db": db}), source=None, root=root)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


# --- redact_url ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://alice:pw@db.example/app", "postgresql://alice:***@db.example/app"),
        (
            "postgres://alice:pw@db:5432/app?sslmode=require",
            "postgres://alice:***@db:5432/app?sslmode=require",
        ),
        ("postgresql://alice:p%40ss%3Aw@db/app", "postgresql://alice:***@db/app"),
        ("postgresql://alice:p@ss:w@db/app", "postgresql://alice:***@db/app"),
        ("postgresql://:pw@db/app", "postgresql://:***@db/app"),
        ("postgresql://alice:pw@h1:5432,h2:5433/app", "postgresql://alice:***@h1:5432,h2:5433/app"),
        (
            "postgresql://alice@db/app?password=pw&sslmode=require",
            "postgresql://alice@db/app?password=***&sslmode=require",
        ),
        (
            "postgresql://db/app?sslmode=verify-full&sslpassword=pw",
            "postgresql://db/app?sslmode=verify-full&sslpassword=***",
        ),
        ("postgresql://db/app?PASSWORD=pw", "postgresql://db/app?PASSWORD=***"),
        ("postgresql://alice@db:5432/app", "postgresql://alice@db:5432/app"),
        (
            "postgresql://db:5432/app?application_name=a@b",
            "postgresql://db:5432/app?application_name=a@b",
        ),
        ("postgresql://alice:@db/app", "postgresql://alice:@db/app"),
        ("postgresql:///app?host=%2Ftmp%2Fpg", "postgresql:///app?host=%2Ftmp%2Fpg"),
        ("host=db user=alice password=pw dbname=app", "host=db user=alice password=*** dbname=app"),
        ("host=db password = pw dbname=app", "host=db password = *** dbname=app"),
        ("host=db password='p w\\'x' dbname=app", "host=db password=*** dbname=app"),
        ("host=db password='unterminated secret", "host=db password=***"),
        ("password=pw", "password=***"),
        ("host=db sslpassword=pw", "host=db sslpassword=***"),
        ("host=db user=password_admin dbname=app", "host=db user=password_admin dbname=app"),
        ("", ""),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://alice:{SECRET}@db/app",
        f"postgresql://alice:{SECRET}@@db/app",
        f"postgresql://db/app?password={SECRET}",
        f"host=db password={SECRET}",
        f"host=db password='{SECRET} more'",
        f"host=db   PASSWORD   =   {SECRET}",
    ],
)
def test_redact_url_never_leaves_the_secret(url: str) -> None:
    assert SECRET not in redact_url(url)


# --- resolve ------------------------------------------------------------------------------


def test_default_environment_without_url_is_embedded(tmp_path: Path) -> None:
    target = resolve(_loaded(tmp_path, {}), None)
    assert target.name == "development" and target.embedded
    assert (
        f"host={str(tmp_path).replace('/', '%2F')}%2F.plimsoll%2Fpg"
        in target.url.get_secret_value()
    )
    assert (target.lock_timeout, target.statement_timeout) == ("5s", "1min")


def test_empty_or_blank_url_is_embedded(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, {"environments": {"development": {"url": ""}, "ci": {"url": "  "}}})
    assert resolve(loaded, "development").embedded
    assert resolve(loaded, "ci").embedded


def test_url_and_per_environment_timeouts(tmp_path: Path) -> None:
    loaded = _loaded(
        tmp_path,
        {
            "lock_timeout": "2s",
            "environments": {
                "production": {
                    "url": f"postgresql://app:{SECRET}@db/app",
                    "statement_timeout": "30s",
                }
            },
            "default_environment": "production",
        },
    )
    target = resolve(loaded)
    assert not target.embedded and target.name == "production"
    assert target.url.get_secret_value() == f"postgresql://app:{SECRET}@db/app"
    assert (target.lock_timeout, target.statement_timeout) == ("2s", "30s")
    assert SECRET not in repr(target) and SECRET not in target.display_url


def test_database_url_variable_convention(tmp_path: Path) -> None:
    (tmp_path / "plimsoll.toml").write_text(
        '[db.environments.development]\nurl = "${DATABASE_URL:-}"\n'
    )
    unset = load(start=tmp_path, env={})
    assert resolve(unset).embedded
    given = load(start=tmp_path, env={"DATABASE_URL": "postgresql://u@db/x"})
    target = resolve(given)
    assert not target.embedded and target.url.get_secret_value() == "postgresql://u@db/x"


def test_unknown_environment_names_it_and_lists_known(tmp_path: Path) -> None:
    loaded = _loaded(
        tmp_path, {"environments": {"staging": {}, "production": {"url": "postgresql://db/x"}}}
    )
    with pytest.raises(ConfigError) as caught:
        resolve(loaded, "prod")
    message = str(caught.value)
    assert "'prod'" in message and "production, staging" in message
    assert caught.value.exit_code == 2
    with pytest.raises(ConfigError, match="default database environment 'development'"):
        resolve(loaded)


# --- connect ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "postgresql://alice:{secret}@127.0.0.1:{port}/app",
        "host=127.0.0.1 port={port} user=alice password={secret} dbname=app",
        "postgresql://alice@127.0.0.1:{port}/app?password={secret}",
    ],
)
def test_unreachable_database_is_cannot_run_without_the_password(template: str) -> None:
    url = template.format(secret=SECRET, port=_closed_port())
    target = Target("production", SecretStr(url), False, "5s", "1min")
    with pytest.raises(CannotRunError) as caught:
        connect(target, connect_timeout=2)
    message = str(caught.value)
    assert SECRET not in message and "***" in message
    assert "\n" not in message
    assert message.startswith("database unreachable: environment production")
    assert caught.value.exit_code == 3


def test_unparseable_url_is_config_error_without_the_password() -> None:
    target = Target("dev", SecretStr(f"host=db password={SECRET} port"), False, "5s", "1min")
    with pytest.raises(ConfigError) as caught:
        connect(target)
    assert SECRET not in str(caught.value)
    assert "invalid database URL for environment dev" in str(caught.value)


@pytest.mark.integration
def test_connect_for_real(pg_database: PgDatabase) -> None:
    target = Target("test", SecretStr(pg_database.dsn), False, "5s", "1min")
    with connect(target) as conn:
        assert not conn.autocommit
        row = conn.execute(
            "SELECT current_database(), current_setting('application_name')"
        ).fetchone()
    assert row == (pg_database.dbname, "plimsoll")
    with connect(target, autocommit=True) as conn:
        assert conn.autocommit
