"""Profiling before and after pending migrations: in the dry-run transaction, or on a copy."""

from __future__ import annotations

from pathlib import Path

import psycopg

from plimsoll.db.migrator import Migrator
from plimsoll.db.profiling.baselines import Status
from plimsoll.db.profiling.migration import Mode, profile_migrations
from plimsoll.db.profiling.profiler import QueryProfiler
from plimsoll.db.profiling.queries import parse_queries
from tests.db.profiling.conftest import QUERIES
from tests.support.postgres import PgDatabase


def _indexes(db: PgDatabase) -> set[str]:
    with db.connect() as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'")
        return {row[0] for row in rows}


def test_in_the_dry_run_transaction_nothing_is_kept(
    orders_db: PgDatabase, migrations: Path
) -> None:
    migrator = Migrator(orders_db.dsn, migrations)
    result = profile_migrations(
        QueryProfiler(runs=5), migrator, parse_queries(QUERIES), mode=Mode.TRANSACTION
    )
    assert result.problem is None and result.migrations == ["0001_reindex_orders"]
    assert result.dry_run is not None and result.dry_run.rolled_back
    verdicts = {old.query.key: (old, new, j) for old, new, j in result.comparisons}
    old, new, judgement = verdicts["by_customer"]
    assert judgement.status is Status.ERROR and result.status is Status.ERROR
    assert new.median is not None and old.median is not None and new.median > old.median
    assert any("Seq Scan" in node for node in new.measurements[-1].nodes)
    assert verdicts["big_amounts"][2].improved
    # Rolled back: the index is still there and the migration still pending.
    assert _indexes(orders_db) == {"orders_pkey", "orders_customer"}
    assert [m.version for m in migrator.status().pending] == ["0001"]
    payload = result.to_dict()
    assert payload["status"] == "error"
    assert {c["key"] for c in payload["comparisons"]} == {"by_customer", "big_amounts", "by_id"}


def test_a_concurrent_index_needs_the_copy_and_the_copy_is_dropped(
    orders_db: PgDatabase, migrations: Path
) -> None:
    (migrations / "0002_concurrent.up.sql").write_text(
        "CREATE INDEX CONCURRENTLY orders_note ON orders (note);\n"
    )
    queries = parse_queries(QUERIES + "-- name: by_note\nSELECT id FROM orders WHERE note = 'x';\n")
    migrator = Migrator(orders_db.dsn, migrations)
    # Five runs: "improved" needs the time below a 95% prediction interval (t = 4.3 for 3 runs).
    profiler = QueryProfiler(runs=5, measure_overhead=False)
    in_transaction = profile_migrations(profiler, migrator, queries)
    assert in_transaction.after is None and in_transaction.comparisons == []
    assert in_transaction.problem is not None
    assert "0002_concurrent cannot run inside a transaction" in in_transaction.problem
    assert "--copy" in in_transaction.problem

    on_copy = profile_migrations(profiler, migrator, queries, mode=Mode.COPY)
    assert on_copy.problem is None and on_copy.after is not None
    verdicts = {old.query.key: j for old, _, j in on_copy.comparisons}
    assert verdicts["by_customer"].status is Status.ERROR
    assert verdicts["by_note"].improved
    with orders_db.server.connect() as admin:
        left = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", ("%plimsoll_profile%",)
        ).fetchall()
    assert left == []
    assert _indexes(orders_db) == {"orders_pkey", "orders_customer"}


def test_nothing_pending_profiles_the_current_state(
    orders_db: PgDatabase, migrations: Path
) -> None:
    migrator = Migrator(orders_db.dsn, migrations)
    migrator.up()
    result = profile_migrations(QueryProfiler(runs=1), migrator, parse_queries(QUERIES))
    assert result.migrations == [] and result.after is None
    assert result.problem == "no pending migrations: profiled the current state only"
    assert len(result.before.profiles) == 3


def _server_error(db: PgDatabase, migration: str, query: str) -> str:
    """What PostgreSQL itself says when ``query`` runs after ``migration`` (rolled back)."""
    with db.connect() as conn:
        conn.execute(migration)
        try:
            conn.execute(query)
        except psycopg.Error as exc:
            return str(exc.diag.message_primary)
        finally:
            conn.rollback()
    raise AssertionError(f"{query} did not fail")


BREAKS = "ALTER TABLE orders DROP COLUMN note;\nCREATE TABLE tags (id int, tag text);\n"
NEVER = "-- name: never\nSELECT nosuch FROM orders;\n"
AFTER_ONLY = "-- name: tags\nSELECT count(*) FROM tags;\n"


def test_a_query_the_migration_breaks_is_an_error_one_failing_before_is_a_failure(
    orders_db: PgDatabase, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_drop_note.up.sql").write_text(BREAKS)
    migrator = Migrator(orders_db.dsn, folder)
    profiler = QueryProfiler(runs=2, measure_overhead=False)
    queries = parse_queries(QUERIES + NEVER + AFTER_ONLY, "q.sql")
    result = profile_migrations(profiler, migrator, queries)

    # by_id reads the dropped column: it ran before and fails after.
    assert result.status is Status.ERROR
    [(old, new, judgement)] = result.broken
    assert old.query.key == "by_id" and len(old.measurements) == 2
    assert new.measurements == () and judgement.status is Status.ERROR
    expected = _server_error(orders_db, BREAKS, "SELECT note FROM orders WHERE id = 77")
    assert judgement.broken == expected == 'column "note" does not exist'
    assert new.error == f"q.sql:8: {expected}"
    # never fails both times (not the migration's doing); tags runs after it only.
    assert [(o.query.key, n is not None and n.server_error) for o, n in result.failed] == [
        ("never", 'column "nosuch" does not exist')
    ]
    assert [(o.query.key, len(n.measurements)) for o, n in result.after_only] == [("tags", 2)]
    assert result.after is not None
    # Every query was selected and ran: two failed after, one (never) failed before.
    assert result.after.sampling.to_dict() == {
        "requested": 1.0,
        "actual": 1.0,
        "total": 5,
        "selected": 5,
        "profiled": 3,
        "failed": 2,
    }
    payload = result.to_dict()
    assert payload["status"] == "error" and payload["broken"] == ["by_id"]
    entry = next(c for c in payload["comparisons"] if c["key"] == "by_id")
    assert entry["after"] is None and entry["broken"] == expected and entry["plan_after"] == []
    assert [f["key"] for f in payload["failed"]] == ["never"]
    assert [f["key"] for f in payload["after_only"]] == ["tags"]
    # Rolled back: the column is still there.
    with orders_db.connect() as conn:
        assert conn.execute("SELECT note FROM orders WHERE id = 77").fetchone() is not None


def test_a_query_failing_before_and_after_alone_is_a_warning(
    orders_db: PgDatabase, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_drop_note.up.sql").write_text(BREAKS)
    migrator = Migrator(orders_db.dsn, folder)
    profiler = QueryProfiler(runs=1, measure_overhead=False)
    result = profile_migrations(profiler, migrator, parse_queries(NEVER + AFTER_ONLY))
    assert result.comparisons == [] and result.broken == []
    assert [o.query.key for o, _ in result.failed] == ["never"]
    assert result.status is Status.WARNING
    # Nothing pending: the failing query is a plain failure of the current state.
    migrator.up()
    current = profile_migrations(profiler, migrator, parse_queries(NEVER))
    assert current.after is None and [(o.query.key, n) for o, n in current.failed] == [
        ("never", None)
    ]
    assert current.status is Status.WARNING
