"""``baseline``: adopting a database whose schema existed before plimsoll, against a real
PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from plimsoll.core.errors import UsageError
from plimsoll.db import migrations as files
from plimsoll.db.migrator import Migrator

FILES = {
    "0001_users.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY);\n",
    "0002_orders.up.sql": "CREATE TABLE orders (id bigint PRIMARY KEY);\n",
    "0003_items.up.sql": "CREATE TABLE items (id bigint PRIMARY KEY);\n",
}


def _project(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    return folder


def _rows(dsn: str) -> list[tuple[str, str, int]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT version, checksum, execution_ms FROM plimsoll_migrations ORDER BY applied_rank"
        ).fetchall()
    return [(str(v), str(c), int(ms)) for v, c, ms in rows]


def _has_tracking_table(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regclass('plimsoll_migrations') IS NOT NULL").fetchone()
    return bool(row and row[0])


def test_baseline_marks_the_existing_schema_and_up_applies_only_the_rest(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _project(tmp_path)
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id bigint PRIMARY KEY)")
        conn.execute("CREATE TABLE orders (id bigint PRIMARY KEY)")
    migrator = Migrator(pg_database.dsn, folder)
    # Without the baseline, up fails on the table that exists already.
    with pytest.raises(Exception, match="already exists"):
        migrator.up()

    would = migrator.baseline("0002", dry_run=True)
    assert [m.label for m in would] == ["0001_users", "0002_orders"]
    assert _rows(pg_database.dsn) == []  # the dry run wrote nothing

    marked = migrator.baseline("0002")
    assert [m.label for m in marked] == ["0001_users", "0002_orders"]
    expected = [
        (m.version, m.checksum, 0) for m in files.discover(folder) if m.version in {"0001", "0002"}
    ]
    assert _rows(pg_database.dsn) == expected
    assert migrator.status().drift == ()  # the checksums are the files'

    assert migrator.baseline("0002") == []  # again: nothing left to mark
    report = migrator.up()
    assert [s.version for s in report.steps] == ["0003"]
    assert [v for v, _, _ in _rows(pg_database.dsn)] == ["0001", "0002", "0003"]


def test_a_dry_run_on_a_new_database_creates_nothing(pg_database: Any, tmp_path: Path) -> None:
    migrator = Migrator(pg_database.dsn, _project(tmp_path))
    assert len(migrator.baseline("0003", dry_run=True)) == 3
    assert not _has_tracking_table(pg_database.dsn)


def test_an_unknown_version_is_a_usage_error_and_marks_nothing(
    pg_database: Any, tmp_path: Path
) -> None:
    migrator = Migrator(pg_database.dsn, _project(tmp_path))
    with pytest.raises(UsageError, match="baseline 0009: no migration has that version"):
        migrator.baseline("0009")
    assert not _has_tracking_table(pg_database.dsn)  # refused before connecting


def test_a_late_migration_older_than_the_newest_applied_is_never_marked(
    pg_database: Any, tmp_path: Path
) -> None:
    # 0001 and 0003 applied; 0002 merged late: it never ran, and baseline must not hide that.
    folder = tmp_path / "migrations"
    folder.mkdir()
    for version in ("0001", "0003"):
        (folder / f"{version}_t.up.sql").write_text(f"CREATE TABLE t{version} (id int);\n")
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up()
    for version in ("0002", "0004"):
        (folder / f"{version}_t.up.sql").write_text(f"CREATE TABLE t{version} (id int);\n")
    with pytest.raises(UsageError, match=r"0002_t is older than 0003_t, the newest applied"):
        migrator.baseline("0004")
    assert [v for v, _, _ in _rows(pg_database.dsn)] == ["0001", "0003"]  # nothing marked
    # Newer ones only: allowed.
    (folder / "0002_t.up.sql").unlink()
    assert [m.label for m in migrator.baseline("0004")] == ["0004_t"]
