"""With ``--format json``, an error that stops a command is also a JSON document on stdout."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.cli.test_code_cli import plimsoll


@pytest.mark.parametrize(
    ("command", "fmt"),
    [
        (("db", "migrate", "status"), "json"),
        (("db", "lint"), "json"),
        (("code", "validate"), "json"),
        (("runtime", "alerts", "list"), "json"),
        (("check",), "json"),
    ],
)
def test_a_config_error_is_reported_as_json(
    tmp_path: Path, command: tuple[str, ...], fmt: str
) -> None:
    (tmp_path / "plimsoll.toml").write_text("[db]\nbogus = 1\n")
    done = plimsoll(tmp_path, *command, "--format", fmt, check=2)
    error = json.loads(done.stdout)["error"]
    assert error["kind"] == "config"
    assert error["exit_code"] == 2
    assert error["message"].endswith("plimsoll.toml: db.bogus: unknown key")
    # The person at the terminal still reads the one line on stderr.
    assert "plimsoll: error: " in done.stderr and "db.bogus: unknown key" in done.stderr


def test_text_output_keeps_stdout_empty(tmp_path: Path) -> None:
    (tmp_path / "plimsoll.toml").write_text("[db]\nbogus = 1\n")
    done = plimsoll(tmp_path, "db", "migrate", "status", check=2)
    assert done.stdout == ""


def test_an_unreachable_database_is_reported_as_json(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "plimsoll.toml").write_text(
        f'[db.environments.development]\nurl = "postgresql://u@127.0.0.1:{port}/d"\n'
    )
    (tmp_path / "db" / "migrations").mkdir(parents=True)
    done = plimsoll(tmp_path, "db", "migrate", "status", "-f", "json", check=3)
    error = json.loads(done.stdout)["error"]
    assert error["exit_code"] == 3
    assert f"127.0.0.1:{port}" in error["message"] or "connect" in error["message"]
