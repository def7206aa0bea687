"""Partitioned tables and partitions in a static build, and their agreement with a database."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from plimsoll.db.catalog import Catalog, Column, Table
from plimsoll.db.introspect import introspect
from tests.db.test_ddl_catalog import (
    _constraint_facts,
    _expression,
    _index_facts,
    _table_facts,
    build,
    role,
)
from tests.support.postgres import PgDatabase

__all__ = ["role"]  # the fixture, shared with the catalog tests


def partitioned(catalog: Catalog, key: str) -> Table:
    return catalog.partitioned[key]


def partition(catalog: Catalog, key: str) -> Table:
    return catalog.partitions[key]


def column(table: Table, name: str) -> Column:
    found = table.column(name)
    assert found is not None, name
    return found


def names(items: Iterable[Any]) -> list[str]:
    return [item.name for item in items]


# --- partitioned tables ------------------------------------------------------------------------


def test_a_partitioned_table_is_built_with_its_key_and_everything_a_table_has() -> None:
    catalog = build(
        """
        CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
        CREATE TABLE events (
            id bigint NOT NULL, day date NOT NULL DEFAULT current_date, note text,
            PRIMARY KEY (id, day)
        ) PARTITION BY RANGE (day);
        COMMENT ON TABLE events IS 'what happened';
        COMMENT ON COLUMN events.note IS 'free text';
        GRANT SELECT ON events TO PUBLIC;
        ALTER TABLE events ENABLE ROW LEVEL SECURITY;
        CREATE POLICY mine ON events USING (id > 0);
        CREATE TRIGGER stamp BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION audit();
        CREATE INDEX ON events (note);
        ALTER TABLE events ADD CONSTRAINT positive CHECK (id > 0);
        """
    )
    assert "public.events" not in catalog.tables
    events = partitioned(catalog, "public.events")
    assert events.partition_by == "RANGE (day)"
    assert events.partitioned and not events.is_partition
    assert names(events.columns) == ["id", "day", "note"]
    assert column(events, "day").default == "CURRENT_DATE"
    assert names(events.constraints) == ["events_pkey", "positive"]
    assert names(events.indexes) == ["events_note_idx"]
    assert events.indexes[0].definition == (
        "CREATE INDEX events_note_idx ON public.events USING btree (note)"
    )
    assert names(events.triggers) == ["stamp"] and names(events.policies) == ["mine"]
    assert events.comment == "what happened" and events.rls_enabled
    assert column(events, "note").comment == "free text"
    assert {g.privilege for g in events.grants} == {"SELECT"}
    assert catalog.object_count == 2  # the table and the function


def test_partition_keys_print_as_pg_get_partkeydef() -> None:
    catalog = build(
        """
        CREATE TABLE a (region text, at timestamptz, n int) PARTITION BY LIST (lower(region));
        CREATE TABLE b (region text, at timestamptz, n int)
            PARTITION BY RANGE (at, (n + 1), region COLLATE "C" text_pattern_ops);
        CREATE TABLE c (id int, "Odd" int) PARTITION BY HASH (id, "Odd");
        """
    )
    assert partitioned(catalog, "public.a").partition_by == "LIST (lower(region))"
    assert partitioned(catalog, "public.b").partition_by == (
        'RANGE (at, (n + 1), region COLLATE "C" text_pattern_ops)'
    )
    assert partitioned(catalog, "public.c").partition_by == 'HASH (id, "Odd")'


# --- partitions --------------------------------------------------------------------------------


def test_bounds_print_each_value_in_its_key_type() -> None:
    catalog = build(
        """
        CREATE TABLE i (k int, b bigint, s smallint, n numeric, t text, f boolean, d date,
            ts timestamp, tz timestamptz) PARTITION BY RANGE (k, b, s, n, t);
        CREATE TABLE i1 PARTITION OF i FOR VALUES FROM (-5, 1, '2', 1, 'a') TO (+7, -2, 3, 2.50, MAXVALUE);
        CREATE TABLE l (f boolean, d date) PARTITION BY LIST (f);
        CREATE TABLE l1 PARTITION OF l FOR VALUES IN ('yes', NULL);
        CREATE TABLE d (d date, ts timestamp, tz timestamptz) PARTITION BY RANGE (d, ts, tz);
        CREATE TABLE d1 PARTITION OF d FOR VALUES FROM ('2024-01-01', '2024-01-01', '2024-01-01')
            TO ('2024-02-01', '2024-02-01 10:30:00.5', '2024-02-01 02:00:00+02');
        CREATE TABLE h (id int) PARTITION BY HASH (id);
        CREATE TABLE h3 PARTITION OF h FOR VALUES WITH (MODULUS 4, REMAINDER 3);
        CREATE TABLE x (id int) PARTITION BY LIST ((id * 2));
        CREATE TABLE x1 PARTITION OF x FOR VALUES IN (2, 4, 2);
        CREATE TABLE x2 PARTITION OF x DEFAULT;
        """
    )
    assert partition(catalog, "public.i1").bound == (
        "FOR VALUES FROM ('-5', '1', '2', '1', 'a') TO (7, '-2', '3', 2.50, MAXVALUE)"
    )
    assert partition(catalog, "public.l1").bound == "FOR VALUES IN (true, NULL)"
    assert partition(catalog, "public.d1").bound == (
        "FOR VALUES FROM ('2024-01-01', '2024-01-01 00:00:00', '2024-01-01 00:00:00+00')"
        " TO ('2024-02-01', '2024-02-01 10:30:00.5', '2024-02-01 00:00:00+00')"
    )
    assert partition(catalog, "public.h3").bound == "FOR VALUES WITH (modulus 4, remainder 3)"
    # An expression key's values are printed as their literals suggest; duplicates go.
    assert partition(catalog, "public.x1").bound == "FOR VALUES IN (2, 4)"
    assert partition(catalog, "public.x2").bound == "DEFAULT"
    assert [t.key for t in catalog.partitions_of("public.x")] == ["public.x1", "public.x2"]


def test_a_partition_gets_its_parents_columns_and_copies_of_its_constraints() -> None:
    catalog = build(
        """
        CREATE TABLE regions (code text PRIMARY KEY);
        CREATE TABLE events (
            id bigint NOT NULL, day date NOT NULL DEFAULT current_date,
            region text REFERENCES regions, amount numeric CHECK (amount >= 0), note text,
            PRIMARY KEY (id, day), UNIQUE (region, day)
        ) PARTITION BY RANGE (day);
        CREATE INDEX ON events (lower(note));
        COMMENT ON COLUMN events.note IS 'not copied';
        CREATE TABLE events_2024 PARTITION OF events (
            note NOT NULL, CONSTRAINT small CHECK (amount < 100)
        ) FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        """
    )
    part = partition(catalog, "public.events_2024")
    assert part.partition_of == "public.events"
    assert part.bound == "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
    assert [(c.name, c.type, c.nullable, c.local) for c in part.columns] == [
        ("id", "bigint", False, False),
        ("day", "date", False, False),
        ("region", "text", True, False),
        ("amount", "numeric", True, False),
        ("note", "text", False, False),
    ]
    assert column(part, "day").default == "CURRENT_DATE"
    assert column(part, "note").comment is None
    assert names(part.constraints) == ["small"]
    assert names(part.inherited_constraints) == [
        "events_2024_pkey",
        "events_2024_region_day_key",
        "events_amount_check",
        "events_region_fkey",
    ]
    assert part.inherited_constraints[0].definition == "PRIMARY KEY (id, day)"
    assert part.indexes == ()
    assert [i.definition for i in part.inherited_indexes] == [
        "CREATE INDEX events_2024_lower_idx ON public.events_2024 USING btree (lower(note))"
    ]
    # The partitioned table is unchanged by its partition.
    assert names(partitioned(catalog, "public.events").constraints) == [
        "events_amount_check",
        "events_pkey",
        "events_region_day_key",
        "events_region_fkey",
    ]


def test_what_the_parent_gains_or_loses_later_reaches_its_partitions() -> None:
    catalog = build(
        """
        CREATE TABLE regions (code text PRIMARY KEY);
        CREATE TABLE m (id int, r text, t text) PARTITION BY LIST (id);
        CREATE TABLE m1 PARTITION OF m FOR VALUES IN (1) PARTITION BY LIST (r);
        CREATE TABLE m1a PARTITION OF m1 FOR VALUES IN ('a');
        CREATE TABLE m2 PARTITION OF m FOR VALUES IN (2);
        CREATE INDEX own_t ON m2 (t);
        CREATE INDEX parent_t ON m (t);
        ALTER TABLE m ADD CONSTRAINT fk FOREIGN KEY (r) REFERENCES regions,
            ADD CHECK (id > 0), ADD UNIQUE (id, r);
        ALTER TABLE m ADD COLUMN extra int NOT NULL DEFAULT 5;
        ALTER TABLE m ALTER COLUMN t SET DEFAULT 'x';
        ALTER TABLE m RENAME COLUMN t TO title;
        ALTER TABLE m DROP CONSTRAINT m_id_check;
        ALTER TABLE m RENAME CONSTRAINT fk TO to_region;
        CREATE INDEX gone ON m (r);
        DROP INDEX gone;
        """
    )
    sub = partitioned(catalog, "public.m1")
    assert sub.partition_by == "LIST (r)" and sub.partition_of == "public.m"
    for key in ("public.m1a", "public.m2"):
        part = partition(catalog, key)
        assert [(c.name, c.default, c.nullable, c.local) for c in part.columns] == [
            ("id", None, True, False),
            ("r", None, True, False),
            ("title", "'x'::text", True, False),
            ("extra", "5", False, False),
        ], key
        suffix = key.partition(".")[2]
        # A foreign key renamed on the parent keeps its name on the partitions.
        assert names(part.inherited_constraints) == ["fk", f"{suffix}_id_r_key"], key
    # m2's own index on t is the same as the parent's: it was adopted, keeping its name.
    assert names(partition(catalog, "public.m2").inherited_indexes) == ["own_t"]
    assert names(partition(catalog, "public.m1a").inherited_indexes) == ["m1a_t_idx"]
    assert names(partitioned(catalog, "public.m1").inherited_indexes) == ["m1_t_idx"]


def test_attach_adopts_what_the_table_has_and_detach_makes_it_plain_again() -> None:
    catalog = build(
        """
        CREATE TABLE m (id bigint NOT NULL, t text, PRIMARY KEY (id), CHECK (id > 0))
            PARTITION BY LIST (id);
        CREATE INDEX ON m (t);
        CREATE TABLE loose (id bigint NOT NULL, t text, CONSTRAINT m_id_check CHECK (id > 0),
            CONSTRAINT own CHECK (t <> ''));
        CREATE INDEX loose_t ON loose (t);
        ALTER TABLE m ATTACH PARTITION loose FOR VALUES IN (7);
        CREATE TABLE gone PARTITION OF m FOR VALUES IN (8);
        ALTER TABLE m DETACH PARTITION gone;
        """
    )
    loose = partition(catalog, "public.loose")
    assert loose.partition_of == "public.m" and loose.bound == "FOR VALUES IN ('7')"
    assert [c.local for c in loose.columns] == [False, False]
    assert names(loose.constraints) == ["own"]
    assert names(loose.inherited_constraints) == ["loose_pkey", "m_id_check"]
    assert names(loose.inherited_indexes) == ["loose_t"]
    gone = catalog.tables["public.gone"]
    assert gone.partition_of is None and gone.bound is None
    assert [c.local for c in gone.columns] == [True, True]
    assert names(gone.constraints) == ["gone_pkey", "m_id_check"]
    assert gone.inherited_constraints == () and names(gone.indexes) == ["gone_t_idx"]
    assert [t.key for t in catalog.partitions_of("public.m")] == ["public.loose"]


def test_drop_and_rename_follow_partitions() -> None:
    catalog = build(
        """
        CREATE TABLE m (id int) PARTITION BY LIST (id);
        CREATE TABLE m1 PARTITION OF m FOR VALUES IN (1) PARTITION BY LIST (id);
        CREATE TABLE m1a PARTITION OF m1 FOR VALUES IN (1);
        CREATE TABLE k (id int) PARTITION BY LIST (id);
        CREATE TABLE k1 PARTITION OF k FOR VALUES IN (1);
        CREATE TABLE k2 PARTITION OF k FOR VALUES IN (2);
        DROP TABLE m;
        DROP TABLE k2;
        ALTER TABLE k RENAME TO kept;
        ALTER TABLE k1 RENAME TO kept_1;
        CREATE TABLE kept_2 PARTITION OF kept FOR VALUES IN (2);
        """
    )
    assert list(catalog.partitioned) == ["public.kept"]
    assert list(catalog.partitions) == ["public.kept_1", "public.kept_2"]
    assert partition(catalog, "public.kept_1").partition_of == "public.kept"
    assert [t.key for t in catalog.partitions_of("public.kept")] == [
        "public.kept_1",
        "public.kept_2",
    ]


def test_an_index_on_only_the_parent_is_invalid_until_every_partition_attaches_one() -> None:
    statements = """
        CREATE TABLE m (id int, t text) PARTITION BY LIST (id);
        CREATE TABLE m1 PARTITION OF m FOR VALUES IN (1);
        CREATE TABLE m2 PARTITION OF m FOR VALUES IN (2);
        CREATE INDEX m_t ON ONLY m (t);
        CREATE INDEX m1_t ON m1 (t);
        ALTER INDEX m_t ATTACH PARTITION m1_t;
    """
    half = build(statements)
    assert partitioned(half, "public.m").indexes[0].definition == (
        "CREATE INDEX m_t ON ONLY public.m USING btree (t)"
    )
    assert names(partition(half, "public.m1").inherited_indexes) == ["m1_t"]
    assert partition(half, "public.m2").inherited_indexes == ()
    whole = build(
        statements + "CREATE INDEX m2_t ON m2 (t); ALTER INDEX m_t ATTACH PARTITION m2_t;"
    )
    assert partitioned(whole, "public.m").indexes[0].definition == (
        "CREATE INDEX m_t ON public.m USING btree (t)"
    )


def test_plain_tables_are_built_as_before() -> None:
    catalog = build("CREATE TABLE t (id int PRIMARY KEY); CREATE INDEX ON t (id);")
    plain = catalog.tables["public.t"]
    assert (plain.partition_by, plain.partition_of, plain.bound) == (None, None, None)
    assert plain.inherited_constraints == () and plain.inherited_indexes == ()
    assert catalog.partitioned == {} and catalog.partitions == {}


# --- agreement with PostgreSQL -----------------------------------------------------------------

AGREEMENT_SCHEMA = """
CREATE SCHEMA shop;
CREATE TABLE shop.regions (code text PRIMARY KEY, name text);
CREATE FUNCTION shop.audit() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;

CREATE TABLE shop.events (
    id bigint NOT NULL,
    day date NOT NULL DEFAULT current_date,
    region text REFERENCES shop.regions,
    amount numeric CHECK (amount >= 0),
    note text,
    label text,
    gone text,
    PRIMARY KEY (id, day),
    UNIQUE (region, day)
) PARTITION BY RANGE (day);
COMMENT ON TABLE shop.events IS 'what happened';
COMMENT ON COLUMN shop.events.note IS 'free text';
GRANT SELECT, INSERT ON shop.events TO plimsoll_ddl_reader;
ALTER TABLE shop.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_region ON shop.events USING (region = 'eu');
CREATE TRIGGER stamp BEFORE INSERT ON shop.events FOR EACH ROW EXECUTE FUNCTION shop.audit();
CREATE TRIGGER once AFTER INSERT ON shop.events FOR EACH STATEMENT EXECUTE FUNCTION shop.audit();
CREATE INDEX ON shop.events (note);
CREATE INDEX ON shop.events (lower(note));
CREATE TABLE shop.events_2024 PARTITION OF shop.events (
    note NOT NULL, CONSTRAINT small CHECK (amount < 100)
) FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE shop.events_default PARTITION OF shop.events DEFAULT;
COMMENT ON TABLE shop.events_2024 IS 'this year';
GRANT SELECT ON shop.events_2024 TO plimsoll_ddl_reader;
CREATE INDEX ON shop.events_2024 (amount);
ALTER TABLE shop.events ADD CONSTRAINT positive CHECK (id > 0);
CREATE INDEX later_idx ON shop.events (region);
ALTER TABLE shop.events ADD CONSTRAINT region_again FOREIGN KEY (region) REFERENCES shop.regions;
ALTER TABLE shop.events ADD COLUMN extra int NOT NULL DEFAULT 5;
ALTER TABLE shop.events ALTER COLUMN note SET DEFAULT 'none';
ALTER TABLE shop.events RENAME COLUMN label TO title;
ALTER TABLE shop.events DROP COLUMN gone;
ALTER TABLE shop.events DROP CONSTRAINT region_again;
CREATE INDEX dropped_idx ON shop.events (extra);
DROP INDEX shop.dropped_idx;

-- Attached with an index and a check of its own that the parent's adopt; then one detached.
CREATE TABLE shop.events_2025 (
    id bigint NOT NULL, day date NOT NULL DEFAULT current_date, region text, amount numeric,
    note text DEFAULT 'none', title text, extra int NOT NULL DEFAULT 5,
    CONSTRAINT events_amount_check CHECK (amount >= 0), CONSTRAINT positive CHECK (id > 0),
    CONSTRAINT mine CHECK (extra < 10)
);
CREATE INDEX events_2025_by_note ON shop.events_2025 (note);
ALTER TABLE shop.events ATTACH PARTITION shop.events_2025
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE shop.events_2023 PARTITION OF shop.events
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
ALTER TABLE shop.events DETACH PARTITION shop.events_2023;

CREATE TABLE shop.by_region (region text, at timestamptz, stamp timestamp, n int)
    PARTITION BY LIST (lower(region));
CREATE TABLE shop.by_region_eu PARTITION OF shop.by_region FOR VALUES IN ('eu', NULL);
CREATE TABLE shop.by_time (at timestamptz, stamp timestamp, n int, big bigint)
    PARTITION BY RANGE (at, stamp, n, big);
CREATE TABLE shop.by_time_a PARTITION OF shop.by_time
    FOR VALUES FROM ('2024-01-01', '2024-01-01 10:00', -5, 1) TO (MAXVALUE, MAXVALUE, MAXVALUE, MAXVALUE);
CREATE TABLE shop.hashed (id int, x numeric, PRIMARY KEY (id, x)) PARTITION BY HASH (id);
CREATE TABLE shop.hashed_0 PARTITION OF shop.hashed
    FOR VALUES WITH (MODULUS 2, REMAINDER 0) PARTITION BY RANGE (x);
CREATE TABLE shop.hashed_0a PARTITION OF shop.hashed_0 FOR VALUES FROM (1.50) TO (2);
CREATE TABLE shop.hashed_1 PARTITION OF shop.hashed FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE shop.flags (on_off boolean, n int) PARTITION BY LIST (on_off);
CREATE TABLE shop.flags_on PARTITION OF shop.flags FOR VALUES IN (true);
CREATE TABLE shop.temp (id int) PARTITION BY LIST (id);
CREATE TABLE shop.temp_1 PARTITION OF shop.temp FOR VALUES IN (1);
DROP TABLE shop.temp;
ALTER TABLE shop.flags RENAME TO switches;
ALTER TABLE shop.flags_on RENAME TO switches_on;

-- As pg_dump writes them: an index on ONLY the parent, attached partition by partition.
CREATE TABLE shop.dumped (id int NOT NULL, t text) PARTITION BY LIST (id);
CREATE TABLE shop.dumped_1 PARTITION OF shop.dumped FOR VALUES IN (1);
CREATE TABLE shop.dumped_2 PARTITION OF shop.dumped FOR VALUES IN (2);
CREATE INDEX dumped_t ON ONLY shop.dumped (t);
CREATE INDEX dumped_1_t ON shop.dumped_1 (t);
ALTER INDEX shop.dumped_t ATTACH PARTITION shop.dumped_1_t;
ALTER TABLE ONLY shop.dumped ADD CONSTRAINT dumped_pkey PRIMARY KEY (id);
"""


def _partitioned_facts(t: Table) -> dict[str, object]:
    """A partitioned table or partition's facts: a table's, its key, parent and bound, and
    the copies of its parent's constraints and indexes."""
    return {
        **_table_facts(t),
        "key": _expression(t.partition_by),
        "parent": (t.partition_of, t.bound),
        "inherited_constraints": [_constraint_facts(c) for c in t.inherited_constraints],
        "inherited_indexes": [_index_facts(i) for i in t.inherited_indexes],
    }


def _exact_definitions(got: Table, expected: Table) -> None:
    """Definitions PostgreSQL prints without expressions of its own match outright."""
    pairs = [
        *zip(got.constraints, expected.constraints, strict=True),
        *zip(got.inherited_constraints, expected.inherited_constraints, strict=True),
    ]
    for mine, theirs in pairs:
        if mine.kind in ("p", "u", "f"):
            assert mine.definition == theirs.definition, (got.key, mine.name)
    indexes = [
        *zip(got.indexes, expected.indexes, strict=True),
        *zip(got.inherited_indexes, expected.inherited_indexes, strict=True),
    ]
    for index, their_index in indexes:
        if "(" not in index.definition.partition("(")[2][:-1]:
            assert index.definition == their_index.definition, (got.key, index.name)


def test_static_build_agrees_with_the_database_on_partitions(
    pg_database: PgDatabase, role: str
) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(AGREEMENT_SCHEMA)  # type: ignore[arg-type]
    live = introspect(pg_database.dsn, ["shop"])
    static = build(AGREEMENT_SCHEMA)

    assert sorted(static.tables) == sorted(live.tables)
    assert sorted(static.partitioned) == sorted(live.partitioned)
    assert sorted(static.partitions) == sorted(live.partitions)
    assert len(live.partitioned) == 7 and len(live.partitions) == 10
    # The cases below are really exercised: an index still invalid, a table attached with
    # an index of its own adopted, a detached partition back among the tables.
    assert "ON ONLY" in static.partitioned["shop.dumped"].indexes[0].definition
    assert "events_2025_by_note" in names(static.partitions["shop.events_2025"].inherited_indexes)
    assert "shop.events_2023" in static.tables
    for kind in ("tables", "partitioned", "partitions"):
        for key, expected in getattr(live, kind).items():
            got = getattr(static, kind)[key]
            assert _partitioned_facts(got) == _partitioned_facts(expected), key
            _exact_definitions(got, expected)
            key_text = (expected.partition_by or "").partition("(")[2][:-1]
            if expected.partition_by is not None and "(" not in key_text:
                # A key of columns only: printed exactly.
                assert got.partition_by == expected.partition_by, key


@pytest.mark.parametrize(
    ("bound", "key_type"),
    [
        ("FROM ('2024-01-01 10:00:00.25+01') TO (MAXVALUE)", "timestamptz"),
        ("FROM ('1e1') TO ('12.50')", "numeric"),
        ("FROM (-3) TO (0)", "smallint"),
        ("IN ('on', 'f')", "boolean"),
        ("IN ('it''s', 'x')", "text"),
    ],
)
def test_bound_values_print_as_the_server_prints_them(
    pg_database: PgDatabase, bound: str, key_type: str
) -> None:
    strategy = "LIST" if bound.startswith("IN") else "RANGE"
    schema = f"""
        CREATE TABLE p (k {key_type}) PARTITION BY {strategy} (k);
        CREATE TABLE p1 PARTITION OF p FOR VALUES {bound};
    """
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(schema)  # type: ignore[arg-type]
    live = introspect(pg_database.dsn)
    assert build(schema).partitions["public.p1"].bound == live.partitions["public.p1"].bound


def test_a_foreign_key_to_a_partitioned_table_is_one_constraint() -> None:
    # PostgreSQL also keeps one internal row per partition of the referenced table on the
    # referencing table (refs_id_d_fkey1, ...): bookkeeping, not constraints of its own.
    catalog = build(
        """
        CREATE TABLE ev (id int, d int, PRIMARY KEY (id, d)) PARTITION BY RANGE (d);
        CREATE TABLE ev1 PARTITION OF ev FOR VALUES FROM (0) TO (10);
        CREATE TABLE refs (id int, d int, FOREIGN KEY (id, d) REFERENCES ev);
        """
    )
    (foreign_key,) = catalog.tables["public.refs"].constraints
    assert foreign_key.definition == "FOREIGN KEY (id, d) REFERENCES public.ev(id, d)"
    assert foreign_key.references == "public.ev"
