"""Table inheritance: INHERIT / NO INHERIT, and a parent's column changes reaching its
children."""

from __future__ import annotations

import psycopg

from plimsoll.db.diff import ChangeKind
from plimsoll.db.introspect import introspect
from tests.db.diff.conftest import Pair

INHERIT_A = """
CREATE TABLE public.base (id int NOT NULL, at timestamptz, CONSTRAINT base_id CHECK (id > 0));
CREATE TABLE public.event (kind text) INHERITS (public.base);
CREATE TABLE public.audit (who text) INHERITS (public.base);
CREATE TABLE public.note (body text);
"""
INHERIT_B = """
CREATE TABLE public.base (id int NOT NULL, at timestamptz, CONSTRAINT base_id CHECK (id > 0));
CREATE TABLE public.event (kind text) INHERITS (public.base);
CREATE TABLE public.note (id int NOT NULL, at timestamptz, body text,
    CONSTRAINT base_id CHECK (id > 0));
ALTER TABLE public.note INHERIT public.base;
CREATE TABLE public.later (extra int) INHERITS (public.base);
"""


def test_inheritance_round_trips(pair: Pair) -> None:
    done = pair.round_trip(INHERIT_A, INHERIT_B)
    note = done.change("inheritance", "public.note")
    assert note.kind is ChangeKind.CHANGED and note.detail == "inherits none -> public.base"
    assert "ALTER TABLE public.note INHERIT public.base;" in done.up
    # A child goes before its parent could; a new child is attached once it is complete.
    assert done.up.index("ALTER TABLE public.audit NO INHERIT public.base;") < done.up.index(
        "DROP TABLE public.audit;"
    )
    assert done.up.index("CREATE TABLE public.later") < done.up.index(
        "ALTER TABLE public.later INHERIT public.base;"
    )
    assert introspect(pair.b).tables["public.later"].inherits == ("public.base",)


FAMILY_A = """
CREATE TABLE public.thing (id int NOT NULL, old text, size int DEFAULT 1, gone int);
COMMENT ON COLUMN public.thing.old IS 'the parent''s';
CREATE TABLE public.tool (handle text) INHERITS (public.thing);
ALTER TABLE public.tool ALTER COLUMN size SET DEFAULT 5;
COMMENT ON COLUMN public.tool.old IS 'the child''s';
CREATE TABLE public.hammer (weight int) INHERITS (public.tool);
CREATE TABLE public.own (id int NOT NULL, old text, size int DEFAULT 1, gone int);
ALTER TABLE public.own INHERIT public.thing;
INSERT INTO public.tool (id, old, handle) VALUES (1, 'a', 'wood');
"""
FAMILY_B = """
CREATE TABLE public.thing (id bigint NOT NULL, size int DEFAULT 2, added text DEFAULT 'new');
CREATE TABLE public.tool (handle text) INHERITS (public.thing);
ALTER TABLE public.tool ALTER COLUMN size SET DEFAULT 5;
ALTER TABLE public.tool ALTER COLUMN added SET DEFAULT 'tool';
COMMENT ON COLUMN public.tool.added IS 'the child''s';
CREATE TABLE public.hammer (weight int) INHERITS (public.tool);
CREATE TABLE public.own (id bigint NOT NULL, size int DEFAULT 1, added text DEFAULT 'new');
ALTER TABLE public.own INHERIT public.thing;
"""


def test_a_parents_column_changes_reach_its_children_through_the_parent(pair: Pair) -> None:
    done = pair.round_trip(FAMILY_A, FAMILY_B)
    # ADD / DROP COLUMN and ALTER COLUMN TYPE are written for the parent only.
    assert done.up.count("ADD COLUMN added") == 1
    assert "ALTER TABLE public.tool DROP COLUMN" not in done.up
    assert "ALTER TABLE public.hammer DROP COLUMN" not in done.up
    assert done.up.count("TYPE bigint") == 1
    for child in ("tool", "hammer"):
        for column in ("added", "old", "gone"):
            change = done.change("column", f"public.{child}.{column}")
            assert change.covered_by in ("public.thing", "public.tool"), change
    # A column a child has as its own (public.own was made apart, then INHERIT) outlives the
    # parent's DROP COLUMN: dropped there too, after the parent's.
    own = "ALTER TABLE public.own DROP COLUMN gone;"
    assert done.up.index("ALTER TABLE public.thing DROP COLUMN gone;") < done.up.index(own)
    assert done.change("column", "public.own.gone").covered_by == ""
    # The child's own settings: its default kept through the parent's, its comment.
    assert "ALTER TABLE public.tool ALTER COLUMN added SET DEFAULT 'tool'::text;" in done.up
    assert "COMMENT ON COLUMN public.tool.added IS 'the child''s';" in done.up
    # The parent's SET DEFAULT recurses into every child: a child's own default is set back.
    parent = done.up.index("ALTER TABLE public.thing ALTER COLUMN size SET DEFAULT 2;")
    assert parent < done.up.index("ALTER TABLE public.tool ALTER COLUMN size SET DEFAULT 5;")
    assert parent < done.up.index("ALTER TABLE public.own ALTER COLUMN size SET DEFAULT 1;")
    assert "ALTER TABLE public.hammer ALTER COLUMN size" not in done.up
    # On the way back, the parent's ADD COLUMN brings the column back to the children,
    # then the child's comment is set again.
    assert done.down.index("ALTER TABLE public.thing ADD COLUMN old text;") < done.down.index(
        "COMMENT ON COLUMN public.tool.old IS 'the child''s';"
    )
    # Columns come back at the end (PostgreSQL cannot place them): a diff ignores the order.
    assert [c.name for c in introspect(pair.a).tables["public.tool"].columns] == [
        "id",
        "size",
        "handle",
        "gone",
        "old",
    ]
    with psycopg.connect(pair.a) as conn:
        assert conn.execute("SELECT id, handle FROM public.tool").fetchall() == [(1, "wood")]


COLLATED_A = """
CREATE TABLE public.word (a text, b text COLLATE "C", c varchar(9) COLLATE "POSIX", d text);
CREATE INDEX word_b_idx ON public.word (b);
CREATE VIEW public.sorted AS SELECT b FROM public.word ORDER BY b;
CREATE TABLE public.longword (extra int) INHERITS (public.word);
INSERT INTO public.word VALUES ('x', 'y', 'z', 'w');
"""
COLLATED_B = """
CREATE TABLE public.word (a text COLLATE "C", b text COLLATE "POSIX", c varchar(9), d text,
    e text COLLATE "C");
CREATE INDEX word_b_idx ON public.word (b);
CREATE VIEW public.sorted AS SELECT b FROM public.word ORDER BY b;
CREATE TABLE public.longword (extra int) INHERITS (public.word);
"""


def test_column_collations_round_trip(pair: Pair) -> None:
    done = pair.round_trip(COLLATED_A, COLLATED_B)
    assert introspect(pair.b).tables["public.word"].column("b").collation == (  # type: ignore[union-attr]
        'pg_catalog."POSIX"'
    )
    assert done.change("column", "public.word.a").detail == 'collation none -> pg_catalog."C"'
    assert (
        'ALTER TABLE public.word ALTER COLUMN b TYPE text COLLATE pg_catalog."POSIX" USING b::text;'
        in done.up
    )
    # Back to the type's default collation: TYPE without COLLATE.
    assert "ALTER TABLE public.word ALTER COLUMN c TYPE character varying(9) USING" in done.up
    assert 'ADD COLUMN e text COLLATE pg_catalog."C";' in done.up
    # The view reading b is rebuilt around the change; the child follows its parent.
    assert done.change("view", "public.sorted").kind is ChangeKind.CHANGED
    assert "ALTER TABLE public.longword" not in done.up
    with psycopg.connect(pair.a) as conn:
        assert conn.execute("SELECT a, b, c, d FROM public.word").fetchall() == [
            ("x", "y", "z", "w")
        ]


def test_a_not_valid_check_of_a_table_created_or_dropped_stays_not_valid(pair: Pair) -> None:
    # Inside CREATE TABLE, PostgreSQL validates a NOT VALID check: it is added afterwards.
    def table(name: str) -> str:
        return (
            f"CREATE TABLE public.{name} (note text);"
            f" ALTER TABLE public.{name} ADD CONSTRAINT {name}_note CHECK (note <> 'x') NOT VALID;"
        )

    done = pair.round_trip(table("t1"), table("t2"))
    assert (
        "ALTER TABLE public.t2 ADD CONSTRAINT t2_note CHECK ((note <> 'x'::text)) NOT VALID;"
        in done.up
    )
    assert "t1_note CHECK ((note <> 'x'::text)) NOT VALID;" in done.down
    assert not introspect(pair.b).tables["public.t2"].constraints[0].validated
