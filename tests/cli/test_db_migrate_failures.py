"""``plimsoll db migrate up`` when things go wrong: what it reports, and what it leaves behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cli.test_code_cli import plimsoll


def _project(root: Path, dsn: str, migrations: dict[str, str], extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "plimsoll.toml").write_text(
        f'[db]\nmigrations_dir = "m"\n[db.environments.development]\nurl = "{dsn}"\n{extra}'
    )
    folder = root / "m"
    folder.mkdir(exist_ok=True)
    for name, text in migrations.items():
        (folder / name).write_text(text)
    return root


def _applied(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [
            row[0] for row in conn.execute("SELECT version FROM plimsoll_migrations ORDER BY 1")
        ]


def test_a_failure_still_reports_what_was_applied_before_it(
    pg_database: Any, tmp_path: Path
) -> None:
    root = _project(
        tmp_path / "p",
        pg_database.dsn,
        {
            "0001_good.up.sql": "CREATE TABLE good (id int);\n",
            "0002_fail.up.sql": "CREATE TABLE t5 (id int);\nINSERT INTO t5 (id, nope) VALUES (1, 2);\n",
        },
    )
    text = plimsoll(root, "db", "migrate", "up", check=1)
    assert "0001_good" in text.stdout
    assert "0002_fail.up.sql:2:" in text.stderr and "rolled back" in text.stderr
    assert _applied(pg_database.dsn) == ["0001"]
    # The same in JSON: the applied steps, and the error that stopped the run.
    (root / "m" / "0003_more.up.sql").write_text("CREATE TABLE more (id int);\n")
    (root / "m" / "0002_fail.up.sql").unlink()
    (root / "m" / "0004_fail.up.sql").write_text("SELECT 1 / 0;\n")
    shown = json.loads(plimsoll(root, "db", "migrate", "up", "-f", "json", check=1).stdout)
    assert [s["version"] for s in shown["steps"]] == ["0003"]
    assert "division by zero" in shown["error"]


def test_the_hook_trace_is_in_the_json_report(pg_database: Any, tmp_path: Path) -> None:
    hooks = tmp_path / "hook_source"
    hooks.mkdir()
    (hooks / "__init__.py").write_text("def note(context):\n    return None\n")
    root = _project(
        tmp_path / "p",
        pg_database.dsn,
        {"0001_a.up.sql": "CREATE TABLE a (id int);\n"},
        '[[db.hooks]]\nname = "note"\nphase = "after_migration"\ncallable = "hookpkg:note"\n',
    )
    # The hook's module sits in the project's folder: importable from the console script
    # too (which, unlike `python -m`, does not put the current folder on the import path).
    (root / "hookpkg").mkdir()
    (root / "hookpkg" / "__init__.py").write_text((hooks / "__init__.py").read_text())
    script = Path(sys.executable).with_name("plimsoll")
    done = subprocess.run(
        [str(script), "db", "migrate", "up", "-f", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "true"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    trace = json.loads(done.stdout)["hook_trace"]
    assert trace["outcome"] == "succeeded"
    assert [p["phase"] for p in trace["phases"]] == ["after_migration"]
    assert any(h.get("hook") == "note" or h.get("name") == "note" for h in _hooks_of(trace)), trace


def _hooks_of(trace: Any) -> list[dict[str, Any]]:
    """Every hook record in a trace (phases hold their hooks' results)."""
    found: list[dict[str, Any]] = []
    stack = [trace]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if ("name" in item or "hook" in item) and "outcome" in item:
                found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def test_sigterm_cancels_the_running_migration_and_rolls_it_back(
    pg_database: Any, tmp_path: Path
) -> None:
    root = _project(
        tmp_path / "p",
        pg_database.dsn,
        {
            "0001_a.up.sql": "CREATE TABLE a (id int);\n",
            "0002_slow.up.sql": "CREATE TABLE b (id int);\nSELECT pg_sleep(30);\n",
        },
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "plimsoll", "db", "migrate", "up"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": "true"},
    )
    deadline = time.monotonic() + 30
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                " AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()"
            ).fetchone()
            if busy and busy[0]:
                break
            time.sleep(0.05)
        else:
            proc.kill()
            pytest.fail("the migrator never reached the slow migration")
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        # Cancelled, not waited out: well before the 30 s sleep would end.
        assert time.monotonic() - sent < 15
        assert proc.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
        left = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'plimsoll-migrator'"
        ).fetchone()
        assert left == (0,)
    assert _applied(pg_database.dsn) == ["0001"]
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('b')").fetchone() == (None,)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "0001_x.up.sql",
            "CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\n",
            "0001_x.up.sql:2: transaction control inside a migration",
        ),
        ("0001_p.py", "def up(conn):\n    x = (\n", "0001_p.py:2:"),
        ("0001_p.py", "x = 1\n", "0001_p.py: defines no up(conn)"),
        ("0001_s.up.sql", "CREATE TABLE a (id int);\nSELEC 1;\n", "0001_s.up.sql:2:"),
    ],
)
def test_validate_refuses_what_up_would_refuse(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    root = _project(tmp_path / "p", "postgresql://nobody@127.0.0.1:1/none", {name: text})
    shown = json.loads(plimsoll(root, "db", "migrate", "validate", "-f", "json", check=1).stdout)
    errors = [p["error"] for p in shown["problems"] if p.get("severity") != "warning"]
    assert len(errors) == 1 and expected in errors[0], errors


def test_validate_accepts_one_transaction_around_a_file_and_a_python_migration(
    tmp_path: Path,
) -> None:
    root = _project(
        tmp_path / "p",
        "postgresql://nobody@127.0.0.1:1/none",
        {
            "0001_a.up.sql": "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n",
            "0001_a.down.sql": "DROP TABLE a;\n",
            "0002_p.py": "def up(conn):\n    pass\n\n\ndef down(conn):\n    pass\n",
        },
    )
    shown = json.loads(plimsoll(root, "db", "migrate", "validate", "-f", "json").stdout)
    assert shown == {"migrations": 2, "problems": []}
