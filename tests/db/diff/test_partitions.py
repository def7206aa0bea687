"""Partitioned tables and partitions: generated migrations round-trip on the real server."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from plimsoll.core.errors import UsageError
from plimsoll.db.diff import ChangeKind, diff, generate
from plimsoll.db.introspect import introspect
from tests.db.diff.conftest import Pair

FUNCTION = """
CREATE FUNCTION public.stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TABLE public.sites (id int PRIMARY KEY);
"""

TREE = """
CREATE TABLE public.events (
    id bigint NOT NULL,
    day date NOT NULL,
    site int REFERENCES public.sites (id),
    kind text DEFAULT 'plain',
    value numeric CHECK (value >= 0),
    PRIMARY KEY (id, day)
) PARTITION BY RANGE (day);
COMMENT ON TABLE public.events IS 'all events';
CREATE INDEX events_site_idx ON public.events (site);
CREATE TRIGGER events_stamp BEFORE INSERT ON public.events
    FOR EACH ROW EXECUTE FUNCTION public.stamp();
CREATE TABLE public.events_2024 PARTITION OF public.events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.events_2025 PARTITION OF public.events
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY LIST (id);
CREATE TABLE public.events_2025_plain PARTITION OF public.events_2025 FOR VALUES IN (1, 2);
CREATE TABLE public.events_2025_other PARTITION OF public.events_2025 DEFAULT;
CREATE TABLE public.events_old PARTITION OF public.events DEFAULT;
ALTER TABLE public.events_2024 ALTER COLUMN kind SET DEFAULT 'old';
ALTER TABLE public.events_2024 ADD CONSTRAINT events_2024_small CHECK (value < 1000);
CREATE INDEX events_2024_value_idx ON public.events_2024 (value);
COMMENT ON TABLE public.events_2024 IS 'last year';
COMMENT ON COLUMN public.events_2024.kind IS 'what happened';
GRANT SELECT ON public.events_2024 TO {role};
CREATE TABLE public.buckets (id int NOT NULL, body text) PARTITION BY HASH (id);
CREATE TABLE public.buckets_0 PARTITION OF public.buckets FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE public.buckets_1 PARTITION OF public.buckets FOR VALUES WITH (MODULUS 2, REMAINDER 1);
"""


def test_a_partition_tree_is_read_without_the_copies_of_its_parents_objects(pair: Pair) -> None:
    pair.run(pair.a, FUNCTION + TREE)
    catalog = introspect(pair.a)
    events = catalog.partitioned["public.events"]
    assert events.partition_by == "RANGE (day)"
    assert [c.name for c in events.constraints] == [
        "events_pkey",
        "events_site_fkey",
        "events_value_check",
    ]
    # A valid partitioned index is written so that it reaches every partition.
    [index] = events.indexes
    assert index.definition == ("CREATE INDEX events_site_idx ON public.events USING btree (site)")
    last_year = catalog.partitions["public.events_2024"]
    assert last_year.partition_of == "public.events"
    assert last_year.bound == "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
    # Only its own: the copies PostgreSQL made are kept apart, the cloned trigger left out.
    assert [c.name for c in last_year.constraints] == ["events_2024_small"]
    assert [i.name for i in last_year.indexes] == ["events_2024_value_idx"]
    assert last_year.triggers == ()
    assert {c.name for c in last_year.inherited_constraints} == {
        "events_2024_pkey",
        "events_site_fkey",
        "events_value_check",
    }
    assert [i.name for i in last_year.inherited_indexes] == ["events_2024_site_idx"]
    assert all(not c.local for c in last_year.columns)
    sub = catalog.partitioned["public.events_2025"]
    assert (sub.partition_of, sub.partition_by) == ("public.events", "LIST (id)")
    assert catalog.partitions["public.events_2025_other"].bound == "DEFAULT"
    assert [t.key for t in catalog.partitions_of("public.events")] == [
        "public.events_2024",
        "public.events_2025",
        "public.events_old",
    ]
    assert not set(catalog.tables) & (set(catalog.partitions) | set(catalog.partitioned))


def test_a_partition_tree_is_created_and_dropped(pair: Pair) -> None:
    done = pair.round_trip(FUNCTION, FUNCTION + TREE)
    added = done.change("partitioned table", "public.events")
    assert added.kind is ChangeKind.ADDED and added.detail == "PARTITION BY RANGE (day)"
    assert "PARTITION BY RANGE (day);" in done.up
    assert (
        "CREATE TABLE public.events_2025_plain PARTITION OF public.events_2025"
        " FOR VALUES IN ('1', '2');" in done.up
    )
    # The parent's index, trigger and keys are written once, on the parent.
    assert done.up.count("CREATE INDEX") == 2
    assert done.up.count("CREATE TRIGGER") == 1
    assert done.up.count("FOREIGN KEY") == 1
    assert "ALTER TABLE public.events_2024 ALTER COLUMN kind SET DEFAULT 'old'::text;" in done.up
    # Sub-partitions come after their parent, and are dropped before it.
    assert done.up.index("CREATE TABLE public.events_2025 ") < done.up.index(
        "CREATE TABLE public.events_2025_plain"
    )
    assert (
        done.down.index("DROP TABLE public.events_2025_plain;")
        < done.down.index("DROP TABLE public.events_2025;")
        < done.down.index("DROP TABLE public.events;")
    )


def test_a_partition_tree_dropped_comes_back_on_the_way_down(pair: Pair) -> None:
    done = pair.round_trip(FUNCTION + TREE, FUNCTION)
    assert done.change("partition", "public.events_2024").kind is ChangeKind.REMOVED
    assert done.up.index("DROP TABLE public.events_2025_plain;") < done.up.index(
        "DROP TABLE public.events;"
    )


MOVES_A = (
    FUNCTION
    + """
CREATE TABLE public.m (id int NOT NULL, day date NOT NULL, v numeric DEFAULT 1 CHECK (v > 0),
    PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE INDEX m_v_idx ON public.m (v);
CREATE TRIGGER m_stamp BEFORE INSERT ON public.m FOR EACH ROW EXECUTE FUNCTION public.stamp();
CREATE TABLE public.m_2023 PARTITION OF public.m FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE public.m_2024 PARTITION OF public.m FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
CREATE TABLE public.m_gone PARTITION OF public.m FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
ALTER TABLE public.m_2023 ALTER COLUMN v SET DEFAULT 7;
CREATE TABLE public.m_2022 PARTITION OF public.m FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
ALTER TABLE public.m_2022 ALTER COLUMN v SET DEFAULT 7;
CREATE TABLE public.m_2025 (id int NOT NULL, day date NOT NULL, v numeric, note text);
INSERT INTO public.m VALUES (1, '2023-05-01', 2), (2, '2024-02-01', 3);
"""
)
MOVES_B = (
    FUNCTION
    + """
CREATE TABLE public.m (id int NOT NULL, day date NOT NULL, v numeric DEFAULT 2 CHECK (v > 0),
    extra text DEFAULT 'x', PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE INDEX m_v_idx ON public.m (v);
CREATE TRIGGER m_stamp BEFORE INSERT ON public.m FOR EACH ROW EXECUTE FUNCTION public.stamp();
CREATE TABLE public.m_2024 PARTITION OF public.m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.m_2025 PARTITION OF public.m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.m_new PARTITION OF public.m FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
ALTER TABLE public.m_2025 ALTER COLUMN extra SET DEFAULT 'y';
CREATE TABLE public.m_2022 PARTITION OF public.m FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
ALTER TABLE public.m_2022 ALTER COLUMN v SET DEFAULT 7;
ALTER TABLE public.m_2022 ALTER COLUMN extra SET DEFAULT 'z';
COMMENT ON COLUMN public.m_2025.extra IS 'added';
CREATE TABLE public.m_2023 (id int NOT NULL, day date NOT NULL, v numeric DEFAULT 7,
    extra text DEFAULT 'x', CONSTRAINT m_v_check CHECK (v > 0),
    CONSTRAINT m_2023_pkey PRIMARY KEY (id, day));
CREATE INDEX m_2023_v_idx ON public.m_2023 (v);
"""
)


def test_partitions_attached_detached_and_rebounded_keep_their_rows(pair: Pair) -> None:
    done = pair.round_trip(MOVES_A, MOVES_B)
    assert done.change("partition", "public.m_2023").detail == "detached from public.m"
    assert done.change("partition", "public.m_2025").detail.startswith("attached: of public.m")
    rebound = done.change("partition", "public.m_2024")
    assert rebound.detail == (
        "of public.m FOR VALUES FROM ('2024-01-01') TO ('2024-07-01')"
        " -> of public.m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
    )
    assert "ALTER TABLE public.m DETACH PARTITION public.m_2023;" in done.up
    assert "ALTER TABLE public.m DETACH PARTITION public.m_2024;" in done.up
    assert done.up.index("ALTER TABLE public.m DETACH PARTITION public.m_2024;") < done.up.index(
        "ALTER TABLE public.m ATTACH PARTITION public.m_2024"
    )
    # The parent's new column reaches its partitions through the parent alone.
    # ... and to the tables out of the tree while it is added: m_2025 before it is attached,
    # m_2023 detached, m_2024 between its detach and its attach.
    assert done.up.count("ADD COLUMN extra") == 4
    extra = done.change("column", "public.m_2022.extra")
    assert extra.kind is ChangeKind.ADDED and extra.detail == "through public.m"
    assert [s.up for s in extra.steps] == [
        "ALTER TABLE public.m_2022 ALTER COLUMN extra DROP DEFAULT;",
        "ALTER TABLE public.m_2022 ALTER COLUMN extra SET DEFAULT 'z'::text;",
    ]
    # m_2022 keeps its own default while the parent's changes (recursed, then set back).
    assert "ALTER TABLE public.m ALTER COLUMN v SET DEFAULT 2;" in done.up
    assert done.up.index("ALTER TABLE public.m ALTER COLUMN v SET DEFAULT 2;") < done.up.index(
        "ALTER TABLE public.m_2022 ALTER COLUMN v SET DEFAULT 7;"
    )
    assert done.down.index("ALTER TABLE public.m ALTER COLUMN v SET DEFAULT 1;") < (
        done.down.index("ALTER TABLE public.m_2022 ALTER COLUMN v SET DEFAULT 7;")
    )
    # The table attached is first given the parent's CHECK, which ATTACH requires.
    assert "ALTER TABLE public.m_2025 ADD CONSTRAINT m_v_check CHECK ((v > (0)::numeric));" in (
        done.up
    )
    assert "DROP TABLE public.m_gone;" in done.up


def test_a_changed_partition_key_is_reported_and_not_generated(pair: Pair, tmp_path: Path) -> None:
    pair.run(pair.a, "CREATE TABLE public.h (id int, day date) PARTITION BY RANGE (day);")
    pair.run(pair.b, "CREATE TABLE public.h (id int, day date) PARTITION BY HASH (id);")
    pair.run(pair.a, "CREATE TABLE public.plain (id int);")
    pair.run(pair.b, "CREATE TABLE public.plain (id int) PARTITION BY LIST (id);")
    changes = diff(introspect(pair.a), introspect(pair.b))
    assert [(c.object_type, c.name, c.destructive, c.steps) for c in changes] == [
        ("partitioning", "public.h", True, ()),
        ("partitioning", "public.plain", True, ()),
    ]
    assert changes[0].detail.startswith("partition key RANGE (day) -> HASH (id): PostgreSQL")
    with pytest.raises(UsageError, match="partitioning public.h"):
        generate(changes, "rekey", tmp_path)
    assert not list(tmp_path.iterdir())


PARENT_A = (
    FUNCTION
    + """
CREATE TABLE public.r (id int NOT NULL, day date NOT NULL, n int, old text, PRIMARY KEY (id, day))
    PARTITION BY RANGE (day);
CREATE INDEX r_n_idx ON public.r (n);
CREATE TABLE public.r_1 PARTITION OF public.r FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.r_2 PARTITION OF public.r FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
    PARTITION BY HASH (id);
CREATE TABLE public.r_2_0 PARTITION OF public.r_2 FOR VALUES WITH (MODULUS 1, REMAINDER 0);
COMMENT ON COLUMN public.r_1.old IS 'going';
INSERT INTO public.r VALUES (1, '2024-03-01', 5, 'a'), (2, '2025-03-01', 6, 'b');
"""
)
PARENT_B = (
    FUNCTION
    + """
CREATE TABLE public.r (id int NOT NULL, day date NOT NULL, n bigint NOT NULL,
    PRIMARY KEY (id, day), CONSTRAINT r_n_positive CHECK (n > 0)) PARTITION BY RANGE (day);
CREATE INDEX r_day_idx ON public.r (day);
CREATE TRIGGER r_stamp BEFORE INSERT ON public.r FOR EACH ROW EXECUTE FUNCTION public.stamp();
CREATE TABLE public.r_1 PARTITION OF public.r FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.r_2 PARTITION OF public.r FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
    PARTITION BY HASH (id);
CREATE TABLE public.r_2_0 PARTITION OF public.r_2 FOR VALUES WITH (MODULUS 1, REMAINDER 0);
CREATE INDEX r_2_0_n_idx ON public.r_2_0 (n);
"""
)


def test_a_parents_changes_reach_its_partitions_through_the_parent(pair: Pair) -> None:
    done = pair.round_trip(PARENT_A, PARENT_B)
    # Each statement is the parent's: PostgreSQL makes the partitions' copies.
    assert done.up.count("CREATE INDEX") == 2
    assert "CREATE INDEX r_day_idx ON public.r USING btree (day);" in done.up
    assert "CREATE INDEX r_2_0_n_idx ON public.r_2_0 USING btree (n);" in done.up
    assert done.up.count("DROP INDEX") == 1
    assert done.up.count("CREATE TRIGGER") == 1
    assert done.up.count("ADD CONSTRAINT") == 1
    assert done.up.count("TYPE bigint") == 1
    assert done.up.count("SET NOT NULL") == 1
    assert done.up.count("DROP COLUMN") == 1
    for partition in ("r_1", "r_2", "r_2_0"):
        change = done.change("column", f"public.{partition}.old")
        assert change.kind is ChangeKind.REMOVED and change.covered_by
    # The partition's own comment on the dropped column comes back on the way down.
    assert done.down.index("ALTER TABLE public.r ADD COLUMN old text;") < done.down.index(
        "COMMENT ON COLUMN public.r_1.old IS 'going';"
    )
    with psycopg.connect(pair.a) as conn:
        assert conn.execute("SELECT id, n FROM public.r ORDER BY id").fetchall() == [(1, 5), (2, 6)]


def test_a_partitioned_table_becomes_a_sub_partition(pair: Pair) -> None:
    a = """
    CREATE TABLE public.top (id int NOT NULL, day date NOT NULL) PARTITION BY RANGE (day);
    CREATE INDEX top_id_idx ON public.top (id);
    CREATE TABLE public.mid (id int NOT NULL, day date NOT NULL) PARTITION BY LIST (id);
    CREATE TABLE public.mid_1 PARTITION OF public.mid FOR VALUES IN (1);
    INSERT INTO public.mid VALUES (1, '2024-05-05');
    """
    b = """
    CREATE TABLE public.top (id int NOT NULL, day date NOT NULL) PARTITION BY RANGE (day);
    CREATE INDEX top_id_idx ON public.top (id);
    CREATE TABLE public.mid PARTITION OF public.top
        FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY LIST (id);
    CREATE TABLE public.mid_1 PARTITION OF public.mid FOR VALUES IN (1);
    """
    done = pair.round_trip(a, b)
    assert done.change("partition", "public.mid").detail.startswith("attached: of public.top")
    # The index copy is made under B's name before ATTACH, which then takes it over.
    assert "CREATE INDEX mid_id_idx ON public.mid USING btree (id);" in done.up
    assert done.up.index("CREATE INDEX mid_id_idx") < done.up.index("ATTACH PARTITION public.mid")


def test_a_foreign_key_referencing_a_partitioned_table_is_one_key(pair: Pair) -> None:
    # PostgreSQL keeps internal rows on the referencing table, one per referenced partition
    # (orders_event_fkey1, ...): they are the key's own workings, never a key to write again.
    parents = (
        "CREATE TABLE public.events (id int NOT NULL, day date NOT NULL, PRIMARY KEY (id, day))"
        " PARTITION BY RANGE (day);\n"
        "CREATE TABLE public.events_a PARTITION OF public.events"
        " FOR VALUES FROM ('2025-01-01') TO ('2025-07-01');\n"
        "CREATE TABLE public.events_b PARTITION OF public.events"
        " FOR VALUES FROM ('2025-07-01') TO ('2026-01-01');\n"
    )
    without = parents + "CREATE TABLE public.orders (id int, event_id int, event_day date);\n"
    with_key = without + (
        "ALTER TABLE public.orders ADD CONSTRAINT orders_event_fkey"
        " FOREIGN KEY (event_id, event_day) REFERENCES public.events (id, day);\n"
    )
    trip = pair.round_trip(without, with_key)
    assert "orders_event_fkey1" not in trip.up
    assert trip.up.count("FOREIGN KEY") == 1
    orders = introspect(pair.b).tables["public.orders"]
    assert [c.name for c in orders.constraints] == ["orders_event_fkey"]
