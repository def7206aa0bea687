"""Introspection's derived fields: what lint rules read besides PostgreSQL's own texts."""

from __future__ import annotations

from plimsoll.db.catalog import DEFAULT_FUNCTION_GRANTS, Catalog, Grant
from plimsoll.db.introspect import introspect
from tests.support.postgres import PgDatabase

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE SCHEMA shop;
CREATE TABLE shop.items (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku text NOT NULL,
    price numeric CHECK (price >= 0),
    code text,
    CONSTRAINT items_sku_code_key UNIQUE (code, sku)
);
CREATE UNLOGGED TABLE shop.cache (k text PRIMARY KEY);
CREATE TABLE shop.lines (
    item_id bigint,
    sku text,
    code text,
    qty int,
    during tstzrange,
    CONSTRAINT lines_item_fkey FOREIGN KEY (item_id) REFERENCES shop.items (id)
        ON DELETE CASCADE ON UPDATE SET NULL,
    CONSTRAINT lines_pair_fkey FOREIGN KEY (sku, code) REFERENCES shop.items (sku, code)
        ON DELETE SET DEFAULT,
    EXCLUDE USING gist (during WITH &&)
);
ALTER TABLE shop.lines ADD CONSTRAINT lines_qty_check CHECK (qty > 0) NOT VALID;
CREATE INDEX lines_partial_idx ON shop.lines (qty, item_id) INCLUDE (sku) WHERE qty > 1;
CREATE UNIQUE INDEX lines_lower_idx ON shop.lines (lower(sku), (qty + 1), code);
CREATE INDEX lines_trgm_idx ON shop.lines USING gin (sku gin_trgm_ops);

CREATE FUNCTION shop.stamp() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE FUNCTION shop.lookup(p text) RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, shop SET work_mem = '8MB'
    AS 'SELECT id FROM shop.items WHERE sku = p';
CREATE FUNCTION shop.add_one(integer) RETURNS integer IMMUTABLE RETURN $1 + 1;
CREATE PROCEDURE shop.noop() LANGUAGE sql AS 'SELECT 1';

CREATE TRIGGER lines_before BEFORE INSERT OR UPDATE ON shop.lines
    FOR EACH ROW EXECUTE FUNCTION shop.stamp();
CREATE TRIGGER lines_after AFTER DELETE OR TRUNCATE ON shop.lines
    FOR EACH STATEMENT EXECUTE FUNCTION shop.stamp();
CREATE VIEW shop.v AS SELECT 1 AS x;
CREATE TRIGGER v_instead INSTEAD OF UPDATE ON shop.v FOR EACH ROW EXECUTE FUNCTION shop.stamp();
CREATE TRIGGER items_builtin BEFORE UPDATE ON shop.items
    FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();
"""


def _catalog(pg_database: PgDatabase) -> Catalog:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(SCHEMA)  # type: ignore[arg-type]
    return introspect(pg_database.dsn)


def test_constraint_fields(pg_database: PgDatabase) -> None:
    catalog = _catalog(pg_database)
    items = {c.name: c for c in catalog.tables["shop.items"].constraints}
    assert items["items_pkey"].columns == ("id",)
    assert items["items_sku_code_key"].columns == ("code", "sku")
    check = items["items_price_check"]
    assert check.columns == () and check.expression == "(price >= (0)::numeric)"
    assert check.references is None and check.validated

    lines = {c.name: c for c in catalog.tables["shop.lines"].constraints}
    item = lines["lines_item_fkey"]
    assert (item.columns, item.references, item.ref_columns) == (
        ("item_id",),
        "shop.items",
        ("id",),
    )
    assert (item.on_delete, item.on_update) == ("CASCADE", "SET NULL")
    pair = lines["lines_pair_fkey"]
    # Key order as written, on both sides.
    assert pair.columns == ("sku", "code") and pair.ref_columns == ("sku", "code")
    assert (pair.on_delete, pair.on_update) == ("SET DEFAULT", "NO ACTION")
    assert not lines["lines_qty_check"].validated
    assert lines["lines_during_excl"].columns == ("during",)
    assert lines["lines_during_excl"].kind == "x"


def test_index_fields(pg_database: PgDatabase) -> None:
    catalog = _catalog(pg_database)
    indexes = {i.name: i for i in catalog.tables["shop.lines"].indexes}
    partial = indexes["lines_partial_idx"]
    # INCLUDE columns are not keys.
    assert partial.columns == ("qty", "item_id")
    assert (partial.unique, partial.method, partial.predicate) == (False, "btree", "(qty > 1)")
    lower = indexes["lines_lower_idx"]
    assert lower.columns == ("lower(sku)", "(qty + 1)", "code")
    assert lower.unique and lower.predicate is None
    assert indexes["lines_trgm_idx"].method == "gin"
    assert indexes["lines_trgm_idx"].columns == ("sku",)
    # Constraint indexes are the constraints', not listed as indexes.
    assert "lines_during_excl" not in indexes


def test_trigger_fields(pg_database: PgDatabase) -> None:
    catalog = _catalog(pg_database)
    triggers = {t.name: t for t in catalog.tables["shop.lines"].triggers}
    before = triggers["lines_before"]
    assert (before.timing, before.events, before.row_level, before.function) == (
        "BEFORE",
        ("INSERT", "UPDATE"),
        True,
        "shop.stamp",
    )
    after = triggers["lines_after"]
    assert (after.timing, after.events, after.row_level) == ("AFTER", ("DELETE", "TRUNCATE"), False)
    (builtin,) = catalog.tables["shop.items"].triggers
    assert builtin.function == "pg_catalog.suppress_redundant_updates_trigger"
    # Triggers on views are not read (only tables' are), INSTEAD OF included.
    assert "shop.v" not in catalog.tables


def test_table_and_function_fields(pg_database: PgDatabase) -> None:
    catalog = _catalog(pg_database)
    assert catalog.tables["shop.cache"].unlogged
    assert not catalog.tables["shop.items"].unlogged

    stamp = catalog.functions["shop.stamp()"]
    assert (stamp.language, stamp.security_definer, stamp.volatility, stamp.config) == (
        "plpgsql",
        False,
        "VOLATILE",
        (),
    )
    assert stamp.body == "BEGIN RETURN NEW; END"
    lookup = catalog.functions["shop.lookup(text)"]
    assert lookup.language == "sql" and lookup.security_definer
    assert lookup.volatility == "STABLE"
    assert lookup.config == ("search_path=pg_catalog, shop", "work_mem=8MB")
    assert lookup.body == "SELECT id FROM shop.items WHERE sku = p"
    add_one = catalog.functions["shop.add_one(integer)"]
    assert add_one.volatility == "IMMUTABLE"
    # A SQL-standard body has no prosrc: its text is PostgreSQL's print of it.
    assert add_one.body == "RETURN ($1 + 1)"
    assert catalog.functions["shop.noop()"].procedure


def test_extensions(pg_database: PgDatabase) -> None:
    catalog = _catalog(pg_database)
    assert catalog.extensions == {"plpgsql", "pg_trgm"}


def test_new_fields_leave_equality_alone(pg_database: PgDatabase) -> None:
    catalog = _catalog(pg_database)
    again = introspect(pg_database.dsn)
    assert again == catalog
    lines = catalog.tables["shop.lines"]
    # Derived fields are not part of equality: an object with them left at their defaults
    # is the same object.
    for constraint in lines.constraints:
        bare = type(constraint)(constraint.name, constraint.kind, constraint.definition)
        assert bare == constraint
    for index in lines.indexes:
        assert type(index)(index.name, index.definition) == index


TYPES_AND_GRANTS = """
CREATE SCHEMA ext;
CREATE EXTENSION citext SCHEMA ext;
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('up', 'down');
COMMENT ON TYPE app.mood IS 'how it feels';
CREATE DOMAIN app.qty AS int DEFAULT 1 NOT NULL CHECK (VALUE > 0);
ALTER DOMAIN app.qty ADD CONSTRAINT qty_small CHECK (VALUE < 100) NOT VALID;
CREATE TYPE app.pair AS (a int, b ext.citext);
CREATE TABLE app.base (id int, secret text);
CREATE TABLE app.child (extra int) INHERITS (app.base);
CREATE SEQUENCE app.tickets;
COMMENT ON SEQUENCE app.tickets IS 'numbers';
GRANT SELECT (id) ON app.base TO PUBLIC;
GRANT USAGE ON SEQUENCE app.tickets TO PUBLIC;
GRANT USAGE ON SCHEMA app TO PUBLIC;
CREATE FUNCTION app.open() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION app.closed() RETURNS int LANGUAGE sql AS 'SELECT 1';
REVOKE ALL ON FUNCTION app.closed() FROM PUBLIC;
CREATE MATERIALIZED VIEW app.ids AS SELECT id FROM app.base;
CREATE UNIQUE INDEX ids_id_idx ON app.ids (id);
CREATE TABLE app.days (day date) PARTITION BY RANGE (day);
CREATE TABLE app.days_2024 PARTITION OF app.days FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
"""


def test_types_grants_and_table_kinds(pg_database: PgDatabase) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(TYPES_AND_GRANTS)  # type: ignore[arg-type]
    catalog = introspect(pg_database.dsn)
    assert catalog.enums["app.mood"].comment == "how it feels"
    qty = catalog.domains["app.qty"]
    assert (qty.base_type, qty.default, qty.not_null) == ("integer", "1", True)
    assert [(c.name, c.definition, c.validated) for c in qty.constraints] == [
        ("qty_check", "CHECK ((VALUE > 0))", True),
        ("qty_small", "CHECK ((VALUE < 100)) NOT VALID", False),
    ]
    assert [(a.name, a.type) for a in catalog.composites["app.pair"].attributes] == [
        ("a", "integer"),
        ("b", "ext.citext"),
    ]
    assert catalog.extension_schemas == {"plpgsql": "pg_catalog", "citext": "ext"}
    assert catalog.schema_grants["app"] == {Grant("USAGE", "PUBLIC")}
    base = catalog.tables["app.base"]
    assert [c.grants for c in base.columns] == [frozenset({Grant("SELECT", "PUBLIC")}), frozenset()]
    assert catalog.tables["app.child"].inherits == ("app.base",)
    tickets = catalog.sequences["app.tickets"]
    assert (tickets.comment, tickets.grants) == ("numbers", {Grant("USAGE", "PUBLIC")})
    # A function nobody granted on holds what PostgreSQL gives a new one.
    assert catalog.functions["app.open()"].grants == DEFAULT_FUNCTION_GRANTS
    assert catalog.functions["app.closed()"].grants == frozenset()
    [index] = catalog.views["app.ids"].indexes
    assert index.definition == "CREATE UNIQUE INDEX ids_id_idx ON app.ids USING btree (id)"
    days = catalog.partitioned["app.days"]
    assert days.partition_by == "RANGE (day)" and "app.days_2024" not in catalog.tables
    assert [(p.key, p.partition_of, p.bound) for p in catalog.partitions_of("app.days")] == [
        ("app.days_2024", "app.days", "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')")
    ]
    # A partition's columns are its parent's, which it does not have as its own.
    assert catalog.partitions["app.days_2024"].columns == days.columns
    assert [c.local for c in catalog.partitions["app.days_2024"].columns] == [False]


SETTINGS = """
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'the app';
CREATE TABLE app.t (
    id int GENERATED ALWAYS AS IDENTITY (START WITH 50 INCREMENT BY 10 CACHE 5),
    body text,
    n numeric CONSTRAINT n_pos CHECK (n > 0)
) WITH (fillfactor = 80, toast.autovacuum_enabled = off);
ALTER TABLE app.t ALTER COLUMN body SET STORAGE MAIN, ALTER COLUMN body SET COMPRESSION pglz,
    ALTER COLUMN n SET STATISTICS 1000;
CREATE INDEX t_n ON app.t (n);
COMMENT ON INDEX app.t_n IS 'by n';
COMMENT ON CONSTRAINT n_pos ON app.t IS 'positive';
CREATE FUNCTION app.f() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER t_f BEFORE INSERT ON app.t FOR EACH ROW EXECUTE FUNCTION app.f();
ALTER TABLE app.t ENABLE REPLICA TRIGGER t_f;
COMMENT ON TRIGGER t_f ON app.t IS 'replica only';
CREATE POLICY p ON app.t USING (true);
COMMENT ON POLICY p ON app.t IS 'all rows';
CREATE VIEW app.v WITH (security_barrier) AS SELECT id FROM app.t;
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO PUBLIC;
"""


def test_settings_are_read_as_the_server_reports_them(pg_database: PgDatabase) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(SETTINGS)  # type: ignore[arg-type]
        (reloptions,) = conn.execute(
            "SELECT reloptions FROM pg_class WHERE oid = 'app.t'::regclass"
        ).fetchone()  # type: ignore[misc]
        (toast,) = conn.execute(
            "SELECT t.reloptions FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid"
            " WHERE c.oid = 'app.t'::regclass"
        ).fetchone()  # type: ignore[misc]
        sequence = conn.execute(
            "SELECT seqstart, seqincrement, seqcache FROM pg_sequence"
            " WHERE seqrelid = pg_get_serial_sequence('app.t', 'id')::regclass"
        ).fetchone()
        (storage, compression, target) = conn.execute(
            "SELECT (SELECT attstorage FROM pg_attribute WHERE attrelid = 'app.t'::regclass"
            "        AND attname = 'body'),"
            "       (SELECT attcompression FROM pg_attribute WHERE attrelid = 'app.t'::regclass"
            "        AND attname = 'body'),"
            "       (SELECT attstattarget FROM pg_attribute WHERE attrelid = 'app.t'::regclass"
            "        AND attname = 'n')"
        ).fetchone()  # type: ignore[misc]
        (enabled,) = conn.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = 't_f'"
        ).fetchone()  # type: ignore[misc]
    catalog = introspect(pg_database.dsn)
    table = catalog.tables["app.t"]
    assert table.options == tuple(sorted([*reloptions, *(f"toast.{o}" for o in toast)]))
    identity = table.column("id")
    assert identity is not None and identity.identity_options is not None
    assert sequence == (50, 10, 5)
    assert identity.identity_options.clauses() == ["INCREMENT BY 10", "START WITH 50", "CACHE 5"]
    body, n = table.column("body"), table.column("n")
    assert body is not None and n is not None
    assert (storage, compression, target) == ("m", "p", 1000)
    assert (body.storage, body.compression, body.type_storage) == ("MAIN", "pglz", "EXTENDED")
    assert (n.statistics, n.storage, n.type_storage) == (1000, None, "MAIN")
    [index] = table.indexes
    [constraint] = table.constraints
    [trigger] = table.triggers
    [policy] = table.policies
    assert (index.comment, constraint.comment, policy.comment) == ("by n", "positive", "all rows")
    assert enabled == "R"
    assert (trigger.enabled, trigger.comment) == ("ENABLE REPLICA", "replica only")
    assert catalog.views["app.v"].options == ("security_barrier=true",)
    assert catalog.schema_comments["app"] == "the app"
    [privilege] = catalog.default_privileges
    assert (privilege.role, privilege.schema, privilege.object_type) == (
        pg_database.user,
        "app",
        "TABLES",
    )
    assert (privilege.privilege, privilege.grantee, privilege.revoked) == (
        "SELECT",
        "PUBLIC",
        False,
    )
