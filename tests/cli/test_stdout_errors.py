"""What plimsoll writes: output that cannot be written, a reader that goes away, help listings.

A failed write to stdout (a full disk, /dev/full) ends the command with one line and exit 3,
whatever its own result; a closed pipe stays quiet. Real processes write to real files: the
/dev/full device, a tiny tmpfs (mounted when the tests run as root), a pipe closed early.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from tests.support.cli import COMMAND, ENV

NO_SPACE = "plimsoll: error: cannot write the output: No space left on device"


@pytest.fixture
def sql_project(tmp_path: Path) -> Path:
    """A project whose lint reports are large (one finding per index) and whose build is too."""
    root = tmp_path / "project"
    (root / "db" / "migrations").mkdir(parents=True)
    (root / "db" / "schema").mkdir()
    (root / "plimsoll.toml").write_text("")
    lines = ["CREATE TABLE t (id bigint PRIMARY KEY, c int);"]
    lines += [f"CREATE INDEX i_{n} ON t (c);" for n in range(3000)]
    script = "\n".join(lines) + "\n"
    (root / "db" / "migrations" / "0001_t.up.sql").write_text(script)
    (root / "db" / "migrations" / "0001_t.down.sql").write_text("DROP TABLE t;\n")
    (root / "db" / "schema" / "t.sql").write_text(script)
    return root


def _run_into(cwd: Path, target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run plimsoll with stdout written to ``target`` (opened as a shell redirect would)."""
    with target.open("w") as out:
        return subprocess.run(
            [*COMMAND, *args],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
            timeout=120,
            check=False,
        )


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("db", "lint", "--format", "sarif"),  # a command that exits 1 (findings) on its own
        ("db", "build"),  # one that exits 0 on its own
        ("code", "--help"),
    ],
    ids=["lint-sarif", "build", "help"],
)
def test_a_full_device_is_one_line_and_exit_3(sql_project: Path, args: tuple[str, ...]) -> None:
    done = _run_into(sql_project, Path("/dev/full"), *args)
    assert done.returncode == 3, done.stderr
    assert _one_line(done.stderr.replace(_built_line(done.stderr), "")) == NO_SPACE


def _built_line(stderr: str) -> str:
    # `db build` says what it built on stderr (its stdout is the script): not an error line.
    found = re.search(r"^built \d+ files?, .*\n", stderr, re.MULTILINE)
    return found.group(0) if found else ""


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB tmpfs: writes past it fail with ENOSPC after some have succeeded."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where = tmp_path / "full"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.parametrize(
    ("args", "own_status"),
    [(("db", "lint", "--format", "sarif"), 1), (("db", "lint", "--format", "json"), 1)],
    ids=["sarif", "json"],
)
def test_a_disk_that_fills_up_mid_way_is_reported(
    sql_project: Path, tiny_disk: Path, args: tuple[str, ...], own_status: int
) -> None:
    # What the command prints when it can write it all: far more than the disk holds.
    whole = subprocess.run(
        [*COMMAND, *args], cwd=sql_project, capture_output=True, text=True, env=ENV, check=False
    )
    assert whole.returncode == own_status and len(whole.stdout) > 100_000
    target = tiny_disk / "report"
    done = _run_into(sql_project, target, *args)
    assert done.returncode == 3
    assert _one_line(done.stderr) == NO_SPACE
    written = target.read_bytes()
    assert 0 < len(written) < len(whole.stdout)
    # What did fit is the output's beginning (later on, a duration differs from run to run).
    assert written[:64] == whole.stdout.encode()[:64]


def test_the_build_script_on_a_full_disk_exits_3_not_0(sql_project: Path, tiny_disk: Path) -> None:
    whole = subprocess.run(
        [*COMMAND, "db", "build"], cwd=sql_project, capture_output=True, text=True, env=ENV
    )
    assert whole.returncode == 0 and len(whole.stdout) > 50_000
    done = _run_into(sql_project, tiny_disk / "build.sql", "db", "build")
    assert done.returncode == 3
    assert NO_SPACE in done.stderr.splitlines()
    assert "Traceback" not in done.stderr


def test_a_reader_that_stops_early_gets_no_error(sql_project: Path) -> None:
    # `plimsoll db build | head -c 100`: the pipe closes while the script is being written.
    process = subprocess.Popen(
        [*COMMAND, "db", "build"],
        cwd=sql_project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    assert process.stdout is not None and process.stderr is not None
    head = process.stdout.read(100)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    status = process.wait(timeout=60)
    assert head.startswith(b"-- plimsoll db build")
    # The command's own result stands; nothing but its own summary line on stderr.
    assert status == 0, stderr
    assert re.match(r"built 1 files?, 3001 statements", stderr), stderr
    assert len(stderr.splitlines()) == 1, stderr


# -- help listings ----------------------------------------------------------------------------


def _groups() -> list[tuple[tuple[str, ...], typer.core.TyperGroup]]:
    from plimsoll.cli.main import app

    found: list[tuple[tuple[str, ...], typer.core.TyperGroup]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        if isinstance(command, typer.core.TyperGroup):
            found.append((path, command))
            for name, sub in command.commands.items():
                walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


GROUPS = _groups()


def test_every_group_is_walked() -> None:
    paths = [path for path, _ in GROUPS]
    assert {(), ("code",), ("db",), ("db", "migrate"), ("runtime",)} <= set(paths)


@pytest.mark.parametrize("path", [p for p, _ in GROUPS], ids=lambda p: " ".join(p) or "plimsoll")
def test_a_group_lists_each_command_on_one_line(path: tuple[str, ...]) -> None:
    from plimsoll.cli.main import app

    group = dict(GROUPS)[path]
    # Wide enough that no description needs folding: each command is then exactly one row.
    done = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "1000", "NO_COLOR": "1"})
    assert done.exit_code == 0, done.output
    panel = done.output.split("Commands ─", 1)[1].split("╰", 1)[0]
    rows = [line for line in panel.splitlines()[1:] if line.strip("│ ")]
    listed = {name: c for name, c in group.commands.items() if not c.hidden}
    assert len(rows) == len(listed), panel
    for row, (name, command) in zip(rows, listed.items(), strict=True):
        first = inspect.cleandoc(command.help or "").split("\n\n")[0]
        expected = " ".join(line.strip() for line in first.splitlines())
        assert row.strip("│ ").split(None, 1) == [name, expected], row


def test_unbuffered_output_stays_unbuffered_and_in_order_with_stderr() -> None:
    # python -u / PYTHONUNBUFFERED=1 (CI images set it): what a hook prints must reach the log
    # when printed, not at exit after everything written to stderr.
    script = (
        "import sys\n"
        "from plimsoll.cli import output\n"
        "output.guard_streams()\n"
        "print('out 1')\n"
        "print('err 1', file=sys.stderr)\n"
        "print('out 2')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == ["out 1", "err 1", "out 2"]
