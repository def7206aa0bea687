"""``plimsoll db migrate`` end to end on the embedded PostgreSQL, as a new user would try it."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
