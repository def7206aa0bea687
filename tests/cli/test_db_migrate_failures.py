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


SLOW = {
    "0001_a.up.sql": "CREATE TABLE a (id int);\n",
    "0002_slow.up.sql": "CREATE TABLE b (id int);\nSELECT pg_sleep(30);\n",
}


def _interrupt_when_slow(
    root: Path, dsn: str, signum: int, *args: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``db migrate up`` (with ``args``), send ``signum`` once it is in the slow
    migration's pg_sleep, and return the finished process and how long it took to end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "plimsoll", "db", "migrate", "up", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": "true"},
    )
    deadline = time.monotonic() + 30
    with psycopg.connect(dsn, autocommit=True) as conn:
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
            proc.communicate()
            pytest.fail("the migrator never reached the slow migration")
    sent = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=20)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done, time.monotonic() - sent


def test_sigterm_cancels_the_running_migration_and_rolls_it_back(
    pg_database: Any, tmp_path: Path
) -> None:
    root = _project(tmp_path / "p", pg_database.dsn, SLOW)
    done, took = _interrupt_when_slow(root, pg_database.dsn, signal.SIGTERM)
    # Cancelled, not waited out: well before the 30 s sleep would end.
    assert took < 15
    # SIGTERM's own status, as a shell reports it (SIGINT's would be 130).
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "interrupted" in done.stderr and "Traceback" not in done.stderr
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'plimsoll-migrator'"
        ).fetchone()
        assert left == (0,)
    assert _applied(pg_database.dsn) == ["0001"]
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('b')").fetchone() == (None,)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_migration_is_recorded_and_reported_as_interrupted(
    pg_database: Any, tmp_path: Path, signum: int
) -> None:
    from plimsoll.core.store import SqliteStore

    root = _project(tmp_path / "p", pg_database.dsn, SLOW)
    done, _ = _interrupt_when_slow(root, pg_database.dsn, signum, "-f", "json")
    assert done.returncode == 128 + signum, done.stderr
    shown = json.loads(done.stdout)
    assert [s["version"] for s in shown["steps"]] == ["0001"]
    assert shown["error"] == "interrupted"
    # Not "succeeded": the run was stopped, whatever its hooks did.
    assert shown["hook_trace"]["outcome"] == "interrupted"
    assert _applied(pg_database.dsn) == ["0001"]
    # In the store's history as a failed one would be: 0002 interrupted, after 0001 applied.
    with SqliteStore(root / ".plimsoll" / "state.db") as store:
        runs = store.migration_runs()
    assert [(r.version, r.direction, r.outcome) for r in runs] == [
        ("0002", "up", "interrupted"),
        ("0001", "up", "applied"),
    ]
    interrupted = runs[0]
    assert interrupted.error == (
        "interrupted: the running statement was cancelled; 0002_slow rolled back"
    )
    assert interrupted.server_version and interrupted.server_version >= 100000
    # It was stopped in its pg_sleep: it ran for a while, and ended after it started.
    assert interrupted.finished_at >= interrupted.started_at
    assert interrupted.duration_ms > 0


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
    # Without --env, the files alone (the configured database cannot be reached).
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
    assert shown == {"migrations": 2, "database_checked": False, "problems": []}
    # With --env the database is part of the check: one that cannot be reached is exit 3.
    failed = plimsoll(root, "db", "migrate", "validate", "--env", "development", check=3)
    assert "database unreachable" in failed.stderr


# --- hooks: alerts, breakers and their configuration -------------------------------------------

FAILING_HOOKS = """\
from pathlib import Path


def bad(context):
    # Each call leaves a line, so the test counts the calls across processes.
    with Path(__file__).with_name("calls.txt").open("a") as out:
        out.write(context.phase + "\\n")
    raise RuntimeError("replica lag too high")
"""


def _hook_project(root: Path, dsn: str, migrations: dict[str, str], extra: str) -> Path:
    _project(root, dsn, migrations, extra)
    (root / "hookpkg").mkdir(exist_ok=True)
    (root / "hookpkg" / "__init__.py").write_text(FAILING_HOOKS)
    return root


def _calls(root: Path) -> list[str]:
    found = root / "hookpkg" / "calls.txt"
    return found.read_text().splitlines() if found.exists() else []


def _hook(name: str, phase: str, strategy: str, channels: str = "") -> str:
    return (
        f'[[db.hooks]]\nname = "{name}"\nphase = "{phase}"\ncallable = "hookpkg:bad"\n'
        f'error_strategy = "{strategy}"\nretries = 0\n{channels}'
    )


def test_an_alert_only_hook_alerts_through_its_notify_channel(
    pg_database: Any, tmp_path: Path, http_recorder: Any
) -> None:
    extra = (
        f'[notify.channels.ops]\nkind = "webhook"\nurl = "{http_recorder.url}/alerts"\n'
        + 'retries = 0\n[notify.channels.other]\nkind = "webhook"\n'
        + f'url = "{http_recorder.url}/other"\n'
        + _hook("lag", "before_migration", "alert_only", 'channels = ["ops"]\n')
    )
    root = _hook_project(
        tmp_path / "p", pg_database.dsn, {"0001_a.up.sql": "CREATE TABLE a (id int);\n"}, extra
    )
    shown = json.loads(plimsoll(root, "db", "migrate", "up", "-f", "json").stdout)

    assert [s["version"] for s in shown["steps"]] == ["0001"]
    assert _applied(pg_database.dsn) == ["0001"]
    (alert,) = http_recorder.requests  # to the hook's channel only
    assert alert.path == "/alerts"
    body = alert.json()
    assert body["fields"]["hook"] == "lag" and body["fields"]["phase"] == "before_migration"
    assert "RuntimeError: replica lag too high" in body["body"]
    assert _calls(root) == ["before_migration"]


def test_hook_breakers_follow_the_config_and_last_between_runs(
    pg_database: Any, tmp_path: Path
) -> None:
    from plimsoll.core.store import SqliteStore

    extra = _hook("flaky", "before_validation", "fail_safe")
    root = _hook_project(tmp_path / "p", pg_database.dsn, {}, extra)
    config = root / "plimsoll.toml"
    config.write_text(
        config.read_text().replace(
            "[db]\n", "[db]\nhook_breaker_threshold = 2\nhook_breaker_reset_seconds = 3600\n"
        )
    )

    def outcome() -> str:
        shown = json.loads(plimsoll(root, "db", "migrate", "up", "-f", "json").stdout)
        (phase,) = shown["hook_trace"]["phases"]
        return str(phase["hooks"][0]["outcome"])

    # Each command is a process of its own: the count lives in the state store.
    assert [outcome(), outcome(), outcome()] == ["failed", "failed", "breaker_open"]
    assert len(_calls(root)) == 2  # the third run did not call it
    with SqliteStore(root / ".plimsoll" / "state.db") as store:
        state = store.breaker_get("hook:before_validation:flaky")
    assert state.failures == 2 and state.opened_at is not None


def test_a_fail_fast_hook_with_an_open_breaker_still_stops_the_migration(
    pg_database: Any, tmp_path: Path
) -> None:
    root = _hook_project(
        tmp_path / "p",
        pg_database.dsn,
        {"0001_a.up.sql": "CREATE TABLE a (id int);\n"},
        _hook("guard", "before_migration", "fail_fast"),
    )
    config = root / "plimsoll.toml"
    config.write_text(config.read_text().replace("[db]\n", "[db]\nhook_breaker_threshold = 1\n"))

    first = plimsoll(root, "db", "migrate", "up", check=3)
    assert "hook 'guard' failed in phase before_migration" in first.stderr
    second = plimsoll(root, "db", "migrate", "up", check=3)
    assert (
        "hook 'guard' in phase before_migration: breaker open after 1 consecutive failure: not"
        " run, and a fail_fast hook that cannot run stops the phase" in second.stderr
    )
    assert _calls(root) == ["before_migration"]
    assert _applied(pg_database.dsn) == []


@pytest.mark.parametrize("command", [("validate",), ("up",), ("status",)])
@pytest.mark.parametrize(
    ("hook", "expected"),
    [
        (
            _hook("x", "befor_migration", "fail_safe"),
            "db.hooks[0].phase: unknown phase: expected one of before_validation,",
        ),
        (
            _hook("x", "cleanup", "alert_only", 'channels = ["opz"]\n'),
            "db.hooks[0].channels: unknown channel opz (configured under notify.channels: ops)",
        ),
    ],
    ids=["phase", "channel"],
)
def test_a_hook_config_error_is_refused_naming_the_key(
    tmp_path: Path, command: tuple[str, ...], hook: str, expected: str
) -> None:
    extra = '[notify.channels.ops]\nkind = "webhook"\nurl = "http://127.0.0.1:9/x"\n' + hook
    root = _project(tmp_path / "p", "postgresql://nobody@127.0.0.1:1/none", {}, extra)
    done = plimsoll(root, "db", "migrate", *command, check=2)
    assert expected in done.stderr and "Traceback" not in done.stderr


def test_down_refuses_a_changed_applied_file_unless_allowed(
    pg_database: Any, tmp_path: Path
) -> None:
    root = _project(
        tmp_path / "p",
        pg_database.dsn,
        {"0001_a.up.sql": "CREATE TABLE a (id int);\n", "0001_a.down.sql": "DROP TABLE a;\n"},
    )
    plimsoll(root, "db", "migrate", "up")
    (root / "m" / "0001_a.up.sql").write_text("CREATE TABLE a (id bigint);\n")
    plimsoll(root, "db", "migrate", "status", check=1)
    refused = plimsoll(root, "db", "migrate", "down", check=1)
    assert "0001_a: changed since it was applied" in refused.stderr
    assert "--allow-changed" in refused.stderr
    assert _applied(pg_database.dsn) == ["0001"]
    plimsoll(root, "db", "migrate", "down", "--allow-changed")
    assert _applied(pg_database.dsn) == []


# --- user code: its output, its imports ---------------------------------------------------------

LOUD_HOOK = """\
def loud(context):
    print("hook says hello")
"""


def test_prints_of_a_python_migration_and_a_hook_go_to_stderr(
    pg_database: Any, tmp_path: Path
) -> None:
    root = _project(
        tmp_path / "p",
        pg_database.dsn,
        {
            "0001_seed.py": (
                'print("imported")\n\n\n'
                "def up(conn):\n"
                '    print("seeding items")\n'
                "    conn.execute('CREATE TABLE items (id int)')\n"
            )
        },
        '[[db.hooks]]\nname = "loud"\nphase = "after_migration"\ncallable = "loudhook:loud"\n',
    )
    (root / "loudhook.py").write_text(LOUD_HOOK)
    done = plimsoll(root, "db", "migrate", "up", "-f", "json")
    shown = json.loads(done.stdout)  # one JSON document: nothing else on stdout
    assert [s["version"] for s in shown["steps"]] == ["0001"]
    assert ["imported", "seeding items", "hook says hello"] == [
        line
        for line in done.stderr.splitlines()
        if line in ("imported", "seeding items", "hook says hello")
    ]
    validated = plimsoll(root, "db", "migrate", "validate", "-f", "json")
    problems = json.loads(validated.stdout)["problems"]
    assert [p["error"] for p in problems] == ["no down migration"]  # a warning
    assert "imported" in validated.stderr  # validate imports it


SHOP_HELPERS = """\
def add_audit(conn, table):
    conn.execute(f"CREATE TABLE {table}_audit (id int)")
"""


def _console(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The console script, as a user runs it: unlike `python -m`, it does not put the current
    folder on the import path."""
    script = Path(sys.executable).with_name("plimsoll")
    return subprocess.run(
        [str(script), *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "true"},
        check=False,
    )


def test_a_python_migration_imports_the_projects_modules_and_validate_checks_it(
    pg_database: Any, tmp_path: Path
) -> None:
    root = _project(
        tmp_path / "p",
        pg_database.dsn,
        {
            "0001_items.up.sql": "CREATE TABLE items (id int);\n",
            "0002_audit.py": (
                "from shopx.dbhelpers import add_audit\n\n\n"
                "def up(conn):\n"
                "    add_audit(conn, 'items')\n"
            ),
        },
    )
    (root / "shopx").mkdir()
    (root / "shopx" / "__init__.py").write_text("")
    (root / "shopx" / "dbhelpers.py").write_text(SHOP_HELPERS)
    validated = _console(root, "db", "migrate", "validate", "-f", "json")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    done = _console(root, "db", "migrate", "up")
    assert done.returncode == 0, done.stderr
    assert _applied(pg_database.dsn) == ["0001", "0002"]
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('items_audit')").fetchone() == ("items_audit",)

    # A module that is not there is found by validate, before any deploy.
    (root / "m" / "0003_more.py").write_text("import shopx.nothere\n\n\ndef up(conn):\n    pass\n")
    failed = _console(root, "db", "migrate", "validate", "-f", "json")
    assert failed.returncode == 1
    problems = json.loads(failed.stdout)["problems"]
    (problem,) = [p for p in problems if p.get("severity") != "warning"]
    assert problem["error"] == (
        f"{root / 'm' / '0003_more.py'}:1: failed to import: ModuleNotFoundError: No module"
        " named 'shopx.nothere'"
    )
    refused = _console(root, "db", "migrate", "up")
    assert refused.returncode == 2 and "shopx.nothere" in refused.stderr
    assert _applied(pg_database.dsn) == ["0001", "0002"]


# --- what the database says, as one line and the documented exit code ------------------------------


def test_database_side_problems_are_one_line_with_their_exit_code(
    pg_database: Any, tmp_path: Path
) -> None:
    root = _project(
        tmp_path / "p", pg_database.dsn, {"0001_a.up.sql": "CREATE TABLE a (id int);\n"}
    )
    config = root / "plimsoll.toml"
    base = config.read_text()

    def run(code: int, *args: str) -> str:
        done = plimsoll(root, "db", "migrate", *args, check=code)
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr
        (line,) = done.stderr.strip().splitlines()
        return line

    config.write_text(base + 'statement_timeout = "25d"\n')
    line = run(2, "up")
    assert line.startswith(
        f"plimsoll: error: {config}: db.environments.development.statement_timeout = '25d':"
        " not a duration PostgreSQL takes"
    )
    config.write_text(base.replace("[db]\n", '[db]\nlock_timeout = "-1s"\n'))
    assert f"{config}: db.lock_timeout = '-1s'" in run(2, "up")

    config.write_text(base.replace("[db]\n", '[db]\ntracking_table = "alembic_version"\n'))
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
    assert (
        f"{config}: db.tracking_table alembic_version exists but is not a plimsoll tracking"
        " table (columns version_num;"
    ) in run(2, "up")
    assert "is not a plimsoll tracking table" in run(2, "status")

    config.write_text(base)
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {pg_database.dbname} SET default_transaction_read_only = on")
    assert run(3, "up") == (
        "plimsoll: error: the database is read-only (default_transaction_read_only is on):"
        f" cannot apply migrations to {pg_database.dbname}"
    )
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('a')").fetchone() == (None,)
