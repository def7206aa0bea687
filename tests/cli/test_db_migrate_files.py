"""``plimsoll db migrate`` and ``db diff --generate`` with awkward files and URLs.

Real failures, not simulated ones: a tmpfs out of inodes or mounted read-only (root only;
skipped elsewhere), files made unreadable with ``chmod 000`` (as root, run without the
capabilities that bypass file permissions), a folder where a migration file should be.
Then what editors and people write: byte-order marks, re-saved line endings, subfolders,
odd versions and names, and passwords that break a URL.
"""

from __future__ import annotations

import hashlib
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
    root: Path, *args: str, unprivileged: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run plimsoll in ``root`` (as a user that file permissions apply to, if asked; with
    ``env`` added to the environment)."""
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
        env={**os.environ, "CI": "true", **(env or {})},
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


# --- passwords that break a URL -------------------------------------------------------------

# Each piece is unique: finding one in any output is a leak of (part of) the password.
PIECES = ("Zq9x", "Wv7k", "Yb3m", "Rt5n")


@pytest.mark.parametrize(
    "password",
    [
        "Zq9x#Wv7k",  # libpq reads it as written: the commands work
        "Zq9x@Wv7k:Yb3m/Rt5n%1?#",
        "Zq9x%ZZWv7k",
    ],
)
def test_no_command_shows_a_password_that_breaks_the_url(
    pg_database: PgDatabase, tmp_path: Path, password: str
) -> None:
    # More passwords and URL forms are tried on the connection itself in
    # tests/db/test_connection.py; here, what the commands print, end to end. Under --format
    # json a failure is said twice: as text on stderr and as a JSON document on stdout.
    root = _project(tmp_path / "p", "${DATABASE_URL}", TWO_PAIRS)
    db = pg_database
    nasty = f"postgresql://{db.user}:{password}@{db.host}:{db.port}/{db.dbname}"
    readable = password == "Zq9x#Wv7k"  # libpq reads "#" as part of a password
    runs = []
    for fmt in ("text", "json") if readable else ("json",):
        for command in (("db", "migrate", "status"), ("db", "migrate", "up")):
            runs.append(_command(root, *command, "-f", fmt, env={"DATABASE_URL": nasty}))
        diff = ("db", "diff", "--from", nasty, "--to", "development", "-f", fmt)
        runs.append(_command(root, *diff, env={"DATABASE_URL": db.dsn}))
    for done in runs:
        output = done.stdout + done.stderr
        assert [piece for piece in PIECES if output.count(piece)] == [], output
        assert "Traceback" not in output and "internal error" not in output
        if "json" in done.args:
            json.loads(done.stdout)
    if readable:
        assert [done.returncode for done in runs] == [0] * 6
        assert _applied(db.dsn) == ["0001", "0002"]
        return
    assert _applied(db.dsn) == []
    for done in runs:
        assert done.returncode in (2, 3)
        assert f"postgresql://***@{db.host}:{db.port}/{db.dbname}" in done.stderr
        assert "percent-encode" in done.stderr
        # The JSON error document, or `up`'s own report with its error.
        error = json.loads(done.stdout)["error"]
        assert "***" in (error["message"] if isinstance(error, dict) else error)


# --- what editors write ---------------------------------------------------------------------

BOM = b"\xef\xbb\xbf"


def test_a_byte_order_mark_is_dropped_as_psql_drops_it(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, {})
    folder = root / "m"
    (folder / "0001_bom.up.sql").write_bytes(BOM + b"CREATE TABLE bom (id int);\r\n")
    (folder / "0001_bom.down.sql").write_bytes(BOM + b"DROP TABLE bom;\r\n")
    (folder / "0002_py.py").write_bytes(
        BOM + b"def up(conn):\n    conn.execute('CREATE TABLE py (id int)')\n\n\n"
        b"def down(conn):\n    conn.execute('DROP TABLE py')\n"
    )
    validated = _command(root, "db", "migrate", "validate", "-f", "json")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert json.loads(validated.stdout)["problems"] == []
    # The risk assessment (and so `up --yes --max-risk`) parses the files as up does.
    risk = _command(root, "db", "risk", "-f", "json")
    assert risk.returncode == 0, risk.stdout + risk.stderr
    assert [m["label"] for m in json.loads(risk.stdout)["migrations"]] == ["0001_bom", "0002_py"]
    assert _command(root, "db", "migrate", "up").returncode == 0
    assert _applied(pg_database.dsn) == ["0001", "0002"]
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('bom'), to_regclass('py')").fetchone() == (
            "bom",
            "py",
        )
        (stored,) = conn.execute(
            "SELECT checksum FROM plimsoll_migrations WHERE version = '0001'"
        ).fetchone()
    # The checksum stays that of the file's bytes, mark included.
    assert stored == hashlib.sha256((folder / "0001_bom.up.sql").read_bytes()).hexdigest()
    assert _command(root, "db", "migrate", "down", "--steps", "2").returncode == 0
    assert _applied(pg_database.dsn) == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (b"CREATE TABLE t (id int);\r\nSELECT 1;\r\n", b"CREATE TABLE t (id int);\nSELECT 1;\n"),
        (b"CREATE TABLE t (id int);\nSELECT 1;\n", b"CREATE TABLE t (id int);\r\nSELECT 1;\r\n"),
    ],
    ids=["crlf-to-lf", "lf-to-crlf"],
)
def test_re_saving_an_applied_file_is_not_a_change(
    pg_database: PgDatabase, tmp_path: Path, before: bytes, after: bytes
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, {})
    up = root / "m" / "0001_t.up.sql"
    up.write_bytes(before)
    assert _command(root, "db", "migrate", "up").returncode == 0
    up.write_bytes(after)
    (root / "m" / "0002_u.up.sql").write_text("CREATE TABLE u (id int);\n")
    status = _command(root, "db", "migrate", "status", "-f", "json")
    assert status.returncode == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)["drift"] == []
    assert "changed" not in status.stderr
    # up is not refused, and says nothing about the re-saved file.
    done = _command(root, "db", "migrate", "up")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert _applied(pg_database.dsn) == ["0001", "0002"]
    # A real change is still one.
    up.write_bytes(after.replace(b"int", b"bigint"))
    changed = _command(root, "db", "migrate", "status")
    assert changed.returncode == 1 and "0001_t: changed since it was applied" in changed.stdout


def test_a_subfolder_of_migrations_is_warned_about_by_every_command(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, TWO_PAIRS)
    archive = root / "m" / "archive"
    archive.mkdir()
    (archive / "0003_c.up.sql").write_text("CREATE TABLE c (id int);\n")
    warning = (
        f"{archive}: a subfolder holding a file named like a migration (0003_c.up.sql): it"
        f" is never applied; migrations are the files directly in {root / 'm'} (move it"
        " there to apply it)"
    )
    for command in (("status",), ("up",), ("validate",)):
        done = _command(root, "db", "migrate", *command)
        assert done.returncode == 0, done.stdout + done.stderr
        assert warning in " ".join((done.stdout + done.stderr).split()), done.stderr
    assert _applied(pg_database.dsn) == ["0001", "0002"]
    problems = json.loads(_command(root, "db", "migrate", "validate", "-f", "json").stdout)
    assert {"file": str(archive), "severity": "warning"}.items() <= problems["problems"][0].items()


# --- versions and names ---------------------------------------------------------------------


def test_baseline_names_its_argument(pg_database: PgDatabase, tmp_path: Path) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, TWO_PAIRS)
    for version in ("-1", "1e3"):
        done = _command(root, "db", "migrate", "baseline", "--", version)
        _one_line_error(done, f"baseline {version}: not a migration version (digits 0-9 and dots")
        assert "--target" not in done.stderr


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"0001_a.up.sql": "", "٢٠٣٠_arabic.up.sql": ""},
            "٢٠٣٠_arabic.up.sql: not a migration name",
        ),
        (
            {"01_a.up.sql": "", "1_b.up.sql": ""},
            "duplicate migration version: 01_a.up.sql and 1_b.up.sql have versions 01 and 1,"
            " which are one number; rename one of them",
        ),
    ],
    ids=["arabic-digits", "one-and-zero-one"],
)
def test_versions_are_ascii_and_trailing_zeros_do_not_count(
    pg_database: PgDatabase, tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, files)
    for command in (("validate",), ("up",)):
        _one_line_error(_command(root, "db", "migrate", *command), expected)


def test_generate_makes_a_name_of_words_and_says_the_rule(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, TWO_PAIRS)
    done = _command(root, "db", "migrate", "generate", "add users table", "-f", "json")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert Path(made["up"]).name == "0003_add_users_table.up.sql"
    assert Path(made["up"]).is_file() and Path(made["down"]).is_file()
    refused = _command(root, "db", "migrate", "generate", "--", "-foo")
    _one_line_error(refused, "must start with a letter or a digit (then letters, digits")
    assert "use letters, digits" not in refused.stderr
    assert sorted(p.name for p in (root / "m").iterdir()) == sorted(
        [*TWO_PAIRS, "0003_add_users_table.up.sql", "0003_add_users_table.down.sql"]
    )


def test_an_integer_statement_timeout_is_milliseconds(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    root = _project(
        tmp_path / "p",
        pg_database.dsn,
        {"0001_slow.up.sql": "SELECT pg_sleep(0.5);\n"},
        extra="",
    )
    config = root / "plimsoll.toml"
    config.write_text(
        config.read_text().replace("[db]\n", "[db]\nstatement_timeout = 20\nlock_timeout = 1500\n")
    )
    done = _command(root, "db", "migrate", "up")
    # 20 ms: the half-second statement is cancelled by the server.
    assert done.returncode == 1, done.stdout + done.stderr
    assert "canceling statement due to statement timeout" in done.stderr
    assert _applied(pg_database.dsn) == []
