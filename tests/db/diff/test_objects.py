"""Extensions, grants beyond tables, materialized views' indexes, comments, and foreign keys
moved aside while the key they reference is replaced; in memory and on the real server."""

from __future__ import annotations

import psycopg

from plimsoll.db.catalog import (
    DEFAULT_FUNCTION_GRANTS,
    Catalog,
    Column,
    Constraint,
    Function,
    Grant,
    Table,
)
from plimsoll.db.diff import ChangeKind, diff, migration_sql
from plimsoll.db.introspect import introspect
from tests.db.diff.conftest import Pair

# --- in memory ---------------------------------------------------------------------------------


def _function(grants: frozenset[Grant] = DEFAULT_FUNCTION_GRANTS) -> Function:
    return Function(
        "public",
        "f",
        "",
        "CREATE OR REPLACE FUNCTION public.f()\n RETURNS integer\n LANGUAGE plpgsql\n"
        "AS $function$BEGIN RETURN 1; END$function$\n",
        grants=grants,
    )


def test_a_new_function_with_default_grants_needs_no_grant_statement() -> None:
    [change] = diff(Catalog.of(), Catalog.of(functions=[_function()]))
    assert "GRANT" not in change.up_sql and "REVOKE" not in change.up_sql
    private = _function(frozenset({Grant("EXECUTE", "reader")}))
    [change] = diff(Catalog.of(), Catalog.of(functions=[private]))
    assert change.up_sql.splitlines()[-2:] == [
        "REVOKE EXECUTE ON FUNCTION public.f() FROM PUBLIC;",
        "GRANT EXECUTE ON FUNCTION public.f() TO reader;",
    ]
    changes = diff(Catalog.of(functions=[_function()]), Catalog.of(functions=[private]))
    assert [(c.kind, c.object_type, c.detail) for c in changes] == [
        (ChangeKind.REMOVED, "grant", "EXECUTE to PUBLIC"),
        (ChangeKind.ADDED, "grant", "EXECUTE to reader"),
    ]


def test_extensions_come_first_and_go_last() -> None:
    table = Table("public", "users", columns=(Column("email", "public.citext"),))
    a = Catalog.of(extension_schemas={"plpgsql": "pg_catalog"})
    b = Catalog.of(
        schemas={"ext"},
        extension_schemas={"plpgsql": "pg_catalog", "citext": "public", "hstore": "ext"},
        tables=[table],
    )
    up, down = migration_sql(diff(a, b))
    assert up.splitlines()[:5] == [
        "CREATE SCHEMA ext;",
        "",
        "CREATE EXTENSION IF NOT EXISTS citext SCHEMA public;",
        "",
        "CREATE EXTENSION IF NOT EXISTS hstore SCHEMA ext;",
    ]
    assert down.index("DROP TABLE public.users") < down.index("DROP EXTENSION IF EXISTS citext")
    assert down.index("DROP EXTENSION IF EXISTS hstore") < down.index("DROP SCHEMA ext")
    [removed] = [c for c in diff(b, a) if c.object_type == "extension" and c.name == "citext"]
    assert removed.kind is ChangeKind.REMOVED and removed.destructive


def test_foreign_keys_step_aside_while_their_key_is_replaced() -> None:
    def catalog(key_name: str) -> Catalog:
        parent = Table(
            "public",
            "parent",
            columns=(Column("id", "integer", nullable=False),),
            constraints=(Constraint(key_name, "p", "PRIMARY KEY (id)", columns=("id",)),),
        )
        fk = Constraint(
            "child_parent_fkey",
            "f",
            "FOREIGN KEY (parent_id) REFERENCES public.parent(id)",
            columns=("parent_id",),
            references="public.parent",
            ref_columns=("id",),
        )
        child = Table(
            "public", "child", columns=(Column("parent_id", "integer"),), constraints=(fk,)
        )
        return Catalog.of(tables=[parent, child])

    up, down = migration_sql(diff(catalog("parent_pkey"), catalog("parent_pk")))
    assert up.splitlines()[::2] == [
        "ALTER TABLE public.child DROP CONSTRAINT child_parent_fkey;",
        "ALTER TABLE public.parent DROP CONSTRAINT parent_pkey;",
        "ALTER TABLE public.parent ADD CONSTRAINT parent_pk PRIMARY KEY (id);",
        "ALTER TABLE public.child ADD CONSTRAINT child_parent_fkey"
        " FOREIGN KEY (parent_id) REFERENCES public.parent(id);",
    ]
    assert down.splitlines()[::2] == [
        "ALTER TABLE public.child DROP CONSTRAINT child_parent_fkey;",
        "ALTER TABLE public.parent DROP CONSTRAINT parent_pk;",
        "ALTER TABLE public.parent ADD CONSTRAINT parent_pkey PRIMARY KEY (id);",
        "ALTER TABLE public.child ADD CONSTRAINT child_parent_fkey"
        " FOREIGN KEY (parent_id) REFERENCES public.parent(id);",
    ]


# --- against the real server -------------------------------------------------------------------


def test_extensions_round_trip(pair: Pair) -> None:
    with psycopg.connect(pair.a) as conn:
        available = {
            row[0]
            for row in conn.execute(
                "SELECT name FROM pg_available_extensions WHERE name IN ('citext', 'hstore')"
            )
        }
    # Both ship with PostgreSQL's contrib, which the Debian server package includes.
    assert available == {"citext", "hstore"}
    schema_a = "CREATE TABLE public.users (id int PRIMARY KEY, email text);"
    schema_b = """
    CREATE SCHEMA ext;
    CREATE EXTENSION citext;
    CREATE EXTENSION hstore SCHEMA ext;
    CREATE TABLE public.users (id int PRIMARY KEY, email public.citext, tags ext.hstore);
    """
    done = pair.round_trip(schema_a, schema_b, "INSERT INTO public.users VALUES (1, 'A@b.c');")
    assert done.change("extension", "citext").kind is ChangeKind.ADDED
    assert done.up.index("CREATE EXTENSION IF NOT EXISTS citext SCHEMA public;") < done.up.index(
        "TYPE public.citext"
    )
    assert "CREATE EXTENSION IF NOT EXISTS hstore SCHEMA ext;" in done.up
    assert "DROP EXTENSION IF EXISTS citext;" in done.down


GRANTS_A = """
CREATE SCHEMA app;
CREATE TABLE app.accounts (id int PRIMARY KEY, email text, secret text, note text);
CREATE SEQUENCE app.tickets;
CREATE FUNCTION app.score(n int) RETURNS int LANGUAGE sql AS 'SELECT n';
CREATE FUNCTION app.untouched() RETURNS int LANGUAGE sql AS 'SELECT 1';
GRANT SELECT (id, email), UPDATE (note) ON app.accounts TO {role};
GRANT USAGE ON SEQUENCE app.tickets TO {role};
"""
GRANTS_B = """
CREATE SCHEMA app;
CREATE TABLE app.accounts (id int PRIMARY KEY, email text, secret text, note text);
CREATE SEQUENCE app.tickets;
COMMENT ON SEQUENCE app.tickets IS 'support tickets';
CREATE FUNCTION app.score(n int) RETURNS int LANGUAGE sql AS 'SELECT n';
CREATE FUNCTION app.untouched() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION app.private() RETURNS int LANGUAGE sql AS 'SELECT 2';
REVOKE EXECUTE ON FUNCTION app.private() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION app.score(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.score(int) TO {role};
GRANT SELECT (id), INSERT (email, note) ON app.accounts TO {role};
GRANT SELECT, UPDATE ON SEQUENCE app.tickets TO {role};
GRANT USAGE ON SCHEMA app TO {role};
GRANT CREATE ON SCHEMA public TO {role} WITH GRANT OPTION;
CREATE SCHEMA reports;
GRANT USAGE ON SCHEMA reports TO {role};
"""


def test_grants_beyond_tables_round_trip(pair: Pair) -> None:
    done = pair.round_trip(GRANTS_A, GRANTS_B)
    role = pair.role
    names = {(c.kind.value, c.object_type, c.name, c.detail) for c in done.changes}
    assert {
        ("removed", "grant", "app.accounts.email", f"SELECT (email) to {role}"),
        ("added", "grant", "app.accounts.email", f"INSERT (email) to {role}"),
        ("removed", "grant", "app.tickets", f"USAGE to {role}"),
        ("added", "grant", "app.tickets", f"SELECT to {role}"),
        ("removed", "grant", "app.score(integer)", "EXECUTE to PUBLIC"),
        ("added", "grant", "app.score(integer)", f"EXECUTE to {role}"),
        ("added", "grant", "app", f"USAGE to {role}"),
        ("added", "grant", "public", f"CREATE to {role}"),
        ("changed", "comment", "app.tickets", "none -> support tickets"),
    } <= names
    # A function nobody granted on is the same on both sides.
    assert not [c for c in done.changes if c.name == "app.untouched()"]
    for statement in (
        f"REVOKE SELECT (email) ON TABLE app.accounts FROM {role};",
        f"GRANT INSERT (email) ON TABLE app.accounts TO {role};",
        f"GRANT SELECT ON SEQUENCE app.tickets TO {role};",
        "REVOKE EXECUTE ON FUNCTION app.score(n integer) FROM PUBLIC;",
        "REVOKE EXECUTE ON FUNCTION app.private() FROM PUBLIC;",
        f"GRANT CREATE ON SCHEMA public TO {role} WITH GRANT OPTION;",
        f"CREATE SCHEMA reports;\nGRANT USAGE ON SCHEMA reports TO {role};",
    ):
        assert statement in done.up, statement
    # Back down, the function holds what a new one does again.
    assert introspect(pair.a).functions["app.score(integer)"].grants == DEFAULT_FUNCTION_GRANTS


VIEWS_A = """
CREATE TABLE public.orders (id int PRIMARY KEY, amount numeric, day date);
CREATE MATERIALIZED VIEW public.daily AS SELECT day, sum(amount) AS total FROM public.orders
    GROUP BY day;
CREATE UNIQUE INDEX daily_day_idx ON public.daily (day);
CREATE MATERIALIZED VIEW public.big AS SELECT id FROM public.orders WHERE amount > 100;
CREATE INDEX big_id_idx ON public.big (id);
CREATE VIEW public.recent AS SELECT id FROM public.orders WHERE day > '2020-01-01';
CREATE FUNCTION public.total() RETURNS numeric LANGUAGE sql AS 'SELECT 1::numeric';
CREATE TYPE public.state AS ENUM ('new', 'done');
CREATE SEQUENCE public.numbers;
"""
VIEWS_B = """
CREATE TABLE public.orders (id int PRIMARY KEY, amount numeric, day date);
CREATE MATERIALIZED VIEW public.daily AS SELECT day, sum(amount) AS total, count(*) AS n
    FROM public.orders GROUP BY day;
CREATE UNIQUE INDEX daily_day_idx ON public.daily (day);
CREATE INDEX daily_total_idx ON public.daily (total);
CREATE MATERIALIZED VIEW public.big AS SELECT id FROM public.orders WHERE amount > 100;
CREATE INDEX big_id_idx ON public.big (id DESC);
CREATE INDEX big_expr_idx ON public.big ((id % 10));
CREATE VIEW public.recent AS SELECT id FROM public.orders WHERE day > '2020-01-01';
CREATE FUNCTION public.total() RETURNS numeric LANGUAGE sql AS 'SELECT 1::numeric';
CREATE TYPE public.state AS ENUM ('new', 'done');
CREATE SEQUENCE public.numbers;
COMMENT ON MATERIALIZED VIEW public.big IS 'large orders';
COMMENT ON VIEW public.recent IS 'this year';
COMMENT ON FUNCTION public.total() IS 'the sum';
COMMENT ON TYPE public.state IS 'an order''s state';
COMMENT ON SEQUENCE public.numbers IS 'numbering';
"""


def test_materialized_view_indexes_and_comments_round_trip(pair: Pair) -> None:
    done = pair.round_trip(VIEWS_A, VIEWS_B)
    daily = done.change("materialized view", "public.daily")
    assert daily.kind is ChangeKind.CHANGED and daily.detail == "definition"
    # Recreated with its indexes, old and new.
    assert "CREATE UNIQUE INDEX daily_day_idx ON public.daily USING btree (day);" in daily.up_sql
    assert "CREATE INDEX daily_total_idx ON public.daily USING btree (total);" in daily.up_sql
    assert done.change("index", "public.big.big_id_idx").kind is ChangeKind.CHANGED
    assert done.change("index", "public.big.big_expr_idx").kind is ChangeKind.ADDED
    comments = {c.name for c in done.changes if c.object_type == "comment"}
    assert comments == {
        "public.big",
        "public.recent",
        "public.total()",
        "public.state",
        "public.numbers",
    }
    assert "COMMENT ON TYPE public.state IS 'an order''s state';" in done.up


KEYS_A = """
CREATE TABLE public.parent (id int CONSTRAINT parent_pkey PRIMARY KEY, code text);
CREATE UNIQUE INDEX parent_code_idx ON public.parent (code);
CREATE TABLE public.child (
    id int PRIMARY KEY,
    parent_id int REFERENCES public.parent (id),
    parent_code text REFERENCES public.parent (code)
);
CREATE TABLE public.other (parent_id int REFERENCES public.parent (id) ON DELETE CASCADE);
"""
KEYS_B = """
CREATE TABLE public.parent (id int CONSTRAINT parent_pk PRIMARY KEY, code text,
    CONSTRAINT parent_code_key UNIQUE (code));
CREATE TABLE public.child (
    id int PRIMARY KEY,
    parent_id int REFERENCES public.parent (id),
    parent_code text REFERENCES public.parent (code)
);
CREATE TABLE public.other (parent_id int REFERENCES public.parent (id) ON DELETE CASCADE);
"""


def test_replacing_a_referenced_key_round_trips(pair: Pair) -> None:
    data = (
        "INSERT INTO public.parent VALUES (1, 'a');"
        " INSERT INTO public.child VALUES (1, 1, 'a'); INSERT INTO public.other VALUES (1);"
    )
    done = pair.round_trip(KEYS_A, KEYS_B, data)
    moved = {c.name for c in done.changes if c.detail.startswith("recreated: the key")}
    assert moved == {
        "public.child.child_parent_id_fkey",
        "public.child.child_parent_code_fkey",
        "public.other.other_parent_id_fkey",
    }
    up = done.up
    assert up.index("DROP CONSTRAINT child_parent_id_fkey") < up.index(
        "DROP CONSTRAINT parent_pkey"
    )
    assert up.index("DROP INDEX public.parent_code_idx") < up.index(
        "ADD CONSTRAINT parent_code_key"
    )
    assert up.index("ADD CONSTRAINT parent_pk ") < up.index("ADD CONSTRAINT child_parent_id_fkey")
