"""Environments to connections: resolution, redaction of passwords, real and failed connects."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from pydantic import SecretStr

from plimsoll.core.config import LoadedConfig, PlimsollConfig, load
from plimsoll.core.errors import CannotRunError, ConfigError
from plimsoll.db import connection
from plimsoll.db.connection import (
    Target,
    connect,
    masked_line,
    redact_url,
    resolve,
    url_hint,
    url_is_malformed,
)
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
        # A URL libpq cannot read as written shows nothing of its userinfo (to the last @).
        ("postgresql://alice:p@ss:w@db/app", "postgresql://***@db/app"),
        ("postgresql://alice:p@ss:w/rd%1?#@db:5432/app", "postgresql://***@db:5432/app"),
        ("postgresql://alice:pa/ss@db/app", "postgresql://***@db/app"),
        ("postgresql://alice:p%ZZw@db/app", "postgresql://***@db/app"),
        # libpq reads '#' and '?' in a userinfo as part of it: the URL parses.
        ("postgresql://alice:s3cr#t@db/app", "postgresql://alice:***@db/app"),
        ("postgresql://alice:s3?cr@db/app", "postgresql://alice:***@db/app"),
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
        # An '@' past the host cannot be told from one in a password: masked to it.
        ("postgresql://db:5432/app?application_name=a@b", "postgresql://***@b"),
        (
            "postgresql://db/app?password=p@ss#w&sslmode=require",
            "postgresql://db/app?password=***&sslmode=require",
        ),
        ("postgresql://alice:@db/app", "postgresql://alice:@db/app"),
        ("postgresql:///app?host=%2Ftmp%2Fpg", "postgresql:///app?host=%2Ftmp%2Fpg"),
        ("host=db user=alice password=pw dbname=app", "host=db user=alice password=*** dbname=app"),
        ("host=db password = pw dbname=app", "host=db password = *** dbname=app"),
        ("host=db password='p w\\'x' dbname=app", "host=db password=*** dbname=app"),
        ("host=db password='unterminated secret", "host=db password=***"),
        # A key=value string libpq cannot parse is masked from its password to the end.
        ("host=db password=se cret dbname=app", "host=db password=***"),
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


# Passwords that break a URL unless percent-encoded; each piece (Zq9x, Wv7k, ...) is unique, so
# finding any of them in a message is a leak.
NASTY = [
    "Zq9x#Wv7k",
    "Zq9x@Wv7k",
    "Zq9x@Wv7k:Yb3m/Rt5n%1?#",
    "Zq9x/Wv7k",
    "Zq9x%ZZWv7k",
    "Zq9x Wv7k",
    "Zq9x:Wv7k",
    "Zq9x?Wv7k=Yb3m&Rt5n",
]
PIECES = ("Zq9x", "Wv7k", "Yb3m", "Rt5n")


def _leaks(text: str) -> list[str]:
    return [piece for piece in PIECES if piece in text]


@pytest.mark.parametrize("password", NASTY)
@pytest.mark.parametrize(
    "template",
    [
        "postgresql://alice:{password}@127.0.0.1:{port}/app",
        "postgresql://127.0.0.1:{port}/app?user=alice&password={password}",
        "host=127.0.0.1 port={port} user=alice password={password} dbname=app",
    ],
    ids=["userinfo", "query", "key-value"],
)
def test_a_failed_connect_never_shows_a_nasty_password(template: str, password: str) -> None:
    url = template.format(password=password, port=_closed_port())
    target = Target("production", SecretStr(url), False, "5s", "1min")
    with pytest.raises((CannotRunError, ConfigError)) as caught:
        connect(target, connect_timeout=2)
    message = str(caught.value)
    assert _leaks(message) == [], message
    assert "\n" not in message and "***" in message
    assert redact_url(url) in message


def test_a_mask_never_lands_inside_words() -> None:
    # The password "p" of a URL libpq cannot read: "percent" stays a word.
    url = "postgresql://app:p@ss:w/rd%1?#@127.0.0.1:5432/x"
    line = masked_line('invalid percent-encoded token: "rd%1"', url)
    assert line == 'invalid percent-encoded token: "***"'
    # A quoted value is masked whole when it holds a secret, and only then.
    assert masked_line(
        'could not translate host name "ss" to address; role "app" does not exist', url
    ) == ('could not translate host name "***" to address; role "***" does not exist')
    assert masked_line(
        "failed to resolve host 'u': Name not known", "postgresql://u:pa/ss@h/x"
    ) == ("failed to resolve host '***': Name not known")
    readable = "postgresql://app:pw@127.0.0.1:5432/x"
    assert masked_line('password authentication failed for user "app"', readable) == (
        'password authentication failed for user "app"'
    )
    # The whole URL quoted back (libpq does, for some parse errors) is shown redacted.
    broken = "postgresql://app:pw@[::1/x"
    assert masked_line(f'end of string reached in URI: "{broken}"', broken) == (
        'end of string reached in URI: "postgresql://***@[::1/x"'
    )
    # A password outside quotes is masked there: a short one as a word of its own, a long one
    # anywhere.
    assert masked_line("FATAL: hunter2 is wrong", "postgresql://a:hunter2@h/x") == (
        "FATAL: *** is wrong"
    )
    assert masked_line("at xZq9xWv7kYbx", "postgresql://a:Zq9xWv7kYb@h/x") == "at x***x"


def test_a_password_that_is_a_common_word_leaves_the_cause_readable() -> None:
    # Withholding the message hid the most common failure from dev and CI set-ups.
    message = (
        'connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication'
        ' failed for user "app"'
    )
    line = masked_line(message, "postgresql://app:password@127.0.0.1:5432/x")
    assert line == (
        'connection to server at "127.0.0.1", port 5432 failed: FATAL:  *** authentication'
        ' failed for user "app"'
    )
    port = masked_line(
        'connection to server at "127.0.0.1", port 5432 failed: Connection refused',
        "postgresql://app:5432@127.0.0.1:5432/x",
    )
    assert port == 'connection to server at "127.0.0.1", port *** failed: Connection refused'


def test_a_malformed_url_gets_a_hint() -> None:
    assert url_is_malformed("postgresql://app:p@ss@db/x")
    assert url_is_malformed("postgresql://app:p%ZZ@db/x")
    assert not url_is_malformed("postgresql://app:s3cr#t@db/x")
    assert not url_is_malformed("postgresql://db/x")
    assert not url_is_malformed("host=db password=x")
    assert "percent-encode" in url_hint("postgresql://app:p@ss@db/x")
    assert url_hint("postgresql://app:p%40ss@db/x") == ""


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


@pytest.mark.parametrize(
    "password",
    ["Zq9x#Wv7k", "Zq9x?Wv7k", "Zq9x:Wv7k"],
    ids=["hash", "question-mark", "colon"],
)
@pytest.mark.integration
def test_a_password_libpq_reads_as_written_connects(pg_database: PgDatabase, password: str) -> None:
    # The test server trusts local connections: any password is accepted, and this shows
    # that libpq read the URL with the host, port and database as written.
    url = (
        f"postgresql://{pg_database.user}:{password}@{pg_database.host}:{pg_database.port}/"
        f"{pg_database.dbname}"
    )
    assert not url_is_malformed(url)
    with connect(Target("test", SecretStr(url), False, "5s", "1min")) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (pg_database.dbname,)
    assert redact_url(url) == (
        f"postgresql://{pg_database.user}:***@{pg_database.host}:{pg_database.port}/"
        f"{pg_database.dbname}"
    )


# --- timeouts -------------------------------------------------------------------------------


def test_an_integer_timeout_is_milliseconds(tmp_path: Path) -> None:
    (tmp_path / "plimsoll.toml").write_text(
        "[db]\nstatement_timeout = 2\nlock_timeout = 1500\n"
        "[db.environments.development]\nlock_timeout = 0\n"
        "[db.environments.ci]\nstatement_timeout = 30000\n"
    )
    loaded = load(start=tmp_path, env={})
    assert (loaded.config.db.lock_timeout, loaded.config.db.statement_timeout) == ("1500ms", "2ms")
    development = resolve(loaded, "development")
    assert (development.lock_timeout, development.statement_timeout) == ("0ms", "2ms")
    ci = resolve(loaded, "ci")
    assert (ci.lock_timeout, ci.statement_timeout) == ("1500ms", "30000ms")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("[db]\nlock_timeout = -1\n", "db.lock_timeout: must be 0 (no timeout) or more"),
        ("[db]\nstatement_timeout = true\n", "db.statement_timeout: Input should be a valid"),
        (
            "[db.environments.x]\nstatement_timeout = -5\n",
            "db.environments.x.statement_timeout: must be 0 (no timeout) or more",
        ),
    ],
)
def test_a_bad_timeout_names_its_key(tmp_path: Path, setting: str, message: str) -> None:
    (tmp_path / "plimsoll.toml").write_text(setting)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load(start=tmp_path, env={})


@pytest.mark.integration
def test_the_server_takes_an_integer_timeout_as_milliseconds(pg_database: PgDatabase) -> None:
    from plimsoll.core.config import DbConfig

    db = DbConfig.model_validate({"statement_timeout": 2, "lock_timeout": 1500})
    with pg_database.connect() as conn:
        conn.execute("SELECT set_config('statement_timeout', %s, false)", [db.statement_timeout])
        conn.execute("SELECT set_config('lock_timeout', %s, false)", [db.lock_timeout])
        shown = (
            conn.execute("SHOW statement_timeout").fetchone(),
            conn.execute("SHOW lock_timeout").fetchone(),
        )
    assert shown == (("2ms",), ("1500ms",))


# --- PG* variables ----------------------------------------------------------------------------


@pytest.fixture
def _warn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a fresh process would: nothing warned yet."""
    monkeypatch.setattr(connection, "_warned_pg_variables", [])
    for name in connection.PG_SERVER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("_warn_again")
def test_pg_variables_ignored_for_the_embedded_server_are_warned_about_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PGHOST", "db.ci.internal")
    loaded = _loaded(tmp_path, {})
    with caplog.at_level("WARNING", logger="plimsoll"):
        assert resolve(loaded).embedded
        assert resolve(loaded).embedded
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "PGHOST is set but plimsoll uses the embedded server for environment development; set"
        ' url = "postgresql://" in db.environments.development (libpq then reads PG* variables)'
        " to use it"
    ]


@pytest.mark.usefixtures("_warn_again")
def test_several_pg_variables_are_named_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PGDATABASE", "app")
    monkeypatch.setenv("PGSERVICE", "ci")
    monkeypatch.setenv("PGHOST", "db")
    with caplog.at_level("WARNING", logger="plimsoll"):
        resolve(_loaded(tmp_path, {}))
    assert (
        caplog.records[0]
        .getMessage()
        .startswith(
            "PGHOST, PGDATABASE and PGSERVICE are set but plimsoll uses the embedded server"
        )
    )


@pytest.mark.usefixtures("_warn_again")
def test_no_warning_with_a_url_or_without_pg_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="plimsoll"):
        resolve(_loaded(tmp_path, {}))  # embedded, no PG* variable
        monkeypatch.setenv("PGHOST", "db")
        monkeypatch.setenv("PGPORT", "5433")
        target = resolve(
            _loaded(tmp_path, {"environments": {"ci": {"url": "postgresql://"}}}), "ci"
        )
    assert caplog.records == []
    assert not target.embedded and target.url.get_secret_value() == "postgresql://"


@pytest.mark.integration
@pytest.mark.usefixtures("_warn_again")
def test_url_postgresql_scheme_alone_reads_the_pg_variables(
    pg_database: PgDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGHOST", pg_database.host)
    monkeypatch.setenv("PGPORT", str(pg_database.port))
    monkeypatch.setenv("PGUSER", pg_database.user)
    monkeypatch.setenv("PGDATABASE", pg_database.dbname)
    target = resolve(_loaded(tmp_path, {"environments": {"ci": {"url": "postgresql://"}}}), "ci")
    with connect(target) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (pg_database.dbname,)
