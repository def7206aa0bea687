"""``--debug`` adds the traceback to an error; the exit code stays the documented one."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_code_cli import plimsoll


def test_debug_keeps_the_exit_code_of_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "plimsoll.toml").write_text("[db]\nbogus = 1\n")
    plain = plimsoll(tmp_path, "db", "migrate", "status", check=2)
    assert "Traceback" not in plain.stderr
    debug = plimsoll(tmp_path, "--debug", "db", "migrate", "status", check=2)
    assert "Traceback (most recent call last)" in debug.stderr
    assert "plimsoll: error: " in debug.stderr and "db.bogus: unknown key" in debug.stderr


def test_debug_keeps_the_exit_code_of_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "db" / "migrations").mkdir(parents=True)
    done = plimsoll(tmp_path, "--debug", "db", "lint", "--pg-version", "3", check=2)
    assert "Traceback (most recent call last)" in done.stderr
