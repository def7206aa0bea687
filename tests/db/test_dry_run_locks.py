"""Dry-run locks against a real PostgreSQL: every lock each statement needs, named in full.

A statement lists the locks ``pg_locks`` shows it took, and those its kind takes that the dry
run's one transaction held already (an earlier statement or migration took them): the real
``up``, one transaction per migration, takes those anew. Each is compared with what
PostgreSQL itself shows for the statement run alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plimsoll.db.dry_run import LockState, StatementRun, dry_run
from plimsoll.db.migrator import Migrator, Settings

USERS = "CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE);\n"
ORDERS = (
    "CREATE TABLE o (id int, u int REFERENCES users (id));\n"
    "CREATE INDEX o_u ON o (u);\n"
    "INSERT INTO users VALUES (1, 'a');\n"
)
# Relation locks of this backend, schema-qualified, outside the system catalogs and TOAST.
HELD = """
SELECT n.nspname || '.' || c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation'
  AND n.nspname NOT IN ('pg_catalog', 'pg_toast')
"""
# Relation locks of this backend on relations that no longer exist.
VANISHED = """
SELECT count(*) FROM pg_locks l
WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation'
  AND NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = l.relation)
"""


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _relations(statement: StatementRun) -> set[tuple[str, str]]:
    """Every relation lock the statement needs: new or held already."""
    return {(lock.mode, lock.relation) for lock in statement.locks if lock.relation}


def _new(statement: StatementRun) -> set[tuple[str, str]]:
    return {
        (lock.mode, lock.relation)
        for lock in statement.locks
        if lock.relation and lock.state is LockState.NEW
    }


def _held(statement: StatementRun) -> dict[tuple[str, str], str | None]:
    return {
        (lock.mode, lock.relation): lock.held_since
        for lock in statement.locks
        if lock.state is LockState.HELD
    }


def _seen_by_postgres(pg_database: Any, setup: list[str], statement: str) -> set[tuple[str, str]]:
    """What PostgreSQL shows ``statement`` taking in a transaction of its own, after ``setup``
    (run in the same transaction), all rolled back."""
    with pg_database.connect() as conn:
        for text in setup:
            conn.execute(text)
        before = set(conn.execute(HELD).fetchall())
        conn.execute(statement)
        after = set(conn.execute(HELD).fetchall())
        conn.rollback()
    return {(mode, name) for name, mode in after - before if name != "pg_catalog.pg_locks"}


def test_each_statement_lists_the_locks_it_took_and_none_of_the_trackers(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _folder(tmp_path, {"0001_users.up.sql": USERS, "0002_orders.up.sql": ORDERS})
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up(target="0001")
    (orders,) = dry_run(migrator).migrations
    create, index, insert = orders.statements
    # The INSERT takes RowExclusiveLock on users and nothing on o or its index.
    create_text, index_text, insert_text = ORDERS.splitlines()
    assert ("RowExclusiveLock", "public.users") in _relations(insert)
    assert _relations(insert) == _seen_by_postgres(
        pg_database, [create_text, index_text], insert_text
    )
    assert not {name for _, name in _relations(insert)} & {"public.o", "public.o_u"}
    assert ("ShareLock", "public.o") in _new(index)
    assert ("AccessExclusiveLock", "public.o_u") in _new(index)
    # Held since CREATE TABLE, but CREATE INDEX does not need it: not listed.
    assert ("AccessExclusiveLock", "public.o") in _new(create)
    assert ("AccessExclusiveLock", "public.o") not in _relations(index)
    assert ("ShareRowExclusiveLock", "public.users") in _new(create)  # the foreign key
    for statement in orders.statements:
        assert not any("plimsoll_migrations" in lk.relation for lk in statement.locks)


def test_an_upgrade_is_new_a_repeat_is_held_and_a_tracking_table_elsewhere_is_hidden(
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
    assert _new(share) == {("AccessShareLock", "public.pg_things")}
    assert _new(exclusive) == {("AccessExclusiveLock", "public.pg_things")}
    # The repeat takes nothing new; it needs the lock the first statement took.
    assert _new(again) == set()
    assert _held(again) == {("AccessShareLock", "public.pg_things"): "2_locks line 1"}
    # Even a statement reading the tracking table shows nothing of it or its primary key.
    assert read.rows == 1 and read.locks == ()


# The reviewer's case: the dry run runs all three in one transaction, the real up each in its own.
BIG = {
    "0001_big.up.sql": "CREATE TABLE big (id bigserial PRIMARY KEY, x int);\n"
    "INSERT INTO big (x) SELECT g FROM generate_series(1, 1000) g;\n",
    "0002_a.up.sql": "ALTER TABLE big ADD COLUMN a boolean;\n",
    "0003_rows.up.sql": "DELETE FROM big WHERE id > 990;\nUPDATE big SET x = x + 1 WHERE id < 10;\n",
    "0004_b.up.sql": "ALTER TABLE big ADD COLUMN b boolean;\n",
}


def test_locks_held_since_an_earlier_statement_or_migration_are_listed(
    pg_database: Any, tmp_path: Path
) -> None:
    migrator = Migrator(pg_database.dsn, _folder(tmp_path, BIG))
    migrator.up(target="0001")
    report = dry_run(migrator)
    assert not report.failed
    a, rows, b = report.migrations
    (add_a,) = a.statements
    delete, update = rows.statements
    (add_b,) = b.statements
    assert _new(add_a) == {("AccessExclusiveLock", "public.big")}
    # The last migration needs ACCESS EXCLUSIVE on big: held since 0002, not "-".
    assert _new(add_b) == set()
    assert _held(add_b) == {("AccessExclusiveLock", "public.big"): "0002_a line 1"}
    # The UPDATE's ROW EXCLUSIVE was taken by the DELETE just before it.
    assert _held(update) == {("RowExclusiveLock", "public.big"): "0003_rows line 1"}
    assert ("RowExclusiveLock", "public.big") in _new(delete)
    # What PostgreSQL shows each taking in a transaction of its own (the real up).
    assert _relations(add_b) == _seen_by_postgres(pg_database, [], BIG["0004_b.up.sql"])
    table_locks = {lock for lock in _seen_by_postgres(pg_database, [], "UPDATE big SET x = x")}
    assert ("RowExclusiveLock", "public.big") in table_locks & _relations(update)


def test_names_are_schema_qualified_and_relations_of_a_rewrite_are_counted(
    pg_database: Any, tmp_path: Path
) -> None:
    with pg_database.connect() as conn:
        conn.execute("CREATE TABLE other (id int)")
        conn.execute("INSERT INTO other VALUES (1)")
        conn.execute("CREATE TABLE big (id int)")
    rewrite = "ALTER TABLE other ADD COLUMN v uuid DEFAULT gen_random_uuid();\n"
    folder = _folder(
        tmp_path,
        {
            "1_s2.up.sql": "CREATE SCHEMA s2;\nCREATE TABLE s2.big (id int);\n",
            "2_rewrite.up.sql": rewrite,
        },
    )
    (schema, rewritten) = dry_run(Migrator(pg_database.dsn, folder)).migrations
    _, create = schema.statements
    assert _new(create) == {("AccessExclusiveLock", "s2.big")}  # not public.big, not "big"
    (alter,) = rewritten.statements
    assert _relations(alter) == _seen_by_postgres(pg_database, [], rewrite)
    assert ("AccessExclusiveLock", "public.other") in _relations(alter)
    # The rewrite's new files, created and dropped by the statement: counted, not listed.
    with pg_database.connect() as conn:
        before = conn.execute(VANISHED).fetchone()
        conn.execute(rewrite)
        after = conn.execute(VANISHED).fetchone()
        conn.rollback()
    assert before is not None and after is not None
    assert alter.transient_locks == after[0] - before[0] >= 1
    named = [lock.relation for lock in alter.locks if lock.locktype == "relation"]
    assert named and all("." in name and not name.isdigit() for name in named)


def test_a_relation_dropped_without_being_named_keeps_its_name(
    pg_database: Any, tmp_path: Path
) -> None:
    with pg_database.connect() as conn:
        conn.execute("CREATE SCHEMA s3")
        conn.execute("CREATE TABLE s3.t (id int, note text)")
    folder = _folder(tmp_path, {"1_drop.up.sql": "DROP SCHEMA s3 CASCADE;\n"})
    ((drop,),) = (m.statements for m in dry_run(Migrator(pg_database.dsn, folder)).migrations)
    # DROP SCHEMA names no table: the one it dropped is named from the committed catalog.
    assert ("AccessExclusiveLock", "s3.t") in _new(drop)
    assert drop.transient_locks == 0
    assert not any(lock.relation.startswith("pg_toast") for lock in drop.locks)
