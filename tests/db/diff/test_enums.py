"""Enum label changes: ADD VALUE, recreation for removed or reordered labels, and the way
back; in memory and on the real server."""

from __future__ import annotations

import pytest

from plimsoll.core.errors import UsageError
from plimsoll.db.catalog import Catalog, Column, EnumType, Table
from plimsoll.db.diff import ChangeKind, diff, migration_sql
from plimsoll.db.migrator import MigrationError
from tests.db.diff.conftest import Pair


def _catalog(labels: tuple[str, ...], default: str | None = None) -> Catalog:
    column = Column("mood", "public.mood", default=default)
    return Catalog.of(
        enums=[EnumType("public", "mood", labels)],
        tables=[Table("public", "people", columns=(column,))],
    )


def test_labels_added_are_placed_next_to_their_neighbours() -> None:
    a = Catalog.of(enums=[EnumType("public", "e", ("b", "d"))])
    b = Catalog.of(enums=[EnumType("public", "e", ("a", "b", "c", "d", "e"))])
    [change] = diff(a, b)
    assert change.up_sql.splitlines() == [
        "ALTER TYPE public.e ADD VALUE 'a' BEFORE 'b';",
        "ALTER TYPE public.e ADD VALUE 'c' AFTER 'b';",
        "ALTER TYPE public.e ADD VALUE 'e' AFTER 'd';",
    ]
    assert not change.destructive


def test_removed_or_reordered_labels_recreate_the_type_and_convert_columns() -> None:
    a = _catalog(("a", "b", "c"), default="'a'::public.mood")
    b = _catalog(("c", "a"), default="'c'::public.mood")
    changes = diff(a, b)
    [enum] = [c for c in changes if c.object_type == "enum"]
    assert enum.destructive and "recreated" in enum.detail
    assert enum.risks == (
        "removes label 'b' from enum public.mood",
        "converts public.people.mood to the new public.mood: fails on a row holding 'b'",
    )
    # The column's default belongs to the recreation: reported for the column, written there.
    [column] = [c for c in changes if c.object_type == "column"]
    assert (column.name, column.detail, column.steps, column.covered_by) == (
        "public.people.mood",
        "default 'a'::public.mood -> 'c'::public.mood",
        (),
        "public.mood",
    )
    up, down = migration_sql(changes)
    assert up.splitlines() == [
        "-- destructive: removes label 'b' from enum public.mood",
        "ALTER TYPE public.mood RENAME TO mood_old;",
        "CREATE TYPE public.mood AS ENUM ('c', 'a');",
        "",
        "-- destructive: converts public.people.mood to the new public.mood: fails on a row"
        " holding 'b'",
        "ALTER TABLE public.people ALTER COLUMN mood DROP DEFAULT;",
        "ALTER TABLE public.people ALTER COLUMN mood TYPE public.mood"
        " USING mood::text::public.mood;",
        "ALTER TABLE public.people ALTER COLUMN mood SET DEFAULT 'c'::public.mood;",
        "",
        "DROP TYPE public.mood_old;",
    ]
    assert "CREATE TYPE public.mood AS ENUM ('a', 'b', 'c');" in down
    assert (
        down.index("RENAME TO mood_old")
        < down.index("USING mood::text")
        < down.index("DROP TYPE public.mood_old")
    )


def test_a_label_the_migration_writes_is_not_added_in_place() -> None:
    # ADD VALUE's label cannot be used in the transaction adding it: recreate instead.
    a = _catalog(("a",), default="'a'::public.mood")
    b = _catalog(("a", "b"), default="'b'::public.mood")
    [column, enum] = diff(a, b)
    assert "ADD VALUE" not in enum.up_sql and "RENAME TO mood_old" in enum.up_sql
    assert not enum.destructive
    assert (column.name, column.covered_by) == ("public.people.mood", "public.mood")
    unused = diff(_catalog(("a",)), _catalog(("a", "b")))
    assert unused[0].up_sql == "ALTER TYPE public.mood ADD VALUE 'b' AFTER 'a';"


SCHEMA = """
CREATE TYPE public.mood AS ENUM ({labels});
CREATE TABLE public.people (
    id int PRIMARY KEY,
    mood public.mood DEFAULT {default},
    moods public.mood[],
    CONSTRAINT people_not_c CHECK (mood <> 'c')
);
CREATE INDEX people_a_idx ON public.people (id) WHERE mood = 'a';
CREATE VIEW public.happy AS SELECT id FROM public.people WHERE mood = 'a';
CREATE FUNCTION public.is_a(m public.mood) RETURNS boolean LANGUAGE sql
    AS 'SELECT m = ''a''';
ALTER TABLE public.people ENABLE ROW LEVEL SECURITY;
CREATE POLICY people_a ON public.people USING (mood <> 'c');
"""
DATA = "INSERT INTO public.people VALUES (1, 'a', '{a,b}'), (2, 'b', NULL), (3, NULL, '{}');"


def _schema(labels: str, default: str) -> str:
    return SCHEMA.format(labels=labels, default=default)


def test_label_added_round_trips(pair: Pair) -> None:
    done = pair.round_trip(
        _schema("'a', 'b', 'c'", "'a'"), _schema("'a', 'x', 'b', 'c'", "'a'"), DATA
    )
    enum = done.change("enum", "public.mood")
    assert enum.kind is ChangeKind.CHANGED and not enum.destructive
    assert "ALTER TYPE public.mood ADD VALUE 'x' AFTER 'a';" in done.up
    assert "RENAME" not in done.up
    # The way back recreates the type around its users.
    assert "RENAME TO mood_old" in done.down and "DROP VIEW public.happy" in done.down


def test_label_added_and_used_round_trips(pair: Pair) -> None:
    done = pair.round_trip(
        _schema("'a', 'b', 'c'", "'a'"), _schema("'a', 'b', 'c', 'd'", "'d'"), DATA
    )
    assert "ADD VALUE" not in done.up and "RENAME TO mood_old" in done.up
    assert "SET DEFAULT 'd'::public.mood" in done.up


def test_labels_removed_and_reordered_round_trip(pair: Pair) -> None:
    done = pair.round_trip(
        _schema("'a', 'b', 'c', 'gone'", "'a'"), _schema("'c', 'b', 'a'", "'b'"), DATA
    )
    enum = done.change("enum", "public.mood")
    assert enum.destructive
    for statement in (
        "DROP POLICY people_a ON public.people;",
        "ALTER TABLE public.people DROP CONSTRAINT people_not_c;",
        "DROP INDEX public.people_a_idx;",
        "DROP FUNCTION public.is_a(m public.mood);",
        "USING moods::text[]::public.mood[]",
    ):
        assert statement in done.up, statement


def test_a_row_holding_a_removed_label_stops_the_migration(pair: Pair) -> None:
    pair.run(pair.a, _schema("'a', 'b', 'c'", "'a'") + DATA)
    pair.run(pair.b, _schema("'a', 'c'", "'a'"))
    from plimsoll.db.diff import generate
    from plimsoll.db.introspect import introspect
    from plimsoll.db.migrator import Migrator

    before = introspect(pair.a)
    generate(diff(before, introspect(pair.b)), "drop_b", pair.folder)
    with pytest.raises(MigrationError, match="invalid input value for enum"):
        Migrator(pair.a, pair.folder).up()
    assert introspect(pair.a) == before


PARTITIONED = """
CREATE TYPE public.mood AS ENUM ({labels});
CREATE TABLE public.moods (day date NOT NULL, mood public.mood DEFAULT 'a')
    PARTITION BY RANGE (day);
CREATE TABLE public.moods_2025 PARTITION OF public.moods
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.moods_rest PARTITION OF public.moods DEFAULT PARTITION BY RANGE (day);
CREATE TABLE public.moods_old PARTITION OF public.moods_rest
    FOR VALUES FROM ('2000-01-01') TO ('2025-01-01');
CREATE TABLE public.moods_other PARTITION OF public.moods_rest DEFAULT;
CREATE INDEX moods_mood_idx ON public.moods (mood);
ALTER TABLE public.moods_2025 ALTER COLUMN mood SET DEFAULT 'b';
CREATE INDEX moods_2025_b_idx ON public.moods_2025 (day) WHERE mood = 'b';
"""


def test_an_enum_recreated_under_a_partitioned_table_round_trips(pair: Pair) -> None:
    # The column's type changes on the partitioned table only: PostgreSQL carries it to the
    # partitions, which must not be altered again.
    done = pair.round_trip(
        PARTITIONED.format(labels="'a', 'b', 'gone'"),
        PARTITIONED.format(labels="'b', 'a'"),
        "INSERT INTO public.moods VALUES ('2025-03-01', 'b'), ('2030-01-01', 'a'),"
        " ('2010-01-01', 'a');",
    )
    assert "ALTER TABLE public.moods ALTER COLUMN mood TYPE public.mood" in done.up
    assert "ALTER TABLE public.moods_rest" not in done.up
    # A partition's own default and own index naming the type come back after the retyping.
    assert "ALTER TABLE public.moods_2025 ALTER COLUMN mood TYPE" not in done.up
    assert "ALTER TABLE public.moods_2025 ALTER COLUMN mood SET DEFAULT 'b'" in done.up
    assert "DROP INDEX public.moods_2025_b_idx;" in done.up


def test_an_enum_keying_a_partitioned_table_is_reported_not_generated(pair: Pair) -> None:
    keyed = """
    CREATE TYPE public.mood AS ENUM ({labels});
    CREATE TABLE public.moods (day date, mood public.mood) PARTITION BY LIST (mood);
    CREATE TABLE public.moods_a PARTITION OF public.moods FOR VALUES IN ('a');
    """
    pair.run(pair.a, keyed.format(labels="'a', 'b', 'gone'"))
    pair.run(pair.b, keyed.format(labels="'b', 'a'"))
    from plimsoll.db.introspect import introspect

    changes = diff(introspect(pair.a), introspect(pair.b))
    (enum,) = [c for c in changes if c.object_type == "enum"]
    assert "the partition key of public.moods" in enum.detail and not enum.steps
    with pytest.raises(UsageError, match="recreate it by hand"):
        migration_sql(changes)


def test_a_default_changed_with_its_enum_is_reported_and_round_trips(pair: Pair) -> None:
    # The default moves to a label the type had; the new label is only added: ADD VALUE, and
    # the default set by the enum change, reported for the column all the same.
    done = pair.round_trip(
        "CREATE TYPE mood AS ENUM ('sad', 'ok');"
        " CREATE TABLE people (id int, mood mood DEFAULT 'sad');",
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
        " CREATE TABLE people (id int, mood mood DEFAULT 'ok');",
        "INSERT INTO people VALUES (1, 'sad'), (2, DEFAULT);",
    )
    column = done.change("column", "public.people.mood")
    assert column.detail == "default 'sad'::public.mood -> 'ok'::public.mood"
    assert (column.steps, column.covered_by) == ((), "public.mood")
    assert "ADD VALUE 'happy'" in done.up
    assert done.up.count("SET DEFAULT 'ok'::public.mood") == 1
    # Every statement of the migration belongs to a change the report lists.
    enum = done.change("enum", "public.mood")
    assert {c.name for c in done.changes} == {"public.mood", "public.people.mood"}
    assert "SET DEFAULT 'ok'::public.mood" in enum.up_sql


def test_a_default_changed_with_other_column_changes_says_who_sets_it() -> None:
    a = _catalog(("a", "b"), default="'a'::public.mood")
    b = Catalog.of(
        enums=[EnumType("public", "mood", ("b", "a"))],
        tables=[
            Table(
                "public",
                "people",
                columns=(
                    Column("mood", "public.mood", nullable=False, default="'b'::public.mood"),
                ),
            )
        ],
    )
    [column] = [c for c in diff(a, b) if c.object_type == "column"]
    assert column.detail == (
        "NOT NULL; default 'a'::public.mood -> 'b'::public.mood (set by public.mood's DDL)"
    )
    assert "SET NOT NULL" in column.up_sql and "DEFAULT" not in column.up_sql
    assert column.covered_by == ""
