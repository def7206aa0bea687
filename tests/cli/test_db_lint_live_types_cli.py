"""``plimsoll db lint FILE --env E``: statement rules judge a change by the live database's
column types and domains (the reviewer's ``t2proj``: a varchar(50) widened, a checked domain
added)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_code_cli import plimsoll
from tests.support.postgres import PgDatabase


def test_env_gives_the_live_types_to_the_statement_rules(
    tmp_path: Path, pg_database: PgDatabase
) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(
            "CREATE DOMAIN us_zip2 AS text CHECK (VALUE ~ '^[0-9]{5}$');"
            "CREATE TABLE items (id bigint PRIMARY KEY, name varchar(50), qty integer)"
        )
    (tmp_path / "plimsoll.toml").write_text(
        f"[db.environments.live]\nurl = {json.dumps(pg_database.dsn)}\n", encoding="utf-8"
    )
    (tmp_path / "alter.sql").write_text(
        "SET lock_timeout = '2s';\nSET statement_timeout = '1min';\nBEGIN;\n"
        "ALTER TABLE items ALTER COLUMN name TYPE varchar(100);\n"
        "ALTER TABLE items ALTER COLUMN qty TYPE bigint;\n"
        "ALTER TABLE items ADD COLUMN zip us_zip2;\n"
        "COMMIT;\n",
        encoding="utf-8",
    )
    rules = "changing-column-type,adding-field-with-default"
    args = ("db", "lint", "alter.sql", "--select", rules, "-f", "json")
    live = json.loads(plimsoll(tmp_path, *args, "--env", "live", check=1).stdout)
    found = [(f["rule"], f["line"], f["message"]) for f in live["findings"]]
    assert [(rule, line) for rule, line, _ in found] == [
        ("changing-column-type", 5),
        ("adding-field-with-default", 6),
    ]
    assert found[0][2].endswith("(integer to bigint is not binary-coercible)")
    assert "domain public.us_zip2, which has constraints" in found[1][2]
    # Without the database, the old types are unknown: both changes are reported as such,
    # and the domain is a name it knows nothing of.
    files = json.loads(plimsoll(tmp_path, *args, check=1).stdout)
    assert [(f["rule"], f["line"]) for f in files["findings"]] == [
        ("changing-column-type", 4),
        ("changing-column-type", 5),
    ]
    assert "name's type today is not in the linted migrations" in files["findings"][0]["message"]
