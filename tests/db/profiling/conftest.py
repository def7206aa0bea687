"""A database with a table big enough that losing an index shows in EXPLAIN ANALYZE."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PgDatabase

ROWS = 200_000

ORDERS = f"""
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer integer NOT NULL,
    amount integer NOT NULL,
    note text NOT NULL
);
INSERT INTO orders
SELECT g, g % 5000, (g * 7919) % 1000, md5(g::text) FROM generate_series(1, {ROWS}) g;
CREATE INDEX orders_customer ON orders (customer);
ANALYZE orders;
"""

QUERIES = """\
-- name: by_customer
SELECT id, amount FROM orders WHERE customer = 4242;

-- name: big_amounts
SELECT count(*) FROM orders WHERE amount = 999;

-- name: by_id
SELECT note FROM orders WHERE id = 77;
"""

# Drops the index by_customer uses (a regression) and adds one big_amounts can use (an
# improvement); by_id keeps its primary key.
MIGRATION = "DROP INDEX orders_customer;\nCREATE INDEX orders_amount ON orders (amount);\n"


@pytest.fixture
def orders_db(pg_database: PgDatabase) -> Iterator[PgDatabase]:
    """``pg_database`` holding the orders table, its index and fresh statistics."""
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(ORDERS)
    yield pg_database


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """A migrations folder with one pending migration: MIGRATION."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_reindex_orders.up.sql").write_text(MIGRATION)
    (folder / "0001_reindex_orders.down.sql").write_text(
        "DROP INDEX orders_amount;\nCREATE INDEX orders_customer ON orders (customer);\n"
    )
    return folder
