"""Destructive changes: which migrations may lose data or fail on existing rows, the reasons
given, the ``-- destructive:`` lines of the generated scripts; in memory, then checked on the
real server (what is flagged really fails on such rows, what is not flagged really does not).
"""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from plimsoll.db.catalog import (
    Attribute,
    Catalog,
    Column,
    CompositeType,
    Constraint,
    DomainConstraint,
    DomainType,
    Index,
    Sequence,
    Table,
    View,
)
from plimsoll.db.diff import Change, diff, generate, migration_sql
from plimsoll.db.diff.risks import safe_retype
from plimsoll.db.introspect import introspect
from plimsoll.db.migrator import MigrationError, Migrator
from tests.db.diff.conftest import Pair


def _t(name: str, *columns: Column, **parts: object) -> Table:
    return Table("public", name, columns=columns, **parts)  # type: ignore[arg-type]


def _risks(changes: list[Change]) -> dict[tuple[str, str], tuple[str, ...]]:
    """The reasons of every change, by (object type, name)."""
    return {(c.object_type, c.name): c.risks for c in changes}


ID = Column("id", "integer")


# --- in memory ---------------------------------------------------------------------------------


def test_dropped_tables_and_columns_lose_data_and_their_way_back_says_so() -> None:
    a = Catalog.of(tables=[_t("t", ID, Column("note", "text")), _t("gone", ID)])
    b = Catalog.of(tables=[_t("t", ID)])
    assert _risks(diff(a, b)) == {
        ("table", "public.gone"): ("drops table public.gone and its rows",),
        ("column", "public.t.note"): ("drops column public.t.note and its data",),
    }
    # The other way adds them: nothing to lose going up, everything coming down.
    back = diff(b, a)
    assert not any(c.destructive for c in back)
    up, down = migration_sql(back)
    assert "destructive" not in up
    assert down.splitlines() == [
        "-- destructive: drops column public.t.note and its data",
        "ALTER TABLE public.t DROP COLUMN note;",
        "",
        "-- destructive: drops table public.gone and its rows",
        "DROP TABLE public.gone;",
    ]


def test_a_generated_column_dropped_loses_nothing_but_made_plain_loses_its_values() -> None:
    total = Column("total", "integer", default="(id * 2)", generated=True)
    a = Catalog.of(tables=[_t("t", ID, total)])
    assert not diff(a, Catalog.of(tables=[_t("t", ID)]))[0].destructive
    plain = Catalog.of(tables=[_t("t", ID, Column("total", "integer"))])
    [change] = diff(a, plain)
    assert change.risks == (
        "recreates generated column public.t.total as a plain one: its values are dropped,"
        " the new column starts empty",
    )


def test_nullability_and_new_not_null_columns() -> None:
    nullable = Catalog.of(tables=[_t("t", ID)])
    required = Catalog.of(tables=[_t("t", Column("id", "integer", nullable=False))])
    [tighten] = diff(nullable, required)
    assert tighten.risks == ("makes public.t.id NOT NULL: fails if a row holds NULL",)
    [relax] = diff(required, nullable)
    assert not relax.destructive
    assert migration_sql([relax])[1].startswith("-- destructive: makes public.t.id NOT NULL")

    def added(column: Column) -> tuple[str, ...]:
        [change] = diff(nullable, Catalog.of(tables=[_t("t", ID, column)]))
        return change.risks

    assert added(Column("x", "text", nullable=False)) == (
        "adds NOT NULL column public.t.x without a default: fails if public.t has rows",
    )
    assert added(Column("x", "text", nullable=False, default="''::text")) == ()
    assert added(Column("x", "bigint", nullable=False, identity="ALWAYS")) == ()
    assert added(Column("x", "text")) == ()

    # A generated column's NOT NULL is altered in place like any other's.
    total = Column("total", "integer", default="(id * 2)", generated=True)
    required_total = Column("total", "integer", False, default="(id * 2)", generated=True)
    [generated] = diff(
        Catalog.of(tables=[_t("t", ID, total)]), Catalog.of(tables=[_t("t", ID, required_total)])
    )
    assert generated.up_sql == "ALTER TABLE public.t ALTER COLUMN total SET NOT NULL;"
    assert generated.risks == ("makes public.t.total NOT NULL: fails if a row holds NULL",)

    # DROP IDENTITY drops the column's sequence: where it had got to is lost.
    counted = Catalog.of(tables=[_t("t", Column("id", "integer", False, identity="ALWAYS"))])
    plain = Catalog.of(tables=[_t("t", Column("id", "integer", False))])
    [dropped] = diff(counted, plain)
    assert dropped.risks == ("drops the identity of public.t.id and its sequence's current value",)
    assert not diff(plain, counted)[0].destructive


@pytest.mark.parametrize(
    ("old", "new", "safe"),
    [
        ("character varying(10)", "character varying(20)", True),
        ("character varying(10)", "character varying(10)", True),
        ("character varying(20)", "character varying(10)", False),
        ("character varying(10)", "character varying", True),
        ("character varying(10)", "text", True),
        ("character varying", "text", True),
        ("text", "character varying", True),
        ("text", "character varying(10)", False),
        ("character varying(10)[]", "character varying(20)[]", True),
        ("character varying(10)[]", "text[]", True),
        ("text[]", "text", False),
        ("numeric(10,2)", "numeric(12,2)", True),
        ("numeric(10,2)", "numeric", True),
        ("numeric(10,2)", "numeric(12,3)", False),
        ("numeric(10,2)", "numeric(8,2)", False),
        ("numeric", "numeric(10,2)", False),
        ("smallint", "integer", True),
        ("integer", "bigint", True),
        ("integer", "numeric", True),
        ("integer", "numeric(5,0)", False),
        ("bigint", "integer", False),
        ("real", "double precision", True),
        ("double precision", "real", False),
        ("timestamp(3) without time zone", "timestamp(6) without time zone", True),
        ("timestamp(6) without time zone", "timestamp(0) without time zone", False),
        ("timestamp without time zone", "timestamp with time zone", False),
        ("character(5)", "character(10)", False),
        ("character(5)", "text", False),
        ("text", "integer", False),
        ("integer", "text", False),
        ("public.mood", "text", False),
    ],
)
def test_a_type_change_is_safe_only_when_it_widens(old: str, new: str, safe: bool) -> None:
    assert safe_retype(old, new) is safe
    a = Catalog.of(tables=[_t("t", Column("c", old))])
    b = Catalog.of(tables=[_t("t", Column("c", new))])
    if old == new:
        assert diff(a, b) == []
        return
    [change] = diff(a, b)
    expected = (
        f"changes public.t.c from {old} to {new}: existing values may fail to convert or change"
    )
    assert change.risks == (() if safe else (expected,))


def test_constraints_and_unique_indexes_added_to_rows_already_there() -> None:
    check = Constraint("t_pos", "c", "CHECK ((id > 0))")
    loose = Constraint("t_pos", "c", "CHECK ((id > 0)) NOT VALID", validated=False)
    fk = Constraint("t_fk", "f", "FOREIGN KEY (id) REFERENCES public.p(id) NOT VALID")
    unique = Index("t_id", "CREATE UNIQUE INDEX t_id ON public.t USING btree (id)", unique=True)
    plain = Index("t_i", "CREATE INDEX t_i ON public.t USING btree (id)")
    a = Catalog.of(tables=[_t("t", ID)])
    b = Catalog.of(tables=[_t("t", ID, constraints=(check, fk), indexes=(unique, plain))])
    assert _risks(diff(a, b)) == {
        ("constraint", "public.t.t_pos"): (
            "adds constraint t_pos to public.t, checking every row: fails on a row that breaks it",
        ),
        ("constraint", "public.t.t_fk"): (),
        ("index", "public.t.t_id"): (
            "builds unique index t_id on public.t: fails on duplicate rows",
        ),
        ("index", "public.t.t_i"): (),
    }
    # NOT VALID skips the rows; dropping a constraint cannot fail, adding it back can.
    assert not diff(a, Catalog.of(tables=[_t("t", ID, constraints=(loose,))]))[0].destructive
    [dropped] = diff(Catalog.of(tables=[_t("t", ID, constraints=(check,))]), a)
    assert not dropped.destructive
    assert migration_sql([dropped])[1].startswith("-- destructive: adds constraint t_pos")
    # A new table has no rows; a key renamed was already met by the rows.
    assert not any(c.destructive for c in diff(Catalog.of(), b))
    renamed = Constraint("t_key", "c", "CHECK ((id > 0))")
    was = Catalog.of(tables=[_t("t", ID, constraints=(check,))])
    now = Catalog.of(tables=[_t("t", ID, constraints=(renamed,))])
    assert not any(c.destructive for c in diff(was, now))


def test_sequences_and_materialized_views() -> None:
    seq = Sequence("public", "s", maximum=1000)
    narrow, wide = Sequence("public", "s", maximum=10), Sequence("public", "s", maximum=10**6)
    assert diff(Catalog.of(sequences=[seq]), Catalog.of())[0].risks == (
        "drops sequence public.s and its current value",
    )
    [narrowed] = diff(Catalog.of(sequences=[seq]), Catalog.of(sequences=[narrow]))
    assert narrowed.risks == (
        "narrows the range of sequence public.s: fails if its current value is outside it",
    )
    [widened] = diff(Catalog.of(sequences=[seq]), Catalog.of(sequences=[wide]))
    assert not widened.destructive and "narrows" in migration_sql([widened])[1]

    matview = View("public", "m", "SELECT 1 AS x", materialized=True)
    view = View("public", "v", "SELECT 1 AS x")
    assert _risks(diff(Catalog.of(views=[matview, view]), Catalog.of())) == {
        ("materialized view", "public.m"): (
            "drops materialized view public.m and its stored rows",
        ),
        ("view", "public.v"): (),
    }
    # Rebuilt, a materialized view computes its rows again: nothing lost.
    changed = View("public", "m", "SELECT 2 AS x", materialized=True)
    assert not diff(Catalog.of(views=[matview]), Catalog.of(views=[changed]))[0].destructive


def test_domains_and_composite_types() -> None:
    domain = DomainType("public", "d", "integer")
    strict = DomainType(
        "public",
        "d",
        "integer",
        not_null=True,
        constraints=(DomainConstraint("d_pos", "CHECK ((VALUE > 0))"),),
    )
    [change] = diff(Catalog.of(domains=[domain]), Catalog.of(domains=[strict]))
    assert change.risks == (
        "makes domain public.d NOT NULL: fails if a column of the domain holds NULL",
        "adds constraint d_pos to domain public.d: fails if a column of the domain holds a value"
        " that breaks it",
    )
    loose = DomainType(
        "public",
        "d",
        "integer",
        constraints=(DomainConstraint("d_pos", "CHECK ((VALUE > 0)) NOT VALID", validated=False),),
    )
    assert not diff(Catalog.of(domains=[domain]), Catalog.of(domains=[loose]))[0].destructive

    pair_type = CompositeType("public", "c", (Attribute("x", "integer"), Attribute("y", "text")))
    smaller = CompositeType("public", "c", (Attribute("x", "integer"),))
    stored = [_t("t", Column("v", "public.c"))]
    [dropped] = [
        c
        for c in diff(
            Catalog.of(composites=[pair_type], tables=stored),
            Catalog.of(composites=[smaller], tables=stored),
        )
        if c.object_type == "composite type"
    ]
    assert dropped.risks == ("drops attribute y of public.c from the values of public.t.v",)
    unused = diff(Catalog.of(composites=[pair_type]), Catalog.of(composites=[smaller]))
    assert not unused[0].destructive


def test_a_parents_change_is_destructive_for_its_children_too() -> None:
    # The parent's DROP COLUMN and ALTER COLUMN TYPE reach the child: its rows lose or
    # convert their values too, though its change has no statement of its own.
    def family(*columns: Column) -> Catalog:
        child = tuple(Column(c.name, c.type, local=False) for c in columns)
        return Catalog.of(tables=[_t("p", *columns), _t("c", *child, inherits=("public.p",))])

    a = family(ID, Column("x", "text"), Column("n", "text"))
    b = family(ID, Column("n", "integer"))
    found = _risks(diff(a, b))
    assert found["column", "public.c.x"] == ("drops column public.c.x and its data",)
    assert found["column", "public.c.n"] == (
        "changes public.c.n from text to integer: existing values may fail to convert or change",
    )
    up, _down = migration_sql(diff(a, b))
    assert up.count("-- destructive:") == 2  # the parent's two statements


def _parted(*partitions: Table) -> Catalog:
    parent = Table("public", "p", columns=(ID,), partition_by="RANGE (id)")
    return Catalog.of(tables=[parent, *partitions])


def _part(name: str, bound: str) -> Table:
    return Table(
        "public",
        name,
        columns=(Column("id", "integer", local=False),),
        partition_of="public.p",
        bound=bound,
    )


def test_partitions_attached_or_made_next_to_a_default_one_check_rows() -> None:
    low = _part("p_low", "FOR VALUES FROM (0) TO (10)")
    rest = _part("p_rest", "DEFAULT")
    plain = Table("public", "p_low", columns=(ID,))
    attached = _risks(diff(_parted(plain), _parted(low)))
    assert attached["partition", "public.p_low"] == (
        "attaches public.p_low to public.p FOR VALUES FROM (0) TO (10), checking every row:"
        " fails on a row outside the bound",
    )
    assert _risks(diff(_parted(rest), _parted(rest, low))) == {
        ("partition", "public.p_low"): (
            "creates public.p_low next to default partition public.p_rest: fails if it holds"
            " rows of its bound",
        )
    }
    assert not any(c.destructive for c in diff(_parted(), _parted(low)))
    [dropped] = diff(_parted(low), _parted())
    assert dropped.risks == ("drops partition public.p_low and its rows",)


def test_a_destructive_line_stays_one_line_whatever_the_name() -> None:
    a = Catalog.of(tables=[_t("x\nDROP TABLE public.keep; --", ID)])
    up, _down = migration_sql(diff(a, Catalog.of()))
    first, second = up.splitlines()[:2]
    assert first == "-- destructive: drops table public.x\\nDROP TABLE public.keep; -- and its rows"
    assert second.startswith('DROP TABLE public."x')


# --- on the real server ------------------------------------------------------------------------


FAILING = {
    "set not null": (
        "CREATE TABLE t (id int); INSERT INTO t VALUES (NULL);",
        "CREATE TABLE t (id int NOT NULL);",
        ("column", "public.t.id"),
        "contains null values",
    ),
    "text to integer": (
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('abc');",
        "CREATE TABLE t (v integer);",
        ("column", "public.t.v"),
        "invalid input syntax for type integer",
    ),
    "numeric narrowed": (
        "CREATE TABLE t (v numeric(6,2)); INSERT INTO t VALUES (1234.5);",
        "CREATE TABLE t (v numeric(4,2));",
        ("column", "public.t.v"),
        "numeric field overflow",
    ),
    "not null column added": (
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1);",
        "CREATE TABLE t (id int, v text NOT NULL);",
        ("column", "public.t.v"),
        "contains null values",
    ),
    "check added": (
        "CREATE TABLE t (id int); INSERT INTO t VALUES (-1);",
        "CREATE TABLE t (id int, CONSTRAINT t_pos CHECK (id > 0));",
        ("constraint", "public.t.t_pos"),
        "is violated by some row",
    ),
    "unique index": (
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (1);",
        "CREATE TABLE t (id int); CREATE UNIQUE INDEX t_id ON t (id);",
        ("index", "public.t.t_id"),
        "could not create unique index",
    ),
    "sequence narrowed": (
        "CREATE SEQUENCE s MAXVALUE 1000; SELECT setval('s', 500);",
        "CREATE SEQUENCE s MAXVALUE 100;",
        ("sequence", "public.s"),
        "cannot be greater than MAXVALUE",
    ),
    "domain not null": (
        "CREATE DOMAIN d AS int; CREATE TABLE t (v d); INSERT INTO t VALUES (NULL);",
        "CREATE DOMAIN d AS int NOT NULL; CREATE TABLE t (v d);",
        ("domain", "public.d"),
        "contains null values",
    ),
    "partition attached": (
        "CREATE TABLE p (id int) PARTITION BY RANGE (id); CREATE TABLE q (id int);"
        " INSERT INTO q VALUES (50);",
        "CREATE TABLE p (id int) PARTITION BY RANGE (id);"
        " CREATE TABLE q PARTITION OF p FOR VALUES FROM (0) TO (10);",
        ("partition", "public.q"),
        "partition constraint of relation",
    ),
    "partition next to a default one": (
        "CREATE TABLE p (id int) PARTITION BY RANGE (id);"
        " CREATE TABLE p_rest PARTITION OF p DEFAULT; INSERT INTO p VALUES (5);",
        "CREATE TABLE p (id int) PARTITION BY RANGE (id);"
        " CREATE TABLE p_rest PARTITION OF p DEFAULT;"
        " CREATE TABLE p_low PARTITION OF p FOR VALUES FROM (0) TO (10);",
        ("partition", "public.p_low"),
        "would be violated by some row",
    ),
}


@pytest.mark.parametrize("case", sorted(FAILING))
def test_what_is_flagged_really_fails_on_such_rows(pair: Pair, case: str) -> None:
    schema_and_rows, target, (object_type, name), error = FAILING[case]
    pair.run(pair.a, schema_and_rows)
    pair.run(pair.b, target)
    before = introspect(pair.a)
    changes = diff(before, introspect(pair.b))
    flagged = [c for c in changes if (c.object_type, c.name) == (object_type, name)]
    assert [c.destructive for c in flagged] == [True], [(c.name, c.risks) for c in changes]
    up_file, _down_file = generate(changes, "tighten", pair.folder)
    assert "-- destructive: " in up_file.read_text()
    with pytest.raises(MigrationError, match=error):
        Migrator(pair.a, pair.folder).up()
    assert introspect(pair.a) == before


def test_what_is_flagged_may_also_change_values_silently(pair: Pair) -> None:
    # The generated USING casts explicitly, and an explicit cast to a shorter varchar or a
    # smaller scale truncates or rounds rather than fails.
    pair.run(
        pair.a,
        "CREATE TABLE t (v varchar(10), n numeric(6,3)); INSERT INTO t VALUES ('abcdef', 1.234);",
    )
    pair.run(pair.b, "CREATE TABLE t (v varchar(3), n numeric(6,1));")
    changes = diff(introspect(pair.a), introspect(pair.b))
    assert [(c.name, c.destructive) for c in changes] == [
        ("public.t.v", True),
        ("public.t.n", True),
    ]
    generate(changes, "shorten", pair.folder)
    Migrator(pair.a, pair.folder).up()
    with psycopg.connect(pair.a) as conn:
        assert conn.execute("SELECT v, n FROM t").fetchall() == [("abc", Decimal("1.2"))]


SAFE_A = """
CREATE TABLE t (
    id int PRIMARY KEY, n smallint, big int, code varchar(5), label varchar(10),
    price numeric(6,2), ratio real, at timestamp(0), note text
);
CREATE SEQUENCE s MAXVALUE 100;
INSERT INTO t VALUES (1, 7, 8, 'abcde', 'x', 1234.56, 0.5, '2025-01-01 10:00:00', 'n');
SELECT setval('s', 50);
"""
SAFE_B = """
CREATE TABLE t (
    id int PRIMARY KEY, n integer, big bigint, code text, label varchar(40),
    price numeric(9,2), ratio double precision, at timestamp(3), note text,
    extra text DEFAULT 'e' NOT NULL
);
-- CREATE TABLE would check it (the table is empty): NOT VALID only holds when added after.
ALTER TABLE t ADD CONSTRAINT t_note CHECK (note <> 'x') NOT VALID;
CREATE UNIQUE INDEX t_code ON t (code);
CREATE SEQUENCE s MAXVALUE 1000;
"""
ROW = "SELECT id, n, big, code, label, price, ratio, at::text, note FROM t"


def test_what_is_not_flagged_keeps_every_row(pair: Pair) -> None:
    # Widenings, a default-filled NOT NULL column, NOT VALID: none flagged, and the row
    # comes through the round trip as it was.
    done = pair.round_trip(SAFE_A, SAFE_B)
    flagged = {(c.object_type, c.name): c.risks for c in done.changes if c.destructive}
    # Only the unique index is: duplicates would stop it.
    assert set(flagged) == {("index", "public.t.t_code")}, flagged
    assert done.up.count("-- destructive:") == 1
    with psycopg.connect(pair.a) as conn:
        assert conn.execute(ROW).fetchall() == [
            (1, 7, 8, "abcde", "x", Decimal("1234.56"), 0.5, "2025-01-01 10:00:00", "n")
        ]
