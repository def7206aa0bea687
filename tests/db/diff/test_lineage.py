"""Pure logic of partitions and inheritance: what a parent's steps do to its children's
columns, a detached partition, tree depth, and changes covered by another's DDL."""

from __future__ import annotations

from pathlib import Path

from plimsoll.db.catalog import Catalog, Column, Constraint, Index, Table
from plimsoll.db.diff import Change, ChangeKind, diff, generate, migration_sql
from plimsoll.db.diff.inheritance import Lineage, inherited, propagate, tree_depth
from plimsoll.db.diff.partitions import detached


def test_a_parents_change_is_set_on_its_child_and_the_rest_kept() -> None:
    child = Column("n", "integer", nullable=True, default="5", comment="mine")
    was = Column("n", "integer", nullable=True, default="1")
    assert propagate(child, was, Column("n", "integer", False, "1")) == Column(
        "n", "integer", nullable=False, default="5", comment="mine"
    )
    assert propagate(child, was, Column("n", "integer", True, "2")).default == "2"
    # A new type drops and sets the default again: the child's own one is gone too.
    retyped = propagate(child, was, Column("n", "bigint", True, "1"))
    assert (retyped.type, retyped.default) == ("bigint", "1")
    assert propagate(child, was, was) == child


def test_a_column_inherited_has_no_comment_grants_identity_or_own_definition() -> None:
    column = Column("id", "bigint", False, None, "ALWAYS", comment="key")
    assert inherited(column) == Column("id", "bigint", False)
    assert not inherited(column).local


def test_a_detached_partition_owns_the_copies_of_its_parents_objects() -> None:
    copy = Constraint("p_pkey", "p", "PRIMARY KEY (id)")
    own = Constraint("p_check", "c", "CHECK ((id > 0))")
    index = Index("p_id_idx", "CREATE INDEX p_id_idx ON public.p USING btree (id)")
    partition = Table(
        "public",
        "p",
        columns=(Column("id", "integer", local=False),),
        constraints=(own,),
        partition_of="public.t",
        bound="DEFAULT",
        inherited_constraints=(copy,),
        inherited_indexes=(index,),
    )
    table = detached(partition)
    assert (table.partition_of, table.bound, table.is_partition) == (None, None, False)
    assert table.constraints == (own, copy)
    assert table.indexes == (index,)
    assert table.columns[0].local and table.inherited_constraints == ()


def test_depth_counts_links_that_hold_on_both_sides() -> None:
    top = Table("public", "t", partition_by="RANGE (d)")
    mid = Table("public", "m", partition_by="LIST (i)", partition_of="public.t", bound="DEFAULT")
    leaf = Table("public", "l", partition_of="public.m", bound="FOR VALUES IN (1)")
    tables = {t.key: t for t in (top, mid, leaf)}
    assert [tree_depth(tables, k) for k in ("public.t", "public.m", "public.l")] == [0, 1, 2]
    moved = {**tables, "public.l": Table("public", "l", partition_of="public.m", bound="DEFAULT")}
    lineage = Lineage(tables, moved)
    assert lineage.stable_parents("public.m") == ("public.t",)
    # A partition whose bound changes is detached and attached: no link holds.
    assert lineage.stable_parents("public.l") == ()
    assert lineage.depth("public.m") == 1 and lineage.depth("public.l") == 0


def test_a_column_added_to_a_parent_is_not_added_to_its_child(tmp_path: Path) -> None:
    parent = Table("public", "p", columns=(Column("id", "integer"),))
    child = Table(
        "public", "c", columns=(Column("id", "integer", local=False),), inherits=("public.p",)
    )
    added = Column("x", "text", default="'a'::text")
    a = Catalog.of(tables=[parent, child])
    b = Catalog.of(
        tables=[
            Table("public", "p", columns=(*parent.columns, added)),
            Table(
                "public", "c", columns=(*child.columns, inherited(added)), inherits=("public.p",)
            ),
        ]
    )
    changes = diff(a, b)
    covered = [c for c in changes if c.name == "public.c.x"]
    assert covered == [
        Change(ChangeKind.ADDED, "column", "public.c.x", "through public.p", covered_by="public.p")
    ]
    up, down = migration_sql(changes)
    assert up == "ALTER TABLE public.p ADD COLUMN x text DEFAULT 'a'::text;"
    assert down == (
        "-- destructive: drops column public.p.x and its data\nALTER TABLE public.p DROP COLUMN x;"
    )
    # A change another's DDL carries out does not stop --generate.
    generate(changes, "x", tmp_path)
    assert len(list(tmp_path.iterdir())) == 2
