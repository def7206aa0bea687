"""Dry-run locks against a real PostgreSQL: each statement lists only the locks it took."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plimsoll.db.dry_run import StatementRun, dry_run
from plimsoll.db.migrator import Migrator, Settings

USERS = "CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE);\n"
ORDERS = (
    "CREATE TABLE o (id int, u int REFERENCES users (id));\n"
    "CREATE INDEX o_u ON o (u);\n"
    "INSERT INTO users VALUES (1, 'a');\n"
)
# Relation locks of this backend, by name, outside the system catalogs.
HELD = """
SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = pg_backend_pid() AND n.nspname NOT IN ('pg_catalog', 'pg_toast')
"""


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _relations(statement: StatementRun) -> set[tuple[str, str]]:
    return {(lock.mode, lock.relation) for lock in statement.locks if lock.relation}


def _insert_locks_seen_by_postgres(pg_database: Any) -> set[tuple[str, str]]:
    """What PostgreSQL itself shows the INSERT taking, after the same two statements."""
    with pg_database.connect() as conn:
        create, index, insert = (s for s in ORDERS.splitlines())
        conn.execute(create)
        conn.execute(index)
        before = set(conn.execute(HELD).fetchall())
        conn.execute(insert)
        after = set(conn.execute(HELD).fetchall())
        conn.rollback()
    return {(mode, name) for name, mode in after - before if name != "pg_locks"}


def test_each_statement_lists_the_locks_it_took_and_none_of_the_trackers(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _folder(tmp_path, {"0001_users.up.sql": USERS, "0002_orders.up.sql": ORDERS})
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up(target="0001")
    (orders,) = dry_run(migrator).migrations
    create, index, insert = orders.statements
    # The INSERT takes RowExclusiveLock on users and nothing on o or its index.
    assert ("RowExclusiveLock", "users") in _relations(insert)
    assert _relations(insert) == _insert_locks_seen_by_postgres(pg_database)
    assert not {name for _, name in _relations(insert)} & {"o", "o_u"}
    assert ("ShareLock", "o") in _relations(index)
    assert ("AccessExclusiveLock", "o_u") in _relations(index)
    # Already held since CREATE TABLE: not taken again by CREATE INDEX.
    assert ("AccessExclusiveLock", "o") in _relations(create)
    assert ("AccessExclusiveLock", "o") not in _relations(index)
    assert ("ShareRowExclusiveLock", "users") in _relations(create)  # the foreign key
    for statement in orders.statements:
        assert not any(lk.relation.startswith("plimsoll_migrations") for lk in statement.locks)


def test_an_upgrade_is_new_a_repeat_is_not_and_a_tracking_table_elsewhere_is_hidden(
    pg_database: Any, tmp_path: Path
) -> None:
    with pg_database.connect() as conn:
        conn.execute("CREATE SCHEMA ops")
    folder = _folder(
        tmp_path,
        {
            "1_t.up.sql": "CREATE TABLE pg_things (id int);\n",
            "2_locks.up.sql": "LOCK TABLE pg_things IN ACCESS SHARE MODE;\n"
            "LOCK TABLE pg_things IN ACCESS EXCLUSIVE MODE;\n"
            "LOCK TABLE pg_things IN ACCESS SHARE MODE;\n"
            "SELECT count(*) FROM ops.migs;\n",
        },
    )
    migrator = Migrator(pg_database.dsn, folder, Settings(tracking_table="ops.migs"))
    migrator.up(target="1")
    (locks,) = dry_run(migrator).migrations
    share, exclusive, again, read = locks.statements
    # A user table named pg_* is not a catalog: its locks show.
    assert _relations(share) == {("AccessShareLock", "pg_things")}
    assert _relations(exclusive) == {("AccessExclusiveLock", "pg_things")}
    assert again.locks == ()
    # Even a statement reading the tracking table shows nothing of it or its primary key.
    assert read.rows == 1 and read.locks == ()
