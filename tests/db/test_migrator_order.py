"""The migrator and the order of migrations, against a real PostgreSQL: out-of-order migrations,
``down`` in the order they were applied, renamed files, and the tracking table's applied rank."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg
import pytest

from plimsoll.db import migrations as files
from plimsoll.db.migrator import DriftError, Migrator, Settings

USERS = "20261101000000_users"
ALICE = "20261124100000_alice_orders"
BOB = "20261124090000_bob_items"

FIRST = {
    f"{USERS}.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY);\n",
    f"{USERS}.down.sql": "DROP TABLE users;\n",
    f"{ALICE}.up.sql": "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\n",
    f"{ALICE}.down.sql": "DROP TABLE orders;\n",
}
# Bob's branch merged after Alice's was deployed: older by its timestamp, but it needs her table.
LATE = {
    f"{BOB}.up.sql": "CREATE TABLE items (id bigint PRIMARY KEY, order_id bigint REFERENCES orders);\n",
    f"{BOB}.down.sql": "DROP TABLE items;\n",
}


def _write(folder: Path, texts: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text)
    return folder


def _tracked(dsn: str) -> list[tuple[str, int]]:
    """(version, applied_rank) of each tracking row, in the order they were applied."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT version, applied_rank FROM plimsoll_migrations ORDER BY applied_rank"
        ).fetchall()
    return [(str(v), int(r)) for v, r in rows]


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows} - {"plimsoll_migrations"}


def test_an_out_of_order_migration_is_refused_then_applied_when_asked_and_reverted_first(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(tmp_path / "m", FIRST)
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up()
    _write(folder, LATE)

    status = migrator.status()
    assert [m.label for m in status.out_of_order] == [BOB]
    assert status.newest_applied == ALICE
    with pytest.raises(files.OutOfOrderError, match=f"{BOB} is older than .* {ALICE}"):
        migrator.up()
    assert _tables(pg_database.dsn) == {"users", "orders"}  # nothing applied

    report = migrator.up(out_of_order=True)
    assert [(s.version, s.out_of_order) for s in report.steps] == [("20261124090000", True)]
    assert [v for v, _ in _tracked(pg_database.dsn)] == [
        "20261101000000",
        "20261124100000",
        "20261124090000",
    ]
    # The newest applied is Bob's, applied last, whose table needs Alice's: reverted first.
    reverted = migrator.down(steps=1)
    assert [s.version for s in reverted.steps] == ["20261124090000"]
    assert _tables(pg_database.dsn) == {"users", "orders"}
    # Allowed by the settings (db.out_of_order = true): applied, said so.
    allowed = Migrator(pg_database.dsn, folder, Settings(out_of_order=True))
    assert [s.out_of_order for s in allowed.up().steps] == [True]
    reverted = migrator.down(target="20261101000000")
    assert [s.version for s in reverted.steps] == ["20261124090000", "20261124100000"]
    assert _tables(pg_database.dsn) == {"users"}


def test_apply_refuses_an_out_of_order_migration_unless_the_settings_allow_it(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(tmp_path / "m", FIRST)
    Migrator(pg_database.dsn, folder).up()
    _write(folder, LATE)
    late = [m for m in files.discover(folder) if m.label == BOB]
    with pytest.raises(files.OutOfOrderError):
        Migrator(pg_database.dsn, folder).apply(late)
    steps = Migrator(pg_database.dsn, folder, Settings(out_of_order=True)).apply(late).steps
    assert [(s.version, s.out_of_order) for s in steps] == [("20261124090000", True)]


def test_a_renamed_applied_file_is_drift_and_refused_unless_allowed(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id int);\n"})
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up()
    (folder / "1_a.up.sql").rename(folder / "1_first.up.sql")
    _write(folder, {"2_b.up.sql": "CREATE TABLE b (id int);\n"})
    (drift,) = migrator.status().drift
    assert (drift.label, drift.kind, drift.problem) == (
        "1_first",
        files.DriftKind.RENAMED,
        "renamed from 1_a",
    )
    with pytest.raises(DriftError, match="1_first: renamed from 1_a"):
        migrator.up()
    assert [s.version for s in migrator.up(allow_changed=True).steps] == ["2"]


def test_a_tracking_table_of_the_old_layout_is_read_and_ranked_by_when_rows_were_applied(
    pg_database: Any, tmp_path: Path
) -> None:
    # A table made before the applied rank existed: 3 was applied before 2 (out of order),
    # and 4 and 5 in one transaction (one applied_at, so their version decides).
    folder = _write(
        tmp_path / "m",
        {f"{v}_m.up.sql": f"CREATE TABLE t{v} ();\n" for v in range(1, 6)}
        | {f"{v}_m.down.sql": f"DROP TABLE t{v};\n" for v in range(1, 6)},
    )
    found = {m.version: m for m in files.discover(folder)}
    with psycopg.connect(pg_database.dsn) as conn:
        conn.execute(
            "CREATE TABLE plimsoll_migrations (version text PRIMARY KEY, name text NOT NULL,"
            " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
            " execution_ms integer NOT NULL, applied_by text NOT NULL DEFAULT current_user)"
        )
        for version, at in (
            ("1", "2026-01-01"),
            ("3", "2026-01-02"),
            ("2", "2026-01-03"),
            ("5", "2026-01-04"),
            ("4", "2026-01-04"),
        ):
            conn.execute(f"CREATE TABLE t{version} ()")
            conn.execute(
                "INSERT INTO plimsoll_migrations (version, name, checksum, applied_at,"
                " execution_ms) VALUES (%s, 'm', %s, %s, 1)",
                (version, found[version].checksum, at),
            )
    migrator = Migrator(pg_database.dsn, folder)
    status = migrator.status()  # read as it is: status changes nothing
    assert [r.version for r in status.applied] == ["1", "2", "3", "4", "5"]
    assert [r.applied_rank for r in status.applied] == [None] * 5
    # The first run under the lock adds the rank, numbered in the order rows were applied.
    assert [s.version for s in migrator.down(steps=2).steps] == ["5", "4"]
    assert _tracked(pg_database.dsn) == [("1", 1), ("3", 2), ("2", 3)]
    assert [s.version for s in migrator.down(steps=1).steps] == ["2"]
    # New rows are numbered after the old ones.
    migrator.up(out_of_order=True)
    assert _tracked(pg_database.dsn) == [("1", 1), ("3", 2), ("2", 6), ("4", 7), ("5", 8)]


def test_a_misnamed_file_is_warned_about_once_per_migrator(
    pg_database: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _write(
        tmp_path / "m",
        {"1_a.up.sql": "CREATE TABLE a ();\n", "1_a.down.sql": "DROP TABLE a;\n", "2_b.up.sq": ""},
    )
    migrator = Migrator(pg_database.dsn, folder)
    with caplog.at_level(logging.WARNING, logger="plimsoll"):
        migrator.status()
        migrator.up()
        migrator.down()
    warned = [r.getMessage() for r in caplog.records if "2_b.up.sq" in r.getMessage()]
    assert warned == [f"{folder / '2_b.up.sq'}: not a migration file name; {files.EXPECTED}"]
