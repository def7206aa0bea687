"""Databases migrated by an earlier plimsoll keep working after the upgrade (real PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from plimsoll.db import migrations as files
from plimsoll.db.migrator import Migrator


def _folder(tmp_path: Path, names: dict[str, str]) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir(exist_ok=True)
    for name, text in names.items():
        (folder / name).write_text(text)
    return folder


def test_a_row_an_earlier_version_wrote_with_other_digits_is_read(
    pg_database: Any, tmp_path: Path
) -> None:
    # plimsoll before this version read `٦_arabic.up.sql` as version '٦' (Python's \d) and
    # applied it; every command then crashed on that row. Renamed to ASCII, it is the same one.
    text = "CREATE TABLE g (id int);\n"
    folder = _folder(tmp_path, {"0001_a.up.sql": "CREATE TABLE a (id int);\n"})
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up()
    with psycopg.connect(pg_database.dsn, autocommit=True) as conn:
        conn.execute(text)
        conn.execute(
            "INSERT INTO plimsoll_migrations (version, name, checksum, execution_ms)"
            " VALUES ('٦', 'arabic', %s, 1)",
            (files.checksum(text.encode()),),
        )
    _folder(tmp_path, {"6_arabic.up.sql": text})
    status = migrator.status()
    assert [m.label for m in status.pending] == [] and status.drift == ()
    assert migrator.up().steps == []


def test_one_and_one_point_zero_both_applied_stay_two_migrations(
    pg_database: Any, tmp_path: Path
) -> None:
    # Both were applied by every earlier version; comparing them as one version made their
    # rows ambiguous (wrong drift, down reverting the wrong one).
    folder = _folder(
        tmp_path,
        {
            "1_e.up.sql": "CREATE TABLE e (id int);\n",
            "1_e.down.sql": "DROP TABLE e;\n",
            "1.0_f.up.sql": "CREATE TABLE f (id int);\n",
            "1.0_f.down.sql": "DROP TABLE f;\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder)
    assert [s.version for s in migrator.up().steps] == ["1", "1.0"]
    status = migrator.status()
    assert status.drift == () and status.pending == ()
    assert [s.version for s in migrator.down().steps] == ["1.0"]
