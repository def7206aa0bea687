"""Every command's ``--help`` reads well in an 80-column terminal."""

from __future__ import annotations

import re

import pytest
import typer.main
from typer.testing import CliRunner

from plimsoll.cli.main import app


def _commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = _commands()


def _help(path: tuple[str, ...]) -> str:
    done = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert done.exit_code == 0, done.output
    return done.output


def test_every_command_is_walked() -> None:
    assert ("db", "migrate", "up") in COMMANDS and ("code", "collect") in COMMANDS
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "plimsoll")
def test_no_python_types_in_help(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert not re.search(r"<(str|bool|list\[[^>]*\])>", text), text


def test_paragraphs_are_reflowed_to_the_terminal() -> None:
    # The docstring breaks this paragraph after "INVALID index"; the help must not.
    text = _help(("db", "migrate", "status"))
    assert re.search(r"INVALID index \(a partitioned", text), text
    assert "--target VERSION" in re.sub(r"\s+", " ", _help(("db", "migrate", "up")))
