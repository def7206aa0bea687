"""Dry-run against a real PostgreSQL: timings, locks and rows captured, nothing left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from plimsoll.db.dry_run import dry_run
from plimsoll.db.migrator import Migrator

SNAPSHOT = """
SELECT c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'public' ORDER BY 1, 3
"""


def _snapshot(dsn: str) -> tuple[list[Any], list[Any], list[Any]]:
    with psycopg.connect(dsn) as conn:
        catalog = conn.execute(SNAPSHOT).fetchall()
        constraints = conn.execute(
            "SELECT conname, contype FROM pg_constraint c JOIN pg_namespace n"
            " ON n.oid = c.connamespace WHERE n.nspname = 'public' ORDER BY 1"
        ).fetchall()
        rows = conn.execute("SELECT * FROM items ORDER BY id").fetchall()
    return catalog, constraints, rows


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_dry_run_captures_and_leaves_nothing_behind(pg_database: Any, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "1_items.up.sql": "CREATE TABLE items (id int PRIMARY KEY, name text);\n"
            "INSERT INTO items VALUES (1, 'a'), (2, 'b');\n",
            "2_more.up.sql": "ALTER TABLE items ADD COLUMN price int NOT NULL DEFAULT 0;\n"
            "UPDATE items SET price = 5;\n"
            "CREATE INDEX items_name ON items (name);\n",
            "3_concurrent.up.sql": "CREATE INDEX CONCURRENTLY items_price ON items (price);\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up(target="1")
    before = _snapshot(pg_database.dsn)
    report = dry_run(migrator)
    assert report.rolled_back
    assert _snapshot(pg_database.dsn) == before  # schema, constraints and data unchanged
    assert migrator.status().current == "1"
    more, concurrent = report.migrations
    alter, update, index = more.statements
    assert update.rows == 2 and update.kind == "UpdateStmt"
    assert ("AccessExclusiveLock", "items") in {(lk.mode, lk.relation) for lk in alter.locks}
    assert ("ShareLock", "items") in {(lk.mode, lk.relation) for lk in index.locks}
    assert all(s.duration_ms >= 0 for s in more.statements)
    assert not concurrent.dry_runnable and "CONCURRENTLY" in (concurrent.reason or "").upper()
    assert report.failed


def test_a_failing_statement_is_reported_and_rolled_back(pg_database: Any, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "1_items.up.sql": "CREATE TABLE items (id int PRIMARY KEY);\n",
            "2_bad.up.sql": "INSERT INTO items VALUES (1);\nINSERT INTO items VALUES (1);\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    report = dry_run(migrator)
    assert report.migrations[-1].error is not None
    assert "2_bad.up.sql:2:" in report.migrations[-1].error
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('items')").fetchone() == (None,)
