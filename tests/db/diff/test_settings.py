"""What pg_dump shows and the diff once missed: persistence, identity options, trigger states,
comments on indexes, triggers, constraints, policies and schemas, storage parameters,
column settings and default privileges; each reported, written up and down, round-tripped
on the real server and checked against ``pg_dump --schema-only``."""

from __future__ import annotations

from plimsoll.db.catalog import (
    Catalog,
    Column,
    DefaultPrivilege,
    IdentityOptions,
    Table,
)
from plimsoll.db.ddl_catalog import build_catalog
from plimsoll.db.diff import ChangeKind, diff, migration_sql
from plimsoll.db.diff.settings import options_actions, options_clause
from plimsoll.db.introspect import introspect
from plimsoll.db.sqljson import parse_json
from tests.db.diff.conftest import Pair

# --- in memory ---------------------------------------------------------------------------------


def test_identity_options_keep_only_what_differs_from_the_defaults() -> None:
    assert IdentityOptions.of("integer", 1, 1, 1, 2147483647, 1, False) is None
    # Descending, the defaults are the type's lowest value up to -1, starting from -1.
    descending = IdentityOptions.of("bigint", -1, -1, -9223372036854775808, -1, 1, False)
    assert descending == IdentityOptions(increment=-1)
    assert descending.clauses() == ["INCREMENT BY -1"]
    options = IdentityOptions.of("integer", 1000, 1, 1, 2147483647, 1, False)
    assert options == IdentityOptions(start=1000)
    assert options.clauses() == ["START WITH 1000"]
    # A START WITH equal to a raised MINVALUE is that MINVALUE's default.
    raised = IdentityOptions.of("smallint", 5, 2, 5, 100, 3, True)
    assert raised == IdentityOptions(increment=2, minimum=5, maximum=100, cache=3, cycle=True)
    assert raised.clauses() == ["INCREMENT BY 2", "MINVALUE 5", "MAXVALUE 100", "CACHE 3", "CYCLE"]
    assert (raised.first("smallint"), raised.bounds("smallint")) == (5, (5, 100))
    # Defaults are relative to the type: the same options widen with the column.
    assert IdentityOptions().bounds("integer") == (1, 2147483647)
    assert IdentityOptions().bounds("bigint") == (1, 9223372036854775807)


def test_storage_parameters_are_set_reset_and_quoted() -> None:
    assert options_clause(()) == ""
    assert options_clause(("fillfactor=70", "toast.autovacuum_enabled=false")) == (
        " WITH (fillfactor='70', toast.autovacuum_enabled='false')"
    )
    assert options_actions(("autovacuum_enabled=false", "fillfactor=70"), ("fillfactor=80",)) == [
        "RESET (autovacuum_enabled)",
        "SET (fillfactor='80')",
    ]
    assert options_actions(("fillfactor=70",), ("fillfactor=70",)) == []


def test_a_comment_alone_changes_in_place() -> None:
    def catalog(comment: str | None) -> Catalog:
        table = Table("public", "t", columns=(Column("id", "integer", comment=comment),))
        return Catalog.of(tables=[table])

    [change] = diff(catalog(None), catalog("the id"))
    assert change.up_sql == "COMMENT ON COLUMN public.t.id IS 'the id';"


def test_default_privileges_are_written_for_their_role() -> None:
    granted = DefaultPrivilege("app", "TABLES", "SELECT", "reporter")
    in_schema = DefaultPrivilege("app", "SEQUENCES", "USAGE", "reporter", schema="sales")
    revoked = DefaultPrivilege("app", "FUNCTIONS", "EXECUTE", "PUBLIC", revoked=True)
    changes = diff(Catalog.of(), Catalog.of(default_privileges=[granted, in_schema, revoked]))
    assert [(c.kind, c.object_type, c.name, c.detail) for c in changes] == [
        (ChangeKind.ADDED, "default privilege", "for role app on functions",
         "EXECUTE from PUBLIC revoked"),
        (ChangeKind.ADDED, "default privilege", "for role app on tables", "SELECT to reporter"),
        (ChangeKind.ADDED, "default privilege", "for role app in schema sales on sequences",
         "USAGE to reporter"),
    ]  # fmt: skip
    up, down = migration_sql(changes)
    # Revokes first, then grants; the way back undoes each.
    assert up.split("\n\n") == [
        "ALTER DEFAULT PRIVILEGES FOR ROLE app REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;",
        "ALTER DEFAULT PRIVILEGES FOR ROLE app GRANT SELECT ON TABLES TO reporter;",
        "ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA sales GRANT USAGE ON SEQUENCES"
        " TO reporter;",
    ]
    assert down.split("\n\n") == [
        "ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA sales REVOKE USAGE ON SEQUENCES"
        " FROM reporter;",
        "ALTER DEFAULT PRIVILEGES FOR ROLE app REVOKE SELECT ON TABLES FROM reporter;",
        "ALTER DEFAULT PRIVILEGES FOR ROLE app GRANT EXECUTE ON FUNCTIONS TO PUBLIC;",
    ]


# --- on the real server ------------------------------------------------------------------------

_TRIGGER_FUNCTION = """
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
"""

# Two databases differing only in what the diff once reported as "no differences".
_PLAIN = (
    _TRIGGER_FUNCTION
    + """
CREATE TABLE public.orders (
    id integer GENERATED BY DEFAULT AS IDENTITY,
    note text,
    qty integer CONSTRAINT qty_positive CHECK (qty > 0)
);
CREATE TABLE public.events (id integer);
CREATE INDEX orders_qty ON public.orders (qty);
CREATE TRIGGER orders_touch BEFORE INSERT ON public.orders
    FOR EACH ROW EXECUTE FUNCTION public.touch();
CREATE TRIGGER orders_replica BEFORE UPDATE ON public.orders
    FOR EACH ROW EXECUTE FUNCTION public.touch();
CREATE TRIGGER orders_always AFTER DELETE ON public.orders
    FOR EACH ROW EXECUTE FUNCTION public.touch();
CREATE VIEW public.recent AS SELECT id, qty FROM public.orders;
"""
)
_TUNED = (
    _TRIGGER_FUNCTION
    + """
CREATE TABLE public.orders (
    id integer GENERATED BY DEFAULT AS IDENTITY (START WITH 1000 INCREMENT BY 5),
    note text,
    qty integer CONSTRAINT qty_positive CHECK (qty > 0)
) WITH (autovacuum_enabled = false, fillfactor = 70, toast.autovacuum_enabled = false);
ALTER TABLE public.orders ALTER COLUMN note SET STORAGE EXTERNAL,
    ALTER COLUMN note SET COMPRESSION pglz, ALTER COLUMN qty SET STATISTICS 500;
CREATE UNLOGGED TABLE public.events (id integer);
CREATE INDEX orders_qty ON public.orders (qty);
COMMENT ON INDEX public.orders_qty IS 'quantities';
CREATE TRIGGER orders_touch BEFORE INSERT ON public.orders
    FOR EACH ROW EXECUTE FUNCTION public.touch();
CREATE TRIGGER orders_replica BEFORE UPDATE ON public.orders
    FOR EACH ROW EXECUTE FUNCTION public.touch();
CREATE TRIGGER orders_always AFTER DELETE ON public.orders
    FOR EACH ROW EXECUTE FUNCTION public.touch();
ALTER TABLE public.orders DISABLE TRIGGER orders_touch;
ALTER TABLE public.orders ENABLE REPLICA TRIGGER orders_replica;
ALTER TABLE public.orders ENABLE ALWAYS TRIGGER orders_always;
COMMENT ON TRIGGER orders_touch ON public.orders IS 'stamps rows';
COMMENT ON CONSTRAINT qty_positive ON public.orders IS 'no empty orders';
COMMENT ON SCHEMA public IS 'the shop';
CREATE VIEW public.recent WITH (security_barrier = true) AS SELECT id, qty FROM public.orders;
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {role};
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
"""
)


def test_every_setting_pg_dump_shows_is_diffed_generated_and_round_tripped(pair: Pair) -> None:
    done = pair.round_trip(_PLAIN, _TUNED, dumps=True)
    found = {(c.object_type, c.name, c.detail) for c in done.changes}
    role = pair.role
    assert found == {
        ("table", "public.events", "logged -> unlogged"),
        (
            "table",
            "public.orders",
            "options none -> autovacuum_enabled=false, fillfactor=70,"
            " toast.autovacuum_enabled=false",
        ),
        (
            "column",
            "public.orders.id",
            "identity options defaults -> INCREMENT BY 5 START WITH 1000",
        ),
        ("column", "public.orders.note", "storage none -> EXTERNAL; compression none -> pglz"),
        ("column", "public.orders.qty", "statistics default -> 500"),
        ("index", "public.orders.orders_qty", "comment none -> quantities"),
        (
            "trigger",
            "public.orders.orders_touch",
            "ENABLE TRIGGER -> DISABLE TRIGGER; comment none -> stamps rows",
        ),
        ("trigger", "public.orders.orders_replica", "ENABLE TRIGGER -> ENABLE REPLICA TRIGGER"),
        ("trigger", "public.orders.orders_always", "ENABLE TRIGGER -> ENABLE ALWAYS TRIGGER"),
        ("constraint", "public.orders.qty_positive", "comment none -> no empty orders"),
        ("comment", "public", "standard public schema -> the shop"),
        ("view", "public.recent", "options none -> security_barrier=true"),
        ("default privilege", f"for role {pair.server.user} on tables", f"SELECT to {role}"),
        (
            "default privilege",
            f"for role {pair.server.user} on functions",
            "EXECUTE from PUBLIC revoked",
        ),
    }
    up = done.up.splitlines()
    owner = pair.server.user
    assert {
        "ALTER TABLE public.events SET UNLOGGED;",
        "ALTER TABLE public.orders SET (autovacuum_enabled='false', fillfactor='70',"
        " toast.autovacuum_enabled='false');",
        "ALTER TABLE public.orders ALTER COLUMN id SET INCREMENT BY 5 SET NO MINVALUE"
        " SET NO MAXVALUE SET START WITH 1000 SET CACHE 1 SET NO CYCLE;",
        "ALTER TABLE public.orders ALTER COLUMN note SET STORAGE EXTERNAL;",
        "ALTER TABLE public.orders ALTER COLUMN note SET COMPRESSION pglz;",
        "ALTER TABLE public.orders ALTER COLUMN qty SET STATISTICS 500;",
        "COMMENT ON INDEX public.orders_qty IS 'quantities';",
        "ALTER TABLE public.orders DISABLE TRIGGER orders_touch;",
        "ALTER TABLE public.orders ENABLE REPLICA TRIGGER orders_replica;",
        "ALTER TABLE public.orders ENABLE ALWAYS TRIGGER orders_always;",
        "COMMENT ON TRIGGER orders_touch ON public.orders IS 'stamps rows';",
        "COMMENT ON CONSTRAINT qty_positive ON public.orders IS 'no empty orders';",
        "COMMENT ON SCHEMA public IS 'the shop';",
        "ALTER VIEW public.recent SET (security_barrier='true');",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} GRANT SELECT ON TABLES TO {role};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;",
    } <= set(up)
    # Nothing is dropped and created again for a comment or a state.
    assert not [line for line in up if line.startswith(("DROP", "CREATE"))], done.up
    down = done.down.splitlines()
    assert {
        "ALTER TABLE public.events SET LOGGED;",
        "ALTER TABLE public.orders RESET (autovacuum_enabled, fillfactor,"
        " toast.autovacuum_enabled);",
        "ALTER TABLE public.orders ALTER COLUMN id SET INCREMENT BY 1 SET NO MINVALUE"
        " SET NO MAXVALUE SET START WITH 1 SET CACHE 1 SET NO CYCLE;",
        "ALTER TABLE public.orders ALTER COLUMN note SET STORAGE EXTENDED;",
        "ALTER TABLE public.orders ALTER COLUMN note SET COMPRESSION default;",
        "ALTER TABLE public.orders ALTER COLUMN qty SET STATISTICS -1;",
        "ALTER TABLE public.orders ENABLE TRIGGER orders_touch;",
        "COMMENT ON SCHEMA public IS 'standard public schema';",
        "ALTER VIEW public.recent RESET (security_barrier);",
    } <= set(down)


def test_everything_is_created_with_its_settings(pair: Pair) -> None:
    # From nothing to the tuned schema and back: each CREATE carries what it must.
    done = pair.round_trip("SELECT 1;", _TUNED, dumps=True)
    up = done.up
    assert "CREATE UNLOGGED TABLE public.events (" in up
    assert (
        "    id integer GENERATED BY DEFAULT AS IDENTITY (INCREMENT BY 5 START WITH 1000) NOT NULL"
        in up
    )
    assert (
        ") WITH (autovacuum_enabled='false', fillfactor='70', toast.autovacuum_enabled='false');"
        in up
    )
    assert "    note text COMPRESSION pglz," in up
    assert "CREATE VIEW public.recent WITH (security_barrier='true') AS" in up


def test_comments_and_states_survive_a_recreation(pair: Pair) -> None:
    # A changed definition drops and creates the object: its comment and state come back.
    schema = (
        _TRIGGER_FUNCTION
        + """
        CREATE TABLE public.t (a int, b int, CONSTRAINT a_pos CHECK (a > {n}));
        CREATE INDEX t_a ON public.t ({column});
        CREATE TRIGGER t_touch BEFORE {event} ON public.t
            FOR EACH ROW EXECUTE FUNCTION public.touch();
        ALTER TABLE public.t ENABLE REPLICA TRIGGER t_touch;
        CREATE POLICY mine ON public.t USING (a > {n});
        COMMENT ON INDEX public.t_a IS 'by {column}';
        COMMENT ON TRIGGER t_touch ON public.t IS 'on {event}';
        COMMENT ON CONSTRAINT a_pos ON public.t IS 'above {n}';
        COMMENT ON POLICY mine ON public.t IS 'rows above {n}';
        """
    )
    done = pair.round_trip(
        schema.format(n=0, column="a", event="INSERT"),
        schema.format(n=1, column="b", event="UPDATE"),
        dumps=True,
    )
    kinds = {(c.object_type, c.name) for c in done.changes}
    assert kinds == {
        ("constraint", "public.t.a_pos"),
        ("index", "public.t.t_a"),
        ("trigger", "public.t.t_touch"),
        ("policy", "public.t.mine"),
    }
    assert "ALTER TABLE public.t ENABLE REPLICA TRIGGER t_touch;" in done.up
    assert "ALTER TABLE public.t ENABLE REPLICA TRIGGER t_touch;" in done.down
    assert "COMMENT ON INDEX public.t_a IS 'by b';" in done.up
    assert "COMMENT ON INDEX public.t_a IS 'by a';" in done.down


_LOGGED = """
    CREATE TABLE public.parent (id int PRIMARY KEY);
    CREATE TABLE public.child (id int PRIMARY KEY, parent_id int REFERENCES public.parent);
    CREATE TABLE public.grandchild (child_id int REFERENCES public.child);
"""
_UNLOGGED = _LOGGED.replace("CREATE TABLE", "CREATE UNLOGGED TABLE")


def test_persistence_changes_follow_the_foreign_keys(pair: Pair) -> None:
    # PostgreSQL refuses a logged table referencing an unlogged one at every step.
    done = pair.round_trip(_LOGGED, _UNLOGGED, dumps=True)
    statements = [line for line in done.up.splitlines() if "SET UNLOGGED" in line]
    assert statements == [
        "ALTER TABLE public.grandchild SET UNLOGGED;",
        "ALTER TABLE public.child SET UNLOGGED;",
        "ALTER TABLE public.parent SET UNLOGGED;",
    ]
    back = [line for line in done.down.splitlines() if "SET LOGGED" in line]
    assert back == [
        "ALTER TABLE public.parent SET LOGGED;",
        "ALTER TABLE public.child SET LOGGED;",
        "ALTER TABLE public.grandchild SET LOGGED;",
    ]


def test_tables_made_logged_again_follow_the_foreign_keys(pair: Pair) -> None:
    done = pair.round_trip(_UNLOGGED, _LOGGED, dumps=True)
    statements = [line for line in done.up.splitlines() if "SET LOGGED" in line]
    assert statements == [
        "ALTER TABLE public.parent SET LOGGED;",
        "ALTER TABLE public.child SET LOGGED;",
        "ALTER TABLE public.grandchild SET LOGGED;",
    ]


def test_identity_options_are_kept_when_an_identity_is_added_or_dropped(pair: Pair) -> None:
    done = pair.round_trip(
        "CREATE TABLE public.t (id integer NOT NULL);",
        "CREATE TABLE public.t (id integer GENERATED ALWAYS AS IDENTITY (START WITH 1000));",
        dumps=True,
    )
    [change] = done.changes
    assert change.detail == "identity ALWAYS (START WITH 1000)"
    assert (
        "ALTER TABLE public.t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (START WITH 1000);"
        in done.up
    )


def test_identity_options_of_a_descending_sequence(pair: Pair) -> None:
    # A sequence descending from its own MAXVALUE, and the way back to the defaults.
    done = pair.round_trip(
        "CREATE TABLE public.t (id bigint GENERATED BY DEFAULT AS IDENTITY);",
        "CREATE TABLE public.t (id bigint GENERATED BY DEFAULT AS IDENTITY"
        " (INCREMENT BY -1 MAXVALUE 500 CYCLE CACHE 10));",
        dumps=True,
    )
    [change] = done.changes
    assert change.detail == (
        "identity options defaults -> INCREMENT BY -1 MAXVALUE 500 CACHE 10 CYCLE"
    )
    # A narrower range fails when the current value is outside it: flagged.
    assert change.destructive


def test_column_settings_come_back_after_a_type_change(pair: Pair) -> None:
    # ALTER COLUMN TYPE resets the storage and the compression to the new type's defaults.
    table = """
        CREATE TABLE public.t (note {type}, n int);
        ALTER TABLE public.t ALTER COLUMN note SET STORAGE EXTERNAL,
            ALTER COLUMN note SET COMPRESSION pglz, ALTER COLUMN note SET STATISTICS 300;
    """
    done = pair.round_trip(
        table.format(type="text"), table.format(type="character varying(20)"), dumps=True
    )
    [change] = done.changes
    assert change.detail == "type text -> character varying(20)"
    up = done.up.splitlines()
    retype = up.index(
        "ALTER TABLE public.t ALTER COLUMN note TYPE character varying(20)"
        " USING note::character varying(20);"
    )
    assert up.index("ALTER TABLE public.t ALTER COLUMN note SET STORAGE EXTERNAL;") > retype
    down = done.down.splitlines()
    back = down.index("ALTER TABLE public.t ALTER COLUMN note TYPE text USING note::text;")
    assert down.index("ALTER TABLE public.t ALTER COLUMN note SET COMPRESSION pglz;") > back


def test_settings_reach_children_and_partitions_as_postgresql_carries_them(pair: Pair) -> None:
    # SET STATISTICS and SET STORAGE recurse to children, SET COMPRESSION does not; a new
    # partition takes its parent's storage and compression, not its statistics target.
    schema = """
        CREATE TABLE public.parent (note text, n int);
        CREATE TABLE public.kid () INHERITS (public.parent);
        CREATE TABLE public.days (day int, note text) PARTITION BY RANGE (day);
        CREATE TABLE public.days_1 PARTITION OF public.days FOR VALUES FROM (1) TO (10);
        ALTER TABLE public.kid ALTER COLUMN n SET STATISTICS 50;
        {settings}
    """
    tuned = """
        ALTER TABLE public.parent ALTER COLUMN note SET STORAGE MAIN,
            ALTER COLUMN note SET COMPRESSION pglz, ALTER COLUMN n SET STATISTICS 400;
        ALTER TABLE ONLY public.kid ALTER COLUMN n SET STATISTICS 60;
        ALTER TABLE public.days ALTER COLUMN note SET STORAGE EXTERNAL,
            ALTER COLUMN note SET COMPRESSION pglz;
        ALTER TABLE ONLY public.days_1 ALTER COLUMN note SET STORAGE MAIN;
        CREATE TABLE public.days_2 PARTITION OF public.days FOR VALUES FROM (10) TO (20);
        ALTER TABLE public.days_2 ALTER COLUMN day SET STATISTICS 70;
        ALTER TABLE public.parent ADD COLUMN extra text COMPRESSION pglz;
        ALTER TABLE public.parent ALTER COLUMN extra SET STORAGE MAIN,
            ALTER COLUMN extra SET STATISTICS 200;
    """
    done = pair.round_trip(schema.format(settings=""), schema.format(settings=tuned), dumps=True)
    assert "ALTER TABLE public.days_2 ALTER COLUMN day SET STATISTICS 70;" in done.up
    # A new column reaches the child with its compression and storage, not its statistics.
    assert "ALTER TABLE public.parent ADD COLUMN extra text COMPRESSION pglz;" in done.up
    assert "ALTER TABLE ONLY public.parent ALTER COLUMN extra SET STATISTICS 200;" in done.up
    assert "ALTER TABLE public.kid ALTER COLUMN extra SET STATISTICS 200;" in done.up
    assert "ALTER TABLE public.kid ALTER COLUMN n SET STATISTICS 60;" in done.up, (
        "the parent's SET STATISTICS reached the child: its own target is set after"
    )


def test_storage_parameters_of_partitions_and_materialized_views(pair: Pair) -> None:
    schema = """
        CREATE TABLE public.days (day int) PARTITION BY RANGE (day);
        CREATE TABLE public.days_1 PARTITION OF public.days FOR VALUES FROM (1) TO (10)
            {partition};
        CREATE MATERIALIZED VIEW public.totals {view} AS SELECT count(*) AS n FROM public.days;
        CREATE VIEW public.checked {checked} AS SELECT day FROM public.days WHERE day > 1;
    """
    done = pair.round_trip(
        schema.format(partition="", view="", checked=""),
        schema.format(
            partition="WITH (fillfactor = 50)",
            view="WITH (fillfactor = 60)",
            checked="WITH (check_option = local, security_invoker = true)",
        ),
        dumps=True,
    )
    assert "ALTER TABLE public.days_1 SET (fillfactor='50');" in done.up
    assert "ALTER MATERIALIZED VIEW public.totals SET (fillfactor='60');" in done.up
    assert "ALTER VIEW public.checked SET (check_option='local', security_invoker='true');" in (
        done.up
    )
    # Created with them.
    pair.run(pair.a, "DROP VIEW public.checked; DROP MATERIALIZED VIEW public.totals;")
    pair.run(pair.a, "DROP TABLE public.days;")
    created = diff(introspect(pair.a), introspect(pair.b))
    up, _down = migration_sql(created)
    assert "PARTITION OF public.days FOR VALUES FROM (1) TO (10) WITH (fillfactor='50');" in up
    assert "CREATE MATERIALIZED VIEW public.totals WITH (fillfactor='60') AS" in up


def test_default_privileges_round_trip(pair: Pair) -> None:
    schema_b = """
        CREATE SCHEMA sales;
        ALTER DEFAULT PRIVILEGES GRANT SELECT, INSERT ON TABLES TO {role} WITH GRANT OPTION;
        ALTER DEFAULT PRIVILEGES IN SCHEMA sales GRANT USAGE ON SEQUENCES TO {role};
        ALTER DEFAULT PRIVILEGES REVOKE USAGE ON TYPES FROM PUBLIC;
        CREATE TABLE sales.orders (id int);
    """
    done = pair.round_trip(
        "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {role};", schema_b, dumps=True
    )
    role, owner = pair.role, pair.server.user
    found = {(c.kind, c.name, c.detail) for c in done.changes if c.object_type != "schema"}
    assert found >= {
        (ChangeKind.REMOVED, f"for role {owner} on tables", f"SELECT to {role}"),
        (ChangeKind.ADDED, f"for role {owner} on tables", f"SELECT to {role} with grant option"),
        (ChangeKind.ADDED, f"for role {owner} on tables", f"INSERT to {role} with grant option"),
        (ChangeKind.ADDED, f"for role {owner} in schema sales on sequences", f"USAGE to {role}"),
        (ChangeKind.ADDED, f"for role {owner} on types", "USAGE from PUBLIC revoked"),
    }
    up = done.up
    # Set before anything is created, after the schema it names.
    assert up.index("CREATE SCHEMA sales;") < up.index("IN SCHEMA sales GRANT USAGE")
    assert up.index("GRANT SELECT ON TABLES") < up.index("CREATE TABLE sales.orders")
    # The table the migration creates has its grants as in B (given by the defaults there).
    assert introspect(pair.b).tables["sales.orders"].grants


def test_introspection_reads_default_privileges_relative_to_the_builtin_ones(
    pair: Pair,
) -> None:
    pair.run(
        pair.a,
        "ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM {role};"
        " ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;",
    )
    # Revoking what the role never had by default changes nothing.
    assert [p.privilege for p in introspect(pair.a).default_privileges] == ["EXECUTE"]
    pair.run(pair.a, "ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC;")
    assert introspect(pair.a).default_privileges == frozenset()


def test_objects_created_on_the_way_back_get_their_own_grants(pair: Pair) -> None:
    # Made before the defaults were set, A's table lacks what they give, and its function
    # keeps EXECUTE to PUBLIC; recreated on the way back under those defaults, both would
    # end otherwise.
    defaults = """
        ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {role};
        ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
    """
    schema_a = (
        "CREATE TABLE public.t (id int);"
        " CREATE FUNCTION public.one() RETURNS int LANGUAGE sql AS 'SELECT 1';" + defaults
    )
    done = pair.round_trip(schema_a, defaults, dumps=True)
    assert {(c.kind, c.name) for c in done.changes} == {
        (ChangeKind.REMOVED, "public.t"),
        (ChangeKind.REMOVED, "public.one()"),
    }
    # Last on the way back, once both exist again.
    tail = done.down.rstrip().split("\n\n")[-2:]
    assert sorted(tail) == [
        "GRANT EXECUTE ON FUNCTION public.one() TO PUBLIC;",
        f"REVOKE SELECT ON TABLE public.t FROM {pair.role};",
    ]


def test_without_default_privileges_nothing_is_settled(pair: Pair) -> None:
    done = pair.round_trip("SELECT 1;", "CREATE TABLE public.t (id int);")
    assert "REVOKE" not in done.up and "GRANT" not in done.up


def test_a_static_build_lists_default_privileges_as_introspection_does(pair: Pair) -> None:
    # Lint's view of a live database is rebuilt from the DDL the differ writes: the rebuilt
    # catalog must hold the same default privileges, or they would be reported lost.
    script = f"""
        ALTER DEFAULT PRIVILEGES FOR ROLE {pair.server.user}
            GRANT SELECT ON TABLES TO {{role}} WITH GRANT OPTION;
        ALTER DEFAULT PRIVILEGES FOR ROLE {pair.server.user}
            REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
        ALTER DEFAULT PRIVILEGES FOR ROLE {pair.server.user} IN SCHEMA public
            GRANT USAGE ON SEQUENCES TO {{role}};
    """
    pair.run(pair.a, script)
    live = introspect(pair.a)
    assert len(live.default_privileges) == 3
    static = build_catalog([parse_json(script.replace("{role}", pair.role), "schema.sql")])
    assert static.default_privileges == live.default_privileges
    # Written by the differ and built again: the same.
    up, _down = migration_sql(diff(Catalog.of(), live))
    assert build_catalog([parse_json(up, "up.sql")]).default_privileges == live.default_privileges
