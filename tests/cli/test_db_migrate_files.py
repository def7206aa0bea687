"""``plimsoll db migrate`` and ``db diff --generate`` when files cannot be written or read.

Real failures, not simulated ones: a tmpfs out of inodes or mounted read-only (root only;
skipped elsewhere), files made unreadable with ``chmod 000`` (as root, run without the
capabilities that bypass file permissions), a folder where a migration file should be.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.cli.test_db_migrate_failures import _project
from tests.support.postgres import PgDatabase

TWO_PAIRS = {
    "0001_a.up.sql": "CREATE TABLE a (id int);\n",
    "0001_a.down.sql": "DROP TABLE a;\n",
    "0002_b.up.sql": "CREATE TABLE b (id int);\n",
    "0002_b.down.sql": "DROP TABLE b;\n",
}

# Root without the capabilities that read and write past file permissions, as any other
# user: chmod 000 then means what it says.
_SETPRIV = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


def _command(
    root: Path, *args: str, unprivileged: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run plimsoll in ``root`` (as a user that file permissions apply to, if asked)."""
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv is needed to drop root's file-permission capabilities")
        prefix = _SETPRIV
    return subprocess.run(
        [*prefix, sys.executable, "-m", "plimsoll", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CI": "true"},
    )


def _one_line_error(done: subprocess.CompletedProcess[str], expected: str) -> None:
    """Exit 2, and stderr is one line: the error, containing ``expected``."""
    assert done.returncode == 2, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], done.stderr


@contextmanager
def _tmpfs(folder: Path, options: str) -> Iterator[None]:
    """A tmpfs mounted on ``folder`` for the block, what ``folder`` held copied into it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    kept = {p.name: p.read_bytes() for p in folder.iterdir()}
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        for name, data in kept.items():
            (folder / name).write_bytes(data)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _leave_one_inode(folder: Path) -> None:
    """Use up the inodes of the tmpfs at ``folder`` but one (with dot-files, which a
    migrations folder ignores): room for one new file, not two."""
    for number in range(64):
        if os.statvfs(folder).f_ffree <= 1:
            break
        (folder / f".filler{number}").touch()
    assert os.statvfs(folder).f_ffree == 1


def _applied(dsn: str) -> list[str]:
    """The versions in the tracking table (none before it exists)."""
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('plimsoll_migrations')").fetchone() == (None,):
            return []
        rows = conn.execute("SELECT version FROM plimsoll_migrations ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".filler"))


def test_generate_on_a_full_disk_writes_neither_file(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, TWO_PAIRS)
    folder = root / "m"
    with _tmpfs(folder, "size=1m,nr_inodes=64"):
        _leave_one_inode(folder)
        done = _command(root, "db", "migrate", "generate", "foo")
        _one_line_error(done, "0003_foo.down.sql: cannot write: No space left on device")
        assert _listing(folder) == sorted(TWO_PAIRS)
    # Nothing half-written for up to apply: the folder validates and migrates as before.
    assert _command(root, "db", "migrate", "validate").returncode == 0
    assert _command(root, "db", "migrate", "up").returncode == 0
    assert _applied(pg_database.dsn) == ["0001", "0002"]


def test_generate_in_a_read_only_folder_is_a_usage_error(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, TWO_PAIRS)
    folder = root / "m"
    with _tmpfs(folder, "size=1m"):
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        done = _command(root, "db", "migrate", "generate", "foo", "-f", "json")
        _one_line_error(done, "0003_foo.up.sql: cannot write: Read-only file system")
        assert json.loads(done.stdout)["error"]["exit_code"] == 2
        assert _listing(folder) == sorted(TWO_PAIRS)


def test_diff_generate_on_a_full_disk_writes_neither_file(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, TWO_PAIRS)
    (root / "db" / "schema").mkdir(parents=True)
    (root / "db" / "schema" / "tables.sql").write_text("CREATE TABLE users (id int);\n")
    folder = root / "m"
    args = ("db", "diff", "--from", "development", "--to", "built", "--generate", "init_all")
    with _tmpfs(folder, "size=1m,nr_inodes=64"):
        _leave_one_inode(folder)
        done = _command(root, *args)
        _one_line_error(done, "0003_init_all.down.sql: cannot write: No space left on device")
        assert _listing(folder) == sorted(TWO_PAIRS)
    # With room, the same command writes the pair (exit 1: the schemas differ).
    assert _command(root, *args).returncode == 1
    assert "CREATE TABLE public.users" in (folder / "0003_init_all.up.sql").read_text()
    assert "DROP TABLE public.users" in (folder / "0003_init_all.down.sql").read_text()


def test_generate_without_a_migrations_folder_says_to_run_init(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    # No configuration and no db/ at all, as in a folder where `db init` was never run.
    bare = tmp_path / "bare"
    bare.mkdir()
    expected = "migrations folder not found (run `plimsoll db init`)"
    _one_line_error(_command(bare, "db", "migrate", "generate", "x"), expected)
    _one_line_error(_command(bare, "db", "migrate", "status"), expected)
    assert list(bare.iterdir()) == []
    # A configured project whose migrations folder is gone: the same, nothing created.
    root = _project(tmp_path / "p", pg_database.dsn, {})
    (root / "m").rmdir()
    _one_line_error(_command(root, "db", "migrate", "generate", "x"), expected)
    assert not (root / "m").exists()


MIGRATE_COMMANDS = [
    ("validate",),
    ("validate", "--env", "development"),
    ("status",),
    ("up",),
    ("down",),
    ("generate", "next"),
]


@pytest.mark.parametrize("command", MIGRATE_COMMANDS, ids=" ".join)
def test_an_unreadable_migration_is_a_usage_error_naming_it(
    pg_database: PgDatabase, tmp_path: Path, command: tuple[str, ...]
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, TWO_PAIRS)
    assert _command(root, "db", "migrate", "up", "--target", "0001").returncode == 0
    locked = root / "m" / "0002_b.up.sql"
    locked.chmod(0)
    done = _command(root, "db", "migrate", *command, unprivileged=True)
    _one_line_error(done, f"{locked}: cannot read: Permission denied")
    assert _applied(pg_database.dsn) == ["0001"]
    assert sorted(p.name for p in (root / "m").iterdir()) == sorted(TWO_PAIRS)


@pytest.mark.parametrize("command", [("validate",), ("down", "--steps", "2")], ids=" ".join)
def test_an_unreadable_down_file_is_a_usage_error_before_anything_is_reverted(
    pg_database: PgDatabase, tmp_path: Path, command: tuple[str, ...]
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, TWO_PAIRS)
    assert _command(root, "db", "migrate", "up").returncode == 0
    locked = root / "m" / "0001_a.down.sql"
    locked.chmod(0)
    done = _command(root, "db", "migrate", *command, unprivileged=True)
    _one_line_error(done, f"{locked}: cannot read: Permission denied")
    # `down --steps 2` would revert 0002 first, then need 0001's: it reverts nothing.
    assert _applied(pg_database.dsn) == ["0001", "0002"]


@pytest.mark.parametrize("command", MIGRATE_COMMANDS, ids=" ".join)
def test_a_folder_named_like_a_migration_is_a_usage_error(
    pg_database: PgDatabase, tmp_path: Path, command: tuple[str, ...]
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, TWO_PAIRS)
    assert _command(root, "db", "migrate", "up", "--target", "0001").returncode == 0
    (root / "m" / "0005_dir.up.sql").mkdir()
    done = _command(root, "db", "migrate", *command)
    _one_line_error(done, f"{root / 'm' / '0005_dir.up.sql'}: is a folder, not a migration file")
    assert _applied(pg_database.dsn) == ["0001"]


def test_an_unreadable_migrations_folder_is_a_usage_error(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, TWO_PAIRS)
    (root / "m").chmod(0)
    try:
        for command in MIGRATE_COMMANDS:
            done = _command(root, "db", "migrate", *command, unprivileged=True)
            _one_line_error(done, f"{root / 'm'}: cannot read: Permission denied")
    finally:
        (root / "m").chmod(0o755)
    assert _applied(pg_database.dsn) == []
