"""Domains and composite types: created before the tables using them, dropped after,
altered where PostgreSQL can; in memory and on the real server."""

from __future__ import annotations

from plimsoll.db.catalog import (
    Attribute,
    Catalog,
    Column,
    CompositeType,
    DomainConstraint,
    DomainType,
    Table,
)
from plimsoll.db.diff import ChangeKind, diff, migration_sql
from tests.db.diff.conftest import Pair


def test_a_new_domain_comes_before_the_table_using_it_and_goes_after() -> None:
    domain = DomainType(
        "public",
        "price",
        "numeric(8,2)",
        default="0",
        not_null=True,
        constraints=(
            DomainConstraint("price_check", "CHECK ((VALUE >= (0)::numeric))"),
            DomainConstraint(
                "price_cap", "CHECK ((VALUE < (9)::numeric)) NOT VALID", validated=False
            ),
        ),
        comment="money",
    )
    table = Table("public", "items", columns=(Column("price", "public.price"),))
    up, down = migration_sql(diff(Catalog.of(), Catalog.of(domains=[domain], tables=[table])))
    assert up.splitlines()[:6] == [
        "CREATE DOMAIN public.price AS numeric(8,2) DEFAULT 0 NOT NULL",
        "    CONSTRAINT price_check CHECK ((VALUE >= (0)::numeric));",
        # CREATE DOMAIN has no NOT VALID: that constraint comes after.
        "ALTER DOMAIN public.price ADD CONSTRAINT price_cap CHECK ((VALUE < (9)::numeric))"
        " NOT VALID;",
        "COMMENT ON DOMAIN public.price IS 'money';",
        "",
        "CREATE TABLE public.items (",
    ]
    assert down.index("DROP TABLE public.items") < down.index("DROP DOMAIN public.price")


def test_composite_types_are_made_in_dependency_order() -> None:
    inner = CompositeType("public", "b_inner", (Attribute("x", "integer"),))
    outer = CompositeType("public", "a_outer", (Attribute("i", "public.b_inner"),))
    up, down = migration_sql(diff(Catalog.of(), Catalog.of(composites=[outer, inner])))
    assert up.index("CREATE TYPE public.b_inner") < up.index("CREATE TYPE public.a_outer")
    assert down.index("DROP TYPE public.a_outer") < down.index("DROP TYPE public.b_inner")


def test_a_composite_type_reordered_and_a_domain_retyped_have_no_ddl() -> None:
    a = Catalog.of(
        composites=[CompositeType("public", "p", (Attribute("x", "int"), Attribute("y", "int")))],
        domains=[DomainType("public", "d", "integer")],
    )
    b = Catalog.of(
        composites=[CompositeType("public", "p", (Attribute("y", "int"), Attribute("x", "int")))],
        domains=[DomainType("public", "d", "text")],
    )
    changes = diff(a, b)
    assert [(c.object_type, c.steps) for c in changes] == [
        ("domain", ()),
        ("composite type", ()),
    ]
    assert "reordered" in changes[1].detail


def test_an_attribute_retyped_while_a_column_stores_the_type_has_no_ddl() -> None:
    def catalog(kind: str) -> Catalog:
        return Catalog.of(
            composites=[CompositeType("public", "p", (Attribute("x", kind),))],
            tables=[Table("public", "t", columns=(Column("c", "public.p"),))],
        )

    [change] = diff(catalog("integer"), catalog("bigint"))
    assert change.steps == () and "public.t.c uses the type" in change.detail
    [free] = diff(
        Catalog.of(composites=[CompositeType("public", "p", (Attribute("x", "integer"),))]),
        Catalog.of(composites=[CompositeType("public", "p", (Attribute("x", "bigint"),))]),
    )
    assert free.up_sql == "ALTER TYPE public.p ALTER ATTRIBUTE x TYPE bigint;"
    assert free.down_sql == "ALTER TYPE public.p ALTER ATTRIBUTE x TYPE integer;"


SCHEMA_A = """
CREATE SCHEMA app;
CREATE DOMAIN app.price AS numeric(8, 2) DEFAULT 0 CHECK (VALUE >= 0)
    CONSTRAINT price_cap CHECK (VALUE < 1000);
CREATE DOMAIN app.code AS text NOT NULL;
CREATE DOMAIN app.old_code AS varchar(5);
COMMENT ON DOMAIN app.price IS 'money';
CREATE TYPE app.address AS (street text, city varchar(20), zip text);
CREATE TYPE app.retired AS (a int);
CREATE TABLE app.items (
    id int PRIMARY KEY,
    price app.price,
    code app.code,
    ship_to app.address
);
CREATE TABLE app.legacy (id int, code app.old_code, at app.retired);
"""
SCHEMA_B = """
CREATE SCHEMA app;
CREATE DOMAIN app.price AS numeric(8, 2) DEFAULT 1 NOT NULL CHECK (VALUE >= 0)
    CONSTRAINT price_cap CHECK (VALUE < 5000) CONSTRAINT price_even CHECK (VALUE <> 3);
CREATE DOMAIN app.code AS text;
CREATE DOMAIN app.short AS varchar(3) CHECK (VALUE <> '');
COMMENT ON DOMAIN app.price IS 'money, in euros';
CREATE TYPE app.address AS (street text, city varchar(20), country app.short);
CREATE TYPE app.point AS (x int, y int);
COMMENT ON TYPE app.point IS 'a place';
CREATE TABLE app.items (
    id int PRIMARY KEY,
    price app.price,
    code app.code,
    ship_to app.address,
    country app.short,
    at app.point
);
"""


def test_domains_and_composite_types_round_trip(pair: Pair) -> None:
    data = "INSERT INTO app.items VALUES (1, 10, 'x', ROW('main st', 'paris', '123'));"
    done = pair.round_trip(SCHEMA_A, SCHEMA_B, data)
    found = {(c.kind, c.object_type, c.name) for c in done.changes}
    assert {
        (ChangeKind.ADDED, "domain", "app.short"),
        (ChangeKind.REMOVED, "domain", "app.old_code"),
        (ChangeKind.CHANGED, "domain", "app.price"),
        (ChangeKind.CHANGED, "domain", "app.code"),
        (ChangeKind.CHANGED, "comment", "app.price"),
        (ChangeKind.ADDED, "composite type", "app.point"),
        (ChangeKind.REMOVED, "composite type", "app.retired"),
        (ChangeKind.CHANGED, "composite type", "app.address"),
    } <= found
    price = done.change("domain", "app.price")
    assert "default 0 -> 1" in price.detail and "NOT NULL" in price.detail
    for statement in (
        "ALTER DOMAIN app.price SET DEFAULT 1;",
        "ALTER DOMAIN app.price SET NOT NULL;",
        "ALTER DOMAIN app.price DROP CONSTRAINT price_cap;",
        "ALTER DOMAIN app.price ADD CONSTRAINT price_even CHECK ((VALUE <> (3)::numeric));",
        "ALTER DOMAIN app.code DROP NOT NULL;",
        "ALTER TYPE app.address DROP ATTRIBUTE zip, ADD ATTRIBUTE country app.short;",
    ):
        assert statement in done.up, statement
    # Types come before the tables using them, and go after the tables that used them.
    assert done.up.index("CREATE DOMAIN app.short") < done.up.index("ADD COLUMN country")
    assert done.up.index("CREATE TYPE app.point") < done.up.index("ADD COLUMN at")
    assert done.up.index("DROP TABLE app.legacy") < done.up.index("DROP DOMAIN app.old_code")
    assert done.up.index("DROP TABLE app.legacy") < done.up.index("DROP TYPE app.retired")
