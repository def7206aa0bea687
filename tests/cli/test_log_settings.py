"""The ``[log]`` settings of the configuration, and the command-line options that win over them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.test_code_cli import plimsoll


def _project(root: Path, log: str, dsn: str) -> Path:
    (root / "plimsoll.toml").write_text(
        f'[db]\nmigrations_dir = "m"\ndefault_environment = "test"\n\n'
        f'[db.environments.test]\nurl = "{dsn}"\n\n[log]\n{log}\n'
    )
    (root / "m").mkdir()
    (root / "m" / "0001_a.up.sql").write_text("CREATE TABLE a (id bigint PRIMARY KEY);\n")
    # Starts like a migration but is not one: status warns about it (a log event).
    (root / "m" / "0002_typo.up.sq").write_text("SELECT 1;\n")
    return root


def test_log_format_json_from_the_config_and_the_option_winning(
    tmp_path: Path, pg_database: Any
) -> None:
    root = _project(tmp_path, 'format = "json"', pg_database.dsn)
    done = plimsoll(root, "db", "migrate", "status")
    event = json.loads(done.stderr.strip().splitlines()[0])
    assert event["event"] == "migration_file_misnamed" and event["level"] == "warning"

    text = plimsoll(root, "--log-format", "text", "db", "migrate", "status")
    assert "0002_typo.up.sq" in text.stderr
    assert not text.stderr.lstrip().startswith("{")


def test_log_level_error_from_the_config_hides_warnings(tmp_path: Path, pg_database: Any) -> None:
    root = _project(tmp_path, 'level = "error"', pg_database.dsn)
    assert "0002_typo" not in plimsoll(root, "db", "migrate", "status").stderr
    # --debug wins over the configured level.
    assert "0002_typo" in plimsoll(root, "--debug", "db", "migrate", "status").stderr
