"""The catalog model and introspection of a real database into it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from plimsoll.db.catalog import (
    Attribute,
    Catalog,
    Column,
    CompositeType,
    Constraint,
    DomainType,
    EnumType,
    Grant,
    Index,
    Policy,
    Sequence,
    Table,
    Trigger,
    quote_ident,
    quote_literal,
)
from plimsoll.db.introspect import introspect
from tests.support.postgres import PgDatabase, PgServer

ROLE = "plimsoll_catalog_reader"

SCHEMA = """
CREATE SCHEMA shop;
CREATE TYPE shop.state AS ENUM ('open', 'closed');
CREATE SEQUENCE shop.ticket_seq INCREMENT BY 5 START WITH 100;
CREATE TABLE shop.items (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku varchar(20) NOT NULL,
    price numeric(8, 2) DEFAULT 0 NOT NULL,
    state shop.state DEFAULT 'open',
    ticket integer DEFAULT nextval('shop.ticket_seq'),
    price_cents bigint GENERATED ALWAYS AS ((price * 100)::bigint) STORED,
    CONSTRAINT items_sku_key UNIQUE (sku),
    CONSTRAINT items_price_check CHECK (price >= 0)
);
CREATE TABLE shop.lines (
    item_id bigint REFERENCES shop.items (id) ON DELETE CASCADE ON UPDATE RESTRICT,
    qty integer
);
CREATE INDEX lines_item_idx ON shop.lines (item_id) WHERE qty > 0;
COMMENT ON TABLE shop.items IS 'what we sell';
COMMENT ON COLUMN shop.items.sku IS 'stock keeping unit';
CREATE FUNCTION shop.stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
COMMENT ON FUNCTION shop.stamp() IS 'does nothing yet';
CREATE TRIGGER items_stamp BEFORE INSERT ON shop.items FOR EACH ROW EXECUTE FUNCTION shop.stamp();
CREATE VIEW shop.cheap AS SELECT id, sku FROM shop.items WHERE price < 10;
CREATE MATERIALIZED VIEW shop.counts AS SELECT count(*) AS n FROM shop.lines;
COMMENT ON VIEW shop.cheap IS 'under ten';
GRANT SELECT, UPDATE ON shop.items TO plimsoll_catalog_reader;
GRANT SELECT ON shop.cheap TO plimsoll_catalog_reader;
ALTER TABLE shop.items ENABLE ROW LEVEL SECURITY;
ALTER TABLE shop.items FORCE ROW LEVEL SECURITY;
CREATE POLICY items_open ON shop.items AS RESTRICTIVE FOR UPDATE TO plimsoll_catalog_reader
    USING (state = 'open') WITH CHECK (price > 0);
CREATE TABLE public.plimsoll_migrations (version text PRIMARY KEY);
"""


@pytest.fixture(scope="module")
def role(pg_server: PgServer) -> Iterator[str]:
    """A role to grant to, made once for the module."""
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone():
            admin.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(ROLE)))
    yield ROLE
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(ROLE)))


def test_quoting() -> None:
    assert quote_ident("users") == "users"
    assert quote_ident("User") == '"User"'
    assert quote_ident("order") == '"order"'
    assert quote_ident('a"b') == '"a""b"'
    assert quote_literal("it's") == "'it''s'"


def test_catalog_of_keys_objects_by_qualified_name() -> None:
    catalog = Catalog.of(tables=[Table("b", "t"), Table("a", "t")])
    assert list(catalog.tables) == ["a.t", "b.t"]
    assert catalog.object_count == 2


def test_catalog_of_types_extensions_and_schema_grants() -> None:
    catalog = Catalog.of(
        domains=[DomainType("b", "d", "integer"), DomainType("a", "d", "text")],
        composites=[CompositeType("a", "c", (Attribute("x", "integer"),))],
        extension_schemas={"citext": "public", "plpgsql": "pg_catalog"},
        schema_grants={"app": frozenset({Grant("USAGE", "PUBLIC")}), "empty": frozenset()},
    )
    assert list(catalog.domains) == ["a.d", "b.d"] and list(catalog.composites) == ["a.c"]
    # Extensions default to those whose schema is known; schemas without grants are left out.
    assert catalog.extensions == {"citext", "plpgsql"}
    assert list(catalog.schema_grants) == ["app"]
    assert catalog.object_count == 3
    # Where an extension lives is not part of equality; its grants and types are.
    assert catalog == Catalog.of(
        domains=[DomainType("a", "d", "text"), DomainType("b", "d", "integer")],
        composites=[CompositeType("a", "c", (Attribute("x", "integer"),))],
        extension_schemas={"citext": "ext", "plpgsql": "pg_catalog"},
        schema_grants={"app": frozenset({Grant("USAGE", "PUBLIC")})},
    )
    assert catalog != Catalog.of(extension_schemas={"citext": "public"})


def test_introspection_reads_every_object_kind(pg_database: PgDatabase, role: str) -> None:
    with pg_database.connect() as conn:
        conn.execute(SCHEMA)  # type: ignore[arg-type]
    catalog = introspect(pg_database.dsn)

    assert catalog.schemas == {"public", "shop"}
    assert "public.plimsoll_migrations" not in catalog.tables
    assert catalog.enums == {"shop.state": EnumType("shop", "state", ("open", "closed"))}
    assert catalog.sequences == {
        "shop.ticket_seq": Sequence("shop", "ticket_seq", "bigint", 100, 5, 1, 2**63 - 1, 1, False)
    }
    items = catalog.tables["shop.items"]
    assert items.columns == (
        Column("id", "bigint", nullable=False, identity="ALWAYS"),
        Column("sku", "character varying(20)", nullable=False, comment="stock keeping unit"),
        Column("price", "numeric(8,2)", nullable=False, default="0"),
        Column("state", "shop.state", default="'open'::shop.state"),
        Column("ticket", "integer", default="nextval('shop.ticket_seq'::regclass)"),
        Column(
            "price_cents",
            "bigint",
            default="((price * (100)::numeric))::bigint",
            generated=True,
        ),
    )
    assert items.constraints == (
        Constraint("items_pkey", "p", "PRIMARY KEY (id)"),
        Constraint("items_price_check", "c", "CHECK ((price >= (0)::numeric))"),
        Constraint("items_sku_key", "u", "UNIQUE (sku)"),
    )
    assert items.indexes == ()
    assert items.comment == "what we sell"
    assert items.rls_enabled and items.rls_forced
    assert items.policies == (
        Policy(
            "items_open",
            permissive=False,
            command="UPDATE",
            roles=(ROLE,),
            using="(state = 'open'::shop.state)",
            with_check="(price > (0)::numeric)",
        ),
    )
    assert items.triggers == (
        Trigger(
            "items_stamp",
            "CREATE TRIGGER items_stamp BEFORE INSERT ON shop.items FOR EACH ROW "
            "EXECUTE FUNCTION shop.stamp()",
        ),
    )
    assert items.grants == {Grant("SELECT", ROLE), Grant("UPDATE", ROLE)}

    lines = catalog.tables["shop.lines"]
    assert lines.constraints == (
        Constraint(
            "lines_item_id_fkey",
            "f",
            "FOREIGN KEY (item_id) REFERENCES shop.items(id) ON UPDATE RESTRICT ON DELETE CASCADE",
        ),
    )
    assert lines.indexes == (
        Index(
            "lines_item_idx",
            "CREATE INDEX lines_item_idx ON shop.lines USING btree (item_id) WHERE (qty > 0)",
        ),
    )

    cheap = catalog.views["shop.cheap"]
    assert not cheap.materialized and cheap.comment == "under ten"
    assert "FROM shop.items" in cheap.definition
    assert cheap.depends_on == ("shop.items",)
    assert cheap.grants == {Grant("SELECT", ROLE)}
    counts = catalog.views["shop.counts"]
    assert counts.materialized and counts.depends_on == ("shop.lines",)

    stamp = catalog.functions["shop.stamp()"]
    assert stamp.returns == "trigger" and stamp.comment == "does nothing yet"
    assert stamp.definition.startswith("CREATE OR REPLACE FUNCTION shop.stamp()")


def test_introspection_limited_to_schemas(pg_database: PgDatabase, role: str) -> None:
    with pg_database.connect() as conn:
        conn.execute(SCHEMA)  # type: ignore[arg-type]
        conn.execute("CREATE TABLE public.other (id integer)")
    only_public = introspect(pg_database.dsn, ["public"])
    assert only_public.schemas == {"public"}
    assert list(only_public.tables) == ["public.other"]
    assert not only_public.views and not only_public.functions


def test_introspection_reads_hundreds_of_tables_in_few_queries(pg_database: PgDatabase) -> None:
    with pg_database.connect() as conn:
        conn.execute(
            "DO $$ BEGIN FOR i IN 1..300 LOOP EXECUTE format("
            "'CREATE TABLE t%s (id integer PRIMARY KEY, v text DEFAULT ''x'')', i); END LOOP; END $$"
        )
    catalog = introspect(pg_database.dsn)
    assert len(catalog.tables) == 300
    assert catalog.tables["public.t42"].column("v") == Column("v", "text", default="'x'::text")
