"""``plimsoll db migrate up --interactive`` in a real pseudo-terminal, and the ``--yes`` gate.

The wizard is driven through pexpect (a real pty: stdin is a terminal, rich draws its panels and
progress bars) against a real PostgreSQL holding a table big enough that rewriting it is HIGH
risk. The gate and the usage errors run as plain subprocesses (no terminal).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.support.postgres import PgDatabase

# The real `plimsoll` entry point with `db migrate up` given --interactive, --yes and --max-risk
# the way db_migrate.py wires them (a copy of that diff); harmless once it is wired there.
_RUNNER = """
import sys
from pathlib import Path
from typing import Annotated

import typer

from plimsoll.cli import db_migrate, main
from plimsoll.cli.output import Format


def up(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Option("--target")] = None,
    allow_changed: Annotated[bool, typer.Option("--allow-changed")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    interactive: Annotated[bool, typer.Option("--interactive", "-i")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y")] = False,
    max_risk: Annotated[str | None, typer.Option("--max-risk", metavar="LEVEL")] = None,
    env: db_migrate.EnvOpt = None,
    fmt: db_migrate.FormatOpt = Format.TEXT,
    path: db_migrate.PathOpt = None,
) -> None:
    if interactive or yes or max_risk is not None:
        from plimsoll.core.errors import UsageError

        if dry_run:
            raise UsageError(
                "--dry-run cannot be combined with --interactive, --yes or --max-risk"
            )
        from plimsoll.cli.db_migrate_interactive import interactive_up

        interactive_up(
            ctx, env, yes, max_risk, fmt, interactive=interactive, target=target,
            allow_changed=allow_changed, path=path,
        )
        return
    db_migrate.up(
        ctx, target=target, allow_changed=allow_changed, dry_run=dry_run, env=env, fmt=fmt,
        path=path,
    )


for info in db_migrate.app.registered_commands:
    if info.callback is db_migrate.up:
        info.callback = up
sys.argv = ['plimsoll', *sys.argv[1:]]
main.run()
"""

# Wide enough that no prompt or message the test waits for is wrapped.
COLUMNS = 200
ROWS = 250_000


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "FORCE_COLOR")}
    env.update(NO_COLOR="1", COLUMNS=str(COLUMNS), LINES="60", TERM="xterm")
    return env


def plimsoll(cwd: Path, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    """Run the patched ``plimsoll`` without a terminal (stdin from /dev/null)."""
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**_env(), "CI": "true"},
        timeout=120,
    )
    if check is not None:
        assert done.returncode == check, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


MIGRATIONS = {
    "0001_create_notes.up.sql": "CREATE TABLE notes (id bigint PRIMARY KEY, body text);\n",
    "0001_create_notes.down.sql": "DROP TABLE notes;\n",
    "0002_index_notes.up.sql": "CREATE INDEX notes_body ON notes (body);\n",
    "0003_add_token.up.sql": (
        "-- every row gets its own token: a volatile default rewrites the table\n"
        "ALTER TABLE accounts ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"
    ),
    "0003_add_token.down.sql": "ALTER TABLE accounts DROP COLUMN token;\n",
    "0004_drop_legacy.up.sql": "DROP TABLE legacy;\n",
}


@pytest.fixture
def project(tmp_path: Path, pg_database: PgDatabase) -> Iterator[Path]:
    """A project migrating ``pg_database``, which holds a 120 MB ``accounts`` table and views."""
    root = tmp_path / "service"
    folder = root / "db" / "migrations"
    folder.mkdir(parents=True)
    (root / "plimsoll.toml").write_text(
        f'[db.environments.development]\nurl = "{pg_database.dsn}"\n'
    )
    for name, text in MIGRATIONS.items():
        (folder / name).write_text(text)
    with pg_database.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, payload text NOT NULL)")
        conn.execute(
            "INSERT INTO accounts SELECT g, repeat('x', 400) FROM generate_series(1, %s) g",
            (ROWS,),
        )
        conn.execute("ANALYZE accounts")
        # Views on the table: dependents that the rewrite's lock also stops.
        for number in range(5):
            conn.execute(f"CREATE VIEW accounts_v{number} AS SELECT id FROM accounts")
        conn.execute("CREATE TABLE legacy (id int)")
    yield root


def _applied(db: PgDatabase) -> list[str]:
    with db.connect() as conn:
        if conn.execute("SELECT to_regclass('plimsoll_migrations')").fetchone() == (None,):
            return []
        rows = conn.execute("SELECT version FROM plimsoll_migrations ORDER BY version").fetchall()
    return [row[0] for row in rows]


def _columns(db: PgDatabase, table: str) -> list[str]:
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    return [row[0] for row in rows]


def _exists(db: PgDatabase, relation: str) -> bool:
    with db.connect() as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (relation,)).fetchone()
    return bool(row and row[0])


def test_walks_applies_skips_confirms_and_aborts_in_a_terminal(
    project: Path, pg_database: PgDatabase
) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-c", _RUNNER, "db", "migrate", "up", "--interactive"],
        cwd=str(project),
        env=_env(),
        encoding="utf-8",
        timeout=90,
        dimensions=(60, COLUMNS),
    )
    try:
        # 1: a new table, LOW: applied at once.
        child.expect(r"0001_create_notes\S* \(1 of 4\)")
        child.expect(r"0001_create_notes: \(a\)pply, \(d\)ry-run first, \(s\)kip, \(q\) abort\?")
        preview = child.before
        assert "CREATE TABLE notes" in preview and "down: db/migrations/0001" in preview
        assert "LOW" in preview
        child.sendline("a")
        child.expect(r"applied 0001_create_notes in \d+ ms")

        # 2: no down migration; skipped.
        child.expect(r"0002_index_notes: \(a\)pply")
        assert "irreversible" in child.before
        child.sendline("s")
        child.expect("skipped 0002_index_notes: it stays pending")

        # 3: rewrites 120 MB under ACCESS EXCLUSIVE: HIGH; dry-run first, then typed name.
        child.expect(r"0003_add_token\S* \(3 of 4\)")
        child.expect(r"0003_add_token: \(a\)pply")
        preview = child.before
        assert "ACCESS EXCLUSIVE" in preview and "reads+writes" in preview
        assert "HIGH" in preview or "CRITICAL" in preview
        assert "add the column without a default" in preview  # the recommendation
        assert "skipped before: 0002_index_notes" in preview
        child.sendline("d")
        child.expect("the dry run takes the same locks on accounts")
        child.expect(r"dry run took \d+ ms \(predicted ")
        child.expect("rolled back: nothing was kept")
        child.expect(r"0003_add_token: \(a\)pply")
        child.sendline("a")
        child.expect("type the table it locks, accounts, to apply it")
        child.sendline("account")
        child.expect("'account' is not 'accounts': 0003_add_token was not applied")
        child.expect("type the table it locks, accounts, to apply it")
        child.sendline("")
        child.expect("not confirmed: 0003_add_token was not applied")
        child.expect(r"0003_add_token: \(a\)pply")
        assert "token" not in _columns(pg_database, "accounts")  # refused so far
        child.sendline("a")
        child.expect("type the table it locks, accounts, to apply it")
        child.sendline("accounts")
        # Live progress: the statement running, then the finished bar.
        child.expect("applying 0003_add_token line 2: ALTER TABLE accounts ADD COLUMN token")
        child.expect(r"0003_add_token done[^\r\n]* 1/1")
        child.expect(r"applied 0003_add_token in \d+ ms")

        # 4: aborted; then the summary.
        child.expect(r"0004_drop_legacy: \(a\)pply")
        child.sendline("q")
        child.expect("aborted at 0004_drop_legacy")
        child.expect("summary")
        child.expect("applied 2, skipped 1, aborted at 0004_drop_legacy")
        summary = child.before
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 1, summary  # aborted
    assert "applied (after a dry run)" in summary
    assert _applied(pg_database) == ["0001", "0003"]
    assert "token" in _columns(pg_database, "accounts")
    assert not _exists(pg_database, "notes_body") and _exists(pg_database, "legacy")


def test_interactive_without_a_terminal_exits_2(project: Path, pg_database: PgDatabase) -> None:
    done = plimsoll(project, "db", "migrate", "up", "--interactive", check=2)
    assert "--interactive needs a terminal, and stdin is not one" in done.stderr
    assert "Traceback" not in done.stderr
    assert _applied(pg_database) == []
    both = plimsoll(project, "db", "migrate", "up", "--interactive", "--yes", check=2)
    assert "give one of them" in both.stderr
    bad = plimsoll(project, "db", "migrate", "up", "--yes", "--max-risk", "severe", check=2)
    assert "--max-risk: expected one of LOW, MEDIUM, HIGH, CRITICAL" in bad.stderr
    alone = plimsoll(project, "db", "migrate", "up", "--max-risk", "HIGH", check=2)
    assert "--max-risk needs --yes" in alone.stderr


def test_yes_max_risk_gate_applies_nothing_above_the_level(
    project: Path, pg_database: PgDatabase
) -> None:
    refused = plimsoll(project, "db", "migrate", "up", "--yes", "--max-risk", "MEDIUM", check=1)
    assert "above --max-risk MEDIUM: 0003_add_token (" in refused.stdout
    assert "nothing applied" in refused.stdout
    assert _applied(pg_database) == []
    assert "token" not in _columns(pg_database, "accounts")

    data = json.loads(
        plimsoll(
            project, "db", "migrate", "up", "-y", "--max-risk", "medium", "-f", "json", check=1
        ).stdout
    )
    assert data["passed"] is False and data["applied"] == []
    levels = {m["label"]: m["level"] for m in data["migrations"]}
    assert levels["0003_add_token"] in ("HIGH", "CRITICAL")
    assert levels["0001_create_notes"] == "LOW"
    assert data["above"] == [
        label for label, level in levels.items() if level not in ("LOW", "MEDIUM")
    ]
    assert _applied(pg_database) == []

    passed = json.loads(
        plimsoll(
            project, "db", "migrate", "up", "--yes", "--max-risk", "CRITICAL", "-f", "json"
        ).stdout
    )
    assert passed["passed"] is True
    assert [s["version"] for s in passed["applied"]] == ["0001", "0002", "0003", "0004"]
    assert _applied(pg_database) == ["0001", "0002", "0003", "0004"]
    assert "token" in _columns(pg_database, "accounts") and not _exists(pg_database, "legacy")
