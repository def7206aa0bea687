"""``plimsoll db migrate`` end to end on the embedded PostgreSQL, as a new user would try it."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cli.test_code_cli import plimsoll


@pytest.fixture
def project() -> Iterator[Path]:
    # The embedded server runs as the postgres user, who must be able to enter the folders
    # above its data directory: pytest's own tmp folders are closed to other users.
    base = Path(tempfile.mkdtemp(prefix="plim-cli-", dir="/tmp"))
    base.chmod(0o755)
    root = base / "service"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "service"\nversion = "1.0"\n')
    try:
        yield root
    finally:
        plimsoll(root, "db", "server", "stop", check=None)
        shutil.rmtree(base, ignore_errors=True)


def test_init_generate_up_status_down(project: Path) -> None:
    plimsoll(project, "db", "init")
    first = json.loads(plimsoll(project, "db", "migrate", "generate", "users", "-f", "json").stdout)
    Path(first["up"]).write_text("CREATE TABLE users (id bigint PRIMARY KEY, email text);\n")
    Path(first["down"]).write_text("DROP TABLE users;\n")
    second = json.loads(
        plimsoll(project, "db", "migrate", "generate", "orders", "-f", "json").stdout
    )
    assert (first["version"], second["version"]) == ("0001", "0002")
    Path(second["up"]).write_text(
        "CREATE TABLE orders (\n  id bigint PRIMARY KEY,\n  user_id bigint REFERENCES users (id)\n);\n"
    )
    Path(second["down"]).write_text("DROP TABLE orders;\n")
    plimsoll(project, "db", "migrate", "validate")

    pending = json.loads(plimsoll(project, "db", "migrate", "status", "-f", "json").stdout)
    assert [p["version"] for p in pending["pending"]] == ["0001", "0002"]
    dry = json.loads(plimsoll(project, "db", "migrate", "up", "--dry-run", "-f", "json").stdout)
    assert dry["rolled_back"] and [m["version"] for m in dry["migrations"]] == ["0001", "0002"]
    still = json.loads(plimsoll(project, "db", "migrate", "status", "-f", "json").stdout)
    assert len(still["pending"]) == 2  # the dry run kept nothing
    done = json.loads(plimsoll(project, "db", "migrate", "up", "-f", "json").stdout)
    assert [s["version"] for s in done["steps"]] == ["0001", "0002"]
    status = json.loads(plimsoll(project, "db", "migrate", "status", "-f", "json").stdout)
    assert status["current"] == "0002" and status["pending"] == []
    assert "nothing to do" in plimsoll(project, "db", "migrate", "up").stdout
    plimsoll(project, "db", "migrate", "down")
    status = json.loads(plimsoll(project, "db", "migrate", "status", "-f", "json").stdout)
    assert status["current"] == "0001"
    assert (project / ".plimsoll" / "pg").is_dir()  # the embedded server's data


def test_failures_and_bad_input_exit_codes(project: Path) -> None:
    plimsoll(project, "db", "init")
    migrations = project / "db" / "migrations"
    (migrations / "0001_bad.up.sql").write_text("CREATE TABLE a (id int);\nSELEC 1;\n")
    done = plimsoll(project, "db", "migrate", "validate", check=1)
    assert "0001_bad.up.sql:2:" in done.stdout
    (migrations / "0001_bad.up.sql").write_text(
        "CREATE TABLE a (id int);\nINSERT INTO nope VALUES (1);\n"
    )
    failed = plimsoll(project, "db", "migrate", "up", check=1)
    assert "0001_bad.up.sql:2:" in failed.stderr and "Traceback" not in failed.stderr
    (migrations / "01_dup.up.sql").write_text("SELECT 1;\n")
    assert "duplicate migration version" in plimsoll(project, "db", "migrate", "up", check=2).stderr


def test_password_never_printed(tmp_path: Path) -> None:
    root = tmp_path / "remote"
    root.mkdir()
    (root / "plimsoll.toml").write_text(
        '[db.environments.prod]\nurl = "postgresql://app:s3cret-pw@127.0.0.1:1/app"\n'
        '[db]\nmigrations_dir = "m"\nschema_dir = "schema"\n'
    )
    (root / "m").mkdir()
    (root / "schema").mkdir()
    (root / "schema" / "a.sql").write_text("CREATE TABLE a (id int);\n")
    commands = [
        ("migrate", "status", "--env", "prod"),
        ("migrate", "up", "--env", "prod"),
        ("migrate", "up", "--dry-run", "--env", "prod"),
        ("migrate", "down", "--env", "prod"),
        ("migrate", "status", "-f", "json", "--env", "prod"),
        ("build", "--apply", "--env", "prod"),
        ("build", "--apply", "--env", "prod", "-f", "json"),
        ("diff", "--from", "prod", "--to", "postgresql://x:other-secret@127.0.0.1:1/x"),
        ("diff", "--from", "prod", "--to", "built", "-f", "json"),
        ("lint", "--env", "prod"),
        ("lint", "--env", "prod", "-f", "sarif"),
    ]
    for args in commands:
        done = plimsoll(root, "db", *args, check=3)
        assert "s3cret-pw" not in done.stdout + done.stderr, args
        assert "other-secret" not in done.stdout + done.stderr, args
        assert done.stderr.strip()


def test_a_hook_from_the_users_package_runs_through_its_entry_point(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real (if tiny) installed distribution: a package plus a .dist-info declaring the
    # plimsoll.hooks entry point, found by importlib.metadata on PYTHONPATH.
    site = project.parent / "site"
    (site / "acme_hooks").mkdir(parents=True)
    (site / "acme_hooks" / "__init__.py").write_text(
        "import os\n"
        "from plimsoll.core.hooks import hook\n\n"
        "@hook('after_migration', name='audit')\n"
        "def audit(context):\n"
        "    with open(os.environ['ACME_AUDIT'], 'a') as fh:\n"
        "        fh.write(f'{context.direction} {context.migration}\\n')\n"
    )
    info = site / "acme_hooks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-hooks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[plimsoll.hooks]\naudit = acme_hooks:audit\n")
    audit = project.parent / "audit.log"
    plimsoll(project, "db", "init")
    (project / "db" / "migrations" / "0001_a.up.sql").write_text("CREATE TABLE a (id int);\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("ACME_AUDIT", str(audit))
    plimsoll(project, "db", "migrate", "up")
    assert audit.read_text() == "up 0001_a\n"


def test_a_partitioned_index_being_put_together_is_shown_not_failed(
    tmp_path: Path, pg_database: Any
) -> None:
    # The partitioned-table recipe across migrations: the parent's index ON ONLY is invalid
    # until every partition's is attached; status says how far it got and does not fail, while
    # an index a failed concurrent build left still fails it.
    root = tmp_path / "svc"
    migrations = root / "m"
    migrations.mkdir(parents=True)
    (root / "plimsoll.toml").write_text(
        f'[db]\nmigrations_dir = "m"\ndefault_environment = "dev"\n'
        f'[db.environments.dev]\nurl = "{pg_database.dsn}"\n'
    )
    (migrations / "1_events.up.sql").write_text(
        "CREATE TABLE events (day date NOT NULL, n int) PARTITION BY RANGE (day);\n"
        "CREATE TABLE events_a PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2025-07-01');\n"
        "CREATE TABLE events_b PARTITION OF events FOR VALUES FROM ('2025-07-01') TO ('2026-01-01');\n"
        "CREATE INDEX events_n_idx ON ONLY events (n);\n"
    )
    (migrations / "2_a.up.sql").write_text(
        "CREATE INDEX CONCURRENTLY events_a_n_idx ON events_a (n);\n"
        "ALTER INDEX events_n_idx ATTACH PARTITION events_a_n_idx;\n"
    )
    plimsoll(root, "db", "migrate", "up", "--target", "2")
    done = plimsoll(root, "db", "migrate", "status", check=0)
    assert "public.events_n_idx on partitioned table events is not valid yet: 1 of 2" in " ".join(
        done.stdout.split()
    )
    report = json.loads(plimsoll(root, "db", "migrate", "status", "-f", "json").stdout)
    assert report["invalid_indexes"] == [
        {
            "schema": "public",
            "table": "events",
            "index": "events_n_idx",
            "partitions": 2,
            "attached": 1,
        }
    ]
    (migrations / "3_b.up.sql").write_text(
        "CREATE INDEX CONCURRENTLY events_b_n_idx ON events_b (n);\n"
        "ALTER INDEX events_n_idx ATTACH PARTITION events_b_n_idx;\n"
    )
    plimsoll(root, "db", "migrate", "up")
    report = json.loads(plimsoll(root, "db", "migrate", "status", "-f", "json").stdout)
    assert report["invalid_indexes"] == []

    (migrations / "4_dupes.up.sql").write_text(
        "CREATE TABLE t (v int);\nINSERT INTO t VALUES (1), (1);\n"
    )
    (migrations / "5_unique.up.sql").write_text("CREATE UNIQUE INDEX CONCURRENTLY t_v ON t (v);\n")
    plimsoll(root, "db", "migrate", "up", check=1)
    failed = plimsoll(root, "db", "migrate", "status", check=1)
    assert "public.t_v on t is INVALID (a failed concurrent build?)" in " ".join(
        failed.stdout.split()
    )


# --- the order of migrations, drift, file names, and what is checked before any server ----------

USERS = "20261101000000_users"
ALICE = "20261124100000_alice_orders"
BOB = "20261124090000_bob_items"


def _configured(root: Path, url: str | None, extra: str = "") -> Path:
    """A project with migrations in ``m`` and, when ``url`` is given, that database."""
    (root / "m").mkdir(parents=True, exist_ok=True)
    env = f'[db.environments.development]\nurl = "{url}"\n' if url else ""
    (root / "plimsoll.toml").write_text(f'[db]\nmigrations_dir = "m"\n{extra}{env}')
    return root


def _add(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / "m" / name).write_text(text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_an_out_of_order_migration_is_reported_refused_and_applied_only_when_asked(
    tmp_path: Path, pg_database: Any
) -> None:
    root = _configured(tmp_path / "svc", pg_database.dsn)
    _add(
        root,
        {
            f"{USERS}.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY);\n",
            f"{USERS}.down.sql": "DROP TABLE users;\n",
            f"{ALICE}.up.sql": "CREATE TABLE orders (id bigint PRIMARY KEY,"
            " user_id bigint REFERENCES users);\n",
            f"{ALICE}.down.sql": "DROP TABLE orders;\n",
        },
    )
    plimsoll(root, "db", "migrate", "up")
    _add(
        root,
        {
            f"{BOB}.up.sql": "CREATE TABLE items (id bigint PRIMARY KEY,"
            " order_id bigint REFERENCES orders);\n",
            f"{BOB}.down.sql": "DROP TABLE items;\n",
        },
    )
    shown = plimsoll(root, "db", "migrate", "status", check=1)
    assert f"{BOB}: older than the newest applied migration {ALICE}" in _one_line(shown.stdout)
    assert "out of order" in shown.stdout
    report = json.loads(plimsoll(root, "db", "migrate", "status", "-f", "json", check=1).stdout)
    assert report["pending"] == [
        {"version": "20261124090000", "name": "bob_items", "state": "out of order"}
    ]
    assert report["out_of_order"] == [
        {"version": "20261124090000", "name": "bob_items", "newest_applied": ALICE}
    ]
    files_only = plimsoll(root, "db", "migrate", "validate")
    assert BOB not in files_only.stdout  # without --env nothing is connected to
    checked = plimsoll(root, "db", "migrate", "validate", "--env", "development", check=1)
    assert f"{BOB}: older than the newest applied migration {ALICE}" in _one_line(checked.stdout)

    refused = plimsoll(root, "db", "migrate", "up", check=1)
    assert refused.stderr.strip().splitlines() == [
        f"plimsoll: error: {BOB} is older than the newest applied migration {ALICE}: it would be"
        " applied out of order (use --out-of-order, or db.out_of_order = true, to apply it"
        " anyway)"
    ]
    applied = plimsoll(root, "db", "migrate", "up", "--out-of-order")
    assert f"{BOB}" in applied.stdout and "(out of order)" in applied.stdout
    assert (
        json.loads(plimsoll(root, "db", "migrate", "status", "-f", "json").stdout)["pending"] == []
    )
    # Reverted in the reverse of the order applied: Bob's (which needs Alice's table) first.
    done = json.loads(plimsoll(root, "db", "migrate", "down", "-f", "json").stdout)
    assert [s["version"] for s in done["steps"]] == ["20261124090000"]

    # Allowed in the config: status shows it without failing, and up applies it.
    _configured(root, pg_database.dsn, "out_of_order = true\n")
    allowed = plimsoll(root, "db", "migrate", "status", check=0)
    assert "out of order" in allowed.stdout
    steps = json.loads(plimsoll(root, "db", "migrate", "up", "-f", "json").stdout)["steps"]
    assert [(s["version"], s["out_of_order"]) for s in steps] == [("20261124090000", True)]
    done = json.loads(
        plimsoll(root, "db", "migrate", "down", "--target", "20261101000000", "-f", "json").stdout
    )
    assert [s["version"] for s in done["steps"]] == ["20261124090000", "20261124100000"]


def test_renamed_and_missing_applied_files_are_drift(tmp_path: Path, pg_database: Any) -> None:
    root = _configured(tmp_path / "svc", pg_database.dsn)
    _add(root, {"1_a.up.sql": "CREATE TABLE a ();\n", "2_b.up.sql": "CREATE TABLE b ();\n"})
    plimsoll(root, "db", "migrate", "up")
    (root / "m" / "2_b.up.sql").rename(root / "m" / "2_bee.up.sql")
    shown = plimsoll(root, "db", "migrate", "status", check=1)
    assert "2_bee: renamed from 2_b" in _one_line(shown.stdout)
    report = json.loads(plimsoll(root, "db", "migrate", "status", "-f", "json", check=1).stdout)
    assert report["drift"] == [
        {"version": "2", "name": "bee", "problem": "renamed from 2_b", "kind": "renamed"}
    ]
    assert [(r["name"], r["state"]) for r in report["applied"]] == [
        ("a", "applied"),
        ("bee", "renamed"),
    ]
    _add(root, {"3_c.up.sql": "CREATE TABLE c ();\n"})
    assert "renamed from 2_b" in plimsoll(root, "db", "migrate", "up", check=1).stderr
    plimsoll(root, "db", "migrate", "up", "--allow-changed")
    (root / "m" / "1_a.up.sql").unlink()
    shown = plimsoll(root, "db", "migrate", "status", check=1)
    row = next(line for line in shown.stdout.splitlines() if line.startswith("│ 1 "))
    assert "missing" in row and "applied" not in row


def test_mistyped_file_names_are_warned_about_once_by_each_command(
    tmp_path: Path, pg_database: Any
) -> None:
    root = _configured(tmp_path / "svc", pg_database.dsn)
    _add(
        root,
        {
            "20261125000001_ok.up.sql": "CREATE TABLE ok ();\n",
            "20261125000001_ok.down.sql": "DROP TABLE ok;\n",
            "20261125000002_typo.up.sq": "",
            "20261125000003_x.UP.SQL": "",
            "20261125000004_y.up.sql.bak": "",
            "20261125000001_ok.up.sql~": "",
            ".20261125000005_z.up.sql": "",
        },
    )
    for command in (("status",), ("validate",), ("up",), ("down",)):
        done = plimsoll(root, "db", "migrate", *command)
        lines = (done.stderr + done.stdout).splitlines()
        for name in ("_typo.up.sq", "_x.UP.SQL", "_y.up.sql.bak"):
            assert len([line for line in lines if name in line]) == 1, (command, done)
        assert "not a migration file name" in done.stderr + done.stdout
        assert "~" not in done.stderr and "_z.up.sql" not in done.stderr + done.stdout


@pytest.mark.parametrize("url", [None, "postgresql://app:pw@127.0.0.1:1/app"])
def test_a_broken_folder_exits_2_before_any_server_is_started_or_reached(
    tmp_path: Path, url: str | None
) -> None:
    root = _configured(tmp_path / "svc", url)
    _add(
        root,
        {
            "0001_users.up.sql": "CREATE TABLE users ();\n",
            "0002_alice_orders.up.sql": "CREATE TABLE orders ();\n",
            "0002_alice_orders.down.sql": "DROP TABLE orders;\n",
            "0002_bob_items.up.sql": "CREATE TABLE items ();\n",
            "0002_bob_items.down.sql": "DROP TABLE items;\n",
        },
    )
    message = (
        "plimsoll: error: duplicate migration version 0002:"
        " 0002_alice_orders.up.sql and 0002_bob_items.up.sql"
    )
    for command in (("status",), ("up",), ("up", "--dry-run"), ("down",), ("validate",)):
        done = plimsoll(root, "db", "migrate", *command, check=2)
        assert done.stderr.strip().splitlines() == [message], command
    assert not (root / ".plimsoll" / "pg").exists()  # the embedded server was never made


def test_the_short_help_of_each_command_is_one_sentence_on_one_line() -> None:
    import typer.main
    from typer.testing import CliRunner

    from plimsoll.cli.main import app

    group = typer.main.get_command(app).commands["db"].commands["migrate"]  # type: ignore[attr-defined]
    listing = (
        CliRunner()
        .invoke(app, ["db", "migrate", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
        .output
    )
    for name, command in group.commands.items():
        first = (command.help or "").split("\n\n")[0]
        assert "\n" not in first and first.endswith(".") and ". " not in first, (name, first)
        assert first in listing, (name, listing)


def test_baseline_adopts_an_existing_database(project: Path) -> None:
    plimsoll(project, "db", "init")
    migrations = project / "db" / "migrations"
    (migrations / "0001_users.up.sql").write_text("CREATE TABLE users (id bigint PRIMARY KEY);\n")
    (migrations / "0002_orders.up.sql").write_text("CREATE TABLE orders (id bigint PRIMARY KEY);\n")
    plimsoll(project, "db", "server", "start")
    url = plimsoll(project, "db", "server", "url").stdout.strip()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id bigint PRIMARY KEY)")

    wrong = plimsoll(project, "db", "migrate", "baseline", "0007", check=2)
    assert "baseline 0007: no migration has that version" in wrong.stderr
    would = plimsoll(project, "db", "migrate", "baseline", "0001", "--dry-run").stdout
    assert "would mark 0001_users as applied (not run)" in would
    done = json.loads(plimsoll(project, "db", "migrate", "baseline", "0001", "-f", "json").stdout)
    assert done == {
        "version": "0001",
        "dry_run": False,
        "baselined": [{"version": "0001", "name": "users"}],
    }
    applied = json.loads(plimsoll(project, "db", "migrate", "up", "-f", "json").stdout)
    assert [s["version"] for s in applied["steps"]] == ["0002"]


def test_status_up_and_down_name_the_database_and_down_refuses_steps_beyond_it(
    tmp_path: Path, pg_database: Any
) -> None:
    root = _configured(tmp_path / "svc", pg_database.dsn)
    _add(
        root,
        {
            "1_a.up.sql": "CREATE TABLE a ();\n",
            "1_a.down.sql": "DROP TABLE a;\n",
            "2_b.up.sql": "CREATE TABLE b ();\n",
            "2_b.down.sql": "DROP TABLE b;\n",
        },
    )
    # Where libpq connected (PG* variables included), never the password.
    where = f"{pg_database.dbname} on 127.0.0.1:{pg_database.port} as postgres"
    database = {
        "name": pg_database.dbname,
        "host": "127.0.0.1",
        "port": pg_database.port,
        "user": "postgres",
    }
    status = [
        line.rstrip() for line in plimsoll(root, "db", "migrate", "status").stdout.splitlines()
    ]
    assert status[:2] == [f"database {where}", "migrations (current: none)"]
    assert (
        json.loads(plimsoll(root, "db", "migrate", "status", "-f", "json").stdout)["database"]
        == database
    )
    up = plimsoll(root, "db", "migrate", "up").stdout.splitlines()
    assert up[0] == f"database {where}"
    assert [line.split()[1] for line in up[1:]] == ["1_a", "2_b"]
    done = json.loads(plimsoll(root, "db", "migrate", "up", "-f", "json").stdout)
    assert done["database"] == database and done["steps"] == []

    refused = plimsoll(root, "db", "migrate", "down", "--steps", "99", check=2)
    assert "--steps 99: only 2 migrations are applied (--target 0 reverts all of them)" in (
        refused.stderr
    )
    assert "Traceback" not in refused.stderr
    reverted = json.loads(
        plimsoll(root, "db", "migrate", "down", "--target", "0", "-f", "json").stdout
    )
    assert [s["version"] for s in reverted["steps"]] == ["2", "1"]
