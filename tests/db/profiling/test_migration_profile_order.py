"""``db.out_of_order``: profiling plans pending migrations as ``up`` does, older ones included."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.db.migrations import OutOfOrderError
from plimsoll.db.migrator import Migrator, Settings
from plimsoll.db.profiling.migration import Mode, profile_migrations
from plimsoll.db.profiling.profiler import QueryProfiler
from plimsoll.db.profiling.queries import parse_queries
from tests.support.postgres import PgDatabase

QUERIES = "-- name: by_customer\nSELECT id FROM orders WHERE customer = 7;\n"


@pytest.fixture
def late_migration(pg_database: PgDatabase, tmp_path: Path) -> Path:
    """A database with 0002 applied, and a migrations folder where 0001 is still pending."""
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE orders (id bigint PRIMARY KEY, customer integer NOT NULL);"
            " INSERT INTO orders SELECT g, g % 50 FROM generate_series(1, 500) g"
        )
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0002_note.up.sql").write_text("ALTER TABLE orders ADD COLUMN note text;\n")
    Migrator(pg_database.dsn, folder).up()
    (folder / "0001_by_customer.up.sql").write_text(
        "CREATE INDEX orders_customer ON orders (customer);\n"
    )
    return folder


@pytest.mark.parametrize("mode", [Mode.TRANSACTION, Mode.COPY])
def test_an_out_of_order_migration_is_profiled_when_allowed(
    pg_database: PgDatabase, late_migration: Path, mode: Mode
) -> None:
    queries = parse_queries(QUERIES)
    profiler = QueryProfiler(runs=3, measure_overhead=False)
    refused = Migrator(pg_database.dsn, late_migration)
    with pytest.raises(OutOfOrderError, match="0001"):
        profile_migrations(profiler, refused, queries, mode=mode)

    allowed = Migrator(pg_database.dsn, late_migration, Settings(out_of_order=True))
    result = profile_migrations(profiler, allowed, queries, mode=mode)
    assert result.problem is None and result.migrations == ["0001_by_customer"]
    assert result.after is not None
    # The migration's index was there for the "after" run, and only there.
    before, after = result.before.get("by_customer"), result.after.get("by_customer")
    assert before is not None and after is not None
    assert any("orders_customer" in node for node in after.measurements[-1].nodes)
    assert not any("orders_customer" in node for node in before.measurements[-1].nodes)
    with pg_database.connect() as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'")
        assert {row[0] for row in rows} == {"orders_pkey"}
