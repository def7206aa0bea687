"""The differ: pure ordering and SQL on in-memory catalogs, then round trips on a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from plimsoll.core.errors import UsageError
from plimsoll.db.catalog import (
    Catalog,
    Column,
    Constraint,
    DomainType,
    EnumType,
    Index,
    Table,
    View,
)
from plimsoll.db.diff import ChangeKind, diff, generate, migration_sql
from plimsoll.db.introspect import introspect
from plimsoll.db.migrator import Migrator
from tests.support.postgres import PgDatabase, PgServer

READER = "plimsoll_diff_reader"


def _table(name: str, *columns: Column, constraints: tuple[Constraint, ...] = ()) -> Table:
    return Table("public", name, columns=columns, constraints=constraints)


# --- pure --------------------------------------------------------------------------------------


def test_equal_catalogs_have_no_changes() -> None:
    catalog = Catalog.of(schemas={"public"}, tables=[_table("t", Column("id", "integer"))])
    assert diff(catalog, catalog) == []


def test_added_table_with_foreign_key_is_created_before_its_key() -> None:
    parent = _table(
        "parent",
        Column("id", "integer", nullable=False),
        constraints=(Constraint("parent_pkey", "p", "PRIMARY KEY (id)"),),
    )
    child = _table(
        "child",
        Column("parent_id", "integer"),
        constraints=(
            Constraint("child_fk", "f", "FOREIGN KEY (parent_id) REFERENCES public.parent(id)"),
        ),
    )
    a = Catalog.of(schemas={"public"}, tables=[parent])
    b = Catalog.of(schemas={"public"}, tables=[parent, child])
    changes = diff(a, b)
    assert [(c.kind, c.object_type, c.name) for c in changes] == [
        (ChangeKind.ADDED, "table", "public.child"),
        (ChangeKind.ADDED, "constraint", "public.child.child_fk"),
    ]
    up, down = migration_sql(changes)
    assert up.index("CREATE TABLE public.child") < up.index("ADD CONSTRAINT child_fk")
    assert down.index("DROP CONSTRAINT child_fk") < down.index("DROP TABLE public.child")


def test_column_type_default_and_nullability_steps() -> None:
    a = Catalog.of(tables=[_table("t", Column("n", "integer", default="0"))])
    b = Catalog.of(tables=[_table("t", Column("n", "bigint", nullable=False, default="1"))])
    [change] = diff(a, b)
    assert change.kind is ChangeKind.CHANGED
    assert "type integer -> bigint" in change.detail
    assert change.up_sql.splitlines() == [
        "ALTER TABLE public.t ALTER COLUMN n DROP DEFAULT;",
        "ALTER TABLE public.t ALTER COLUMN n TYPE bigint USING n::bigint;",
        "ALTER TABLE public.t ALTER COLUMN n SET NOT NULL;",
        "ALTER TABLE public.t ALTER COLUMN n SET DEFAULT 1;",
    ]
    assert change.down_sql.splitlines() == [
        "ALTER TABLE public.t ALTER COLUMN n DROP DEFAULT;",
        "ALTER TABLE public.t ALTER COLUMN n DROP NOT NULL;",
        "ALTER TABLE public.t ALTER COLUMN n TYPE integer USING n::integer;",
        "ALTER TABLE public.t ALTER COLUMN n SET DEFAULT 0;",
    ]


def test_views_are_dropped_and_created_in_dependency_order() -> None:
    t = _table("t", Column("a", "integer"))
    t2 = _table("t", Column("a", "bigint"))
    base = View("public", "base", " SELECT t.a FROM public.t;", depends_on=("public.t",))
    top = View("public", "top", " SELECT base.a FROM public.base;", depends_on=("public.base",))
    a = Catalog.of(tables=[t], views=[base, top])
    b = Catalog.of(tables=[t2], views=[base, top])
    up, down = migration_sql(diff(a, b))
    # Both views read the retyped column (one through the other): rebuilt around the change.
    assert (
        up.index("DROP VIEW public.top")
        < up.index("DROP VIEW public.base")
        < up.index("TYPE bigint")
        < up.index("CREATE VIEW public.base")
        < up.index("CREATE VIEW public.top")
    )
    assert down.index("DROP VIEW public.top") < down.index("TYPE integer")
    assert down.index("CREATE VIEW public.base") < down.index("CREATE VIEW public.top")


def test_index_change_is_drop_then_create() -> None:
    a = Catalog.of(
        tables=[
            Table(
                "public", "t", indexes=(Index("i", "CREATE INDEX i ON public.t USING btree (a)"),)
            )
        ]
    )
    b = Catalog.of(
        tables=[
            Table(
                "public",
                "t",
                indexes=(Index("i", "CREATE INDEX i ON public.t USING btree (a, b)"),),
            )
        ]
    )
    [change] = diff(a, b)
    assert change.up_sql == "DROP INDEX public.i;\nCREATE INDEX i ON public.t USING btree (a, b);"


def test_enum_label_added_is_add_value_and_its_way_back_a_recreation() -> None:
    a = Catalog.of(enums=[EnumType("public", "mood", ("a",))])
    b = Catalog.of(enums=[EnumType("public", "mood", ("a", "b"))])
    [change] = diff(a, b)
    assert change.kind is ChangeKind.CHANGED and "a, b" in change.detail
    assert not change.destructive
    assert change.up_sql == "ALTER TYPE public.mood ADD VALUE 'b' AFTER 'a';"
    up, down = migration_sql([change])
    assert up == change.up_sql
    # Going back removes the label: the down script says so above the recreation.
    assert down.splitlines() == [
        "-- destructive: removes label 'b' from enum public.mood",
        "ALTER TYPE public.mood RENAME TO mood_old;",
        "CREATE TYPE public.mood AS ENUM ('a');",
        "",
        "DROP TYPE public.mood_old;",
    ]


def test_a_change_without_ddl_is_refused(tmp_path: Path) -> None:
    a = Catalog.of(domains=[DomainType("public", "d", "integer")])
    b = Catalog.of(domains=[DomainType("public", "d", "bigint")])
    [change] = diff(a, b)
    assert change.steps == () and "base type integer -> bigint" in change.detail
    with pytest.raises(UsageError, match="domain public.d"):
        generate([change], "domain", tmp_path)
    assert not list(tmp_path.iterdir())


def test_generate_names_the_next_version(tmp_path: Path) -> None:
    (tmp_path / "0003_first.up.sql").write_text("SELECT 1;\n")
    a = Catalog.of()
    b = Catalog.of(schemas={"extra"})
    up, down = generate(diff(a, b), "add_extra", tmp_path)
    assert up.name == "0004_add_extra.up.sql" and down.name == "0004_add_extra.down.sql"
    assert "CREATE SCHEMA extra;" in up.read_text()
    assert "DROP SCHEMA extra;" in down.read_text()


# --- against the real server -------------------------------------------------------------------

SCHEMA_A = """
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('happy', 'sad');
CREATE TABLE app.customers (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    name text,
    age integer DEFAULT 0,
    status text DEFAULT 'new',
    CONSTRAINT customers_email_key UNIQUE (email)
);
CREATE TABLE app.orders (
    id serial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES app.customers (id),
    amount numeric(10, 2) NOT NULL,
    note varchar(50),
    updated_at timestamptz
);
CREATE INDEX orders_customer_idx ON app.orders (customer_id);
CREATE TABLE app.legacy (id integer PRIMARY KEY, payload text, owner_id bigint
    REFERENCES app.customers (id));
CREATE INDEX legacy_payload_idx ON app.legacy (payload);
COMMENT ON TABLE app.legacy IS 'going away';
CREATE VIEW app.order_totals AS
    SELECT customer_id, sum(amount) AS total FROM app.orders GROUP BY customer_id;
CREATE VIEW app.old_report AS SELECT id, payload FROM app.legacy;
COMMENT ON TABLE app.customers IS 'people who buy';
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RETURN NEW; END $$;
CREATE FUNCTION app.legacy_count() RETURNS bigint LANGUAGE sql AS $$
SELECT count(*) FROM app.legacy $$;
GRANT SELECT ON app.legacy TO plimsoll_diff_reader;
"""

SCHEMA_B = """
CREATE SCHEMA app;
CREATE SCHEMA billing;
CREATE TYPE app.mood AS ENUM ('happy', 'sad');
CREATE TABLE app.customers (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    name text NOT NULL,
    age bigint DEFAULT 18,
    mood app.mood DEFAULT 'happy',
    CONSTRAINT customers_email_key UNIQUE (email),
    CONSTRAINT customers_age_check CHECK (age >= 0)
);
CREATE TABLE app.orders (
    id serial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES app.customers (id) ON DELETE CASCADE,
    amount numeric(12, 2) NOT NULL,
    note text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_idx ON app.orders (customer_id, id);
CREATE UNIQUE INDEX orders_note_idx ON app.orders (note) WHERE note IS NOT NULL;
COMMENT ON COLUMN app.orders.note IS 'free text';
CREATE TABLE billing.invoices (
    id bigserial PRIMARY KEY,
    order_id integer NOT NULL REFERENCES app.orders (id),
    total numeric NOT NULL CHECK (total >= 0),
    issued_on date DEFAULT current_date
);
CREATE INDEX invoices_order_idx ON billing.invoices (order_id);
COMMENT ON TABLE billing.invoices IS 'one per order';
CREATE VIEW app.order_totals AS
    SELECT customer_id, sum(amount) AS total, count(*) AS orders
    FROM app.orders GROUP BY customer_id;
CREATE VIEW app.big_spenders AS SELECT customer_id FROM app.order_totals WHERE total > 100;
COMMENT ON VIEW app.big_spenders IS 'for the sales team';
COMMENT ON TABLE app.customers IS 'people who buy things';
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE FUNCTION billing.invoice_total(o integer) RETURNS numeric LANGUAGE sql STABLE AS $$
SELECT coalesce(sum(total), 0) FROM billing.invoices WHERE order_id = o $$;
COMMENT ON FUNCTION billing.invoice_total(integer) IS 'sum of an order''s invoices';
CREATE TRIGGER orders_touch BEFORE UPDATE ON app.orders
    FOR EACH ROW EXECUTE FUNCTION app.touch();
GRANT SELECT ON app.customers TO plimsoll_diff_reader;
GRANT SELECT, INSERT ON billing.invoices TO plimsoll_diff_reader;
GRANT SELECT ON app.order_totals TO plimsoll_diff_reader;
ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY orders_reader ON app.orders FOR SELECT TO plimsoll_diff_reader
    USING (amount > 0);
"""


@pytest.fixture(scope="module")
def reader_role(pg_server: PgServer) -> Iterator[str]:
    """A role to grant to (roles belong to the server, so it is made once and dropped after)."""
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER,)).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(READER)))
    yield READER
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(READER)))


@pytest.fixture
def other_database(pg_server: PgServer) -> Iterator[str]:
    """A second fresh database (B), dropped afterwards."""
    name = f"t_diff_b_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        yield pg_server.dsn_for(name)
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _run(dsn: str, script: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(script)  # type: ignore[arg-type]


def test_diff_of_two_databases_lists_the_differences(
    pg_database: PgDatabase, other_database: str, reader_role: str
) -> None:
    _run(pg_database.dsn, SCHEMA_A)
    _run(other_database, SCHEMA_B)
    changes = diff(introspect(pg_database.dsn), introspect(other_database))
    found = {(c.kind.value, c.object_type, c.name) for c in changes}
    expected = {
        ("added", "schema", "billing"),
        ("added", "table", "billing.invoices"),
        ("removed", "table", "app.legacy"),
        ("removed", "column", "app.customers.status"),
        ("added", "column", "app.customers.mood"),
        ("changed", "column", "app.customers.age"),
        ("changed", "column", "app.customers.name"),
        ("changed", "column", "app.orders.amount"),
        ("added", "constraint", "app.customers.customers_age_check"),
        ("changed", "constraint", "app.orders.orders_customer_id_fkey"),
        ("changed", "index", "app.orders.orders_customer_idx"),
        ("added", "index", "app.orders.orders_note_idx"),
        ("changed", "view", "app.order_totals"),
        ("added", "view", "app.big_spenders"),
        ("removed", "view", "app.old_report"),
        ("changed", "function", "app.touch()"),
        ("added", "function", "billing.invoice_total(integer)"),
        ("removed", "function", "app.legacy_count()"),
        ("added", "trigger", "app.orders.orders_touch"),
        ("added", "policy", "app.orders.orders_reader"),
        ("changed", "row level security", "app.orders"),
        ("changed", "comment", "app.customers"),
        ("added", "grant", "app.customers"),
        ("added", "sequence", "billing.invoices_id_seq"),
    }
    assert expected <= found, sorted(expected - found)
    by_name = {(c.object_type, c.name): c for c in changes}
    age = by_name[("column", "app.customers.age")]
    assert "type integer -> bigint" in age.detail and "default 0 -> 18" in age.detail
    assert "NOT NULL" in by_name[("column", "app.customers.name")].detail


def test_generated_migration_round_trips(
    pg_database: PgDatabase, other_database: str, reader_role: str, tmp_path: Path
) -> None:
    _run(pg_database.dsn, SCHEMA_A)
    _run(other_database, SCHEMA_B)
    original = introspect(pg_database.dsn)
    target = introspect(other_database)
    changes = diff(original, target)
    up_file, down_file = generate(changes, "to_b", tmp_path)
    assert up_file.name == "0001_to_b.up.sql"

    migrator = Migrator(pg_database.dsn, tmp_path)
    migrator.up()
    remaining = diff(introspect(pg_database.dsn), target)
    assert remaining == [], [(c.name, c.detail, c.up_sql) for c in remaining]

    migrator.down()
    back = diff(introspect(pg_database.dsn), original)
    assert back == [], [(c.name, c.detail, c.up_sql) for c in back]


# --- the command -------------------------------------------------------------------------------

# The real entry point with `db diff` registered the way main.py will register it.
_RUNNER = (
    "import sys\n"
    "from plimsoll.cli import db, main\n"
    "from plimsoll.cli.db_diff import diff\n"
    "db.app.command(name='diff')(diff)\n"
    "sys.argv = ['plimsoll', *sys.argv[1:]]\n"
    "main.run()\n"
)


def _plimsoll(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _RUNNER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CI": "true", "NO_COLOR": "1"},
    )


def test_command_compares_an_environment_with_the_built_schema(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    root = tmp_path / "service"
    (root / "db" / "schema").mkdir(parents=True)
    (root / "db" / "schema" / "tables.sql").write_text(
        "CREATE TABLE public.users (id bigint PRIMARY KEY, email text NOT NULL);\n"
    )
    (root / "plimsoll.toml").write_text(
        f'[db.environments.development]\nurl = "{pg_database.dsn}"\n'
        '[db.environments.down]\nurl = "postgresql://app:s3cret-pw@127.0.0.1:1/app"\n'
    )
    _run(pg_database.dsn, "CREATE TABLE public.users (id bigint PRIMARY KEY)")

    done = _plimsoll(root, "db", "diff", "--from", "development", "--to", "built", "-f", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [(c["kind"], c["name"]) for c in report["changes"]] == [("added", "public.users.email")]
    # A NOT NULL column without a default fails on a table with rows (this one has none).
    assert report["changes"][0]["destructive_reasons"] == [
        "adds NOT NULL column public.users.email without a default: fails if public.users has rows"
    ]
    assert report["to"] == "built"

    done = _plimsoll(
        root, "db", "diff", "--from", "development", "--to", "built", "--generate", "add_email"
    )
    assert done.returncode == 1, done.stderr
    assert "public.users.email" in done.stdout
    up = root / "db" / "migrations" / "0001_add_email.up.sql"
    assert "ADD COLUMN email text NOT NULL" in up.read_text()

    Migrator(pg_database.dsn, root / "db" / "migrations").up()
    same = _plimsoll(root, "db", "diff", "--from", "built", "--to", pg_database.dsn)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no differences" in same.stdout

    down = _plimsoll(root, "db", "diff", "--from", "down", "--to", "development")
    assert down.returncode == 3
    assert "s3cret-pw" not in down.stdout + down.stderr
