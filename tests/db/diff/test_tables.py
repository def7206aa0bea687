"""Table inheritance (INHERIT / NO INHERIT) and partitioned tables (reported, no DDL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.core.errors import UsageError
from plimsoll.db.diff import ChangeKind, diff, generate
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


PARTITIONED_A = """
CREATE TABLE public.measures (day date NOT NULL, value numeric) PARTITION BY RANGE (day);
CREATE TABLE public.measures_2024 PARTITION OF public.measures
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
"""
PARTITIONED_B = """
CREATE TABLE public.measures (day date NOT NULL, value numeric) PARTITION BY RANGE (day);
CREATE TABLE public.measures_2024 PARTITION OF public.measures
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE public.measures_2025 PARTITION OF public.measures
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.hits (id bigint, at date) PARTITION BY HASH (id);
"""


def test_partitioned_tables_are_reported_without_ddl(pair: Pair, tmp_path: Path) -> None:
    pair.run(pair.a, PARTITIONED_A)
    pair.run(pair.b, PARTITIONED_B)
    a, b = introspect(pair.a), introspect(pair.b)
    # Partitions are listed under their table, not as tables of their own.
    assert "public.measures_2024" not in a.tables
    assert [p.key for p in b.partitioned["public.measures"].partitions] == [
        "public.measures_2024",
        "public.measures_2025",
    ]
    changes = diff(a, b)
    assert [(c.kind, c.object_type, c.name, c.detail) for c in changes] == [
        (ChangeKind.ADDED, "partitioned table", "public.hits", "PARTITION BY HASH (id)"),
        (
            ChangeKind.CHANGED,
            "partitioned table",
            "public.measures",
            "partition public.measures_2025 attached"
            " (FOR VALUES FROM ('2025-01-01') TO ('2026-01-01'))",
        ),
    ]
    with pytest.raises(UsageError, match="partitioned table public.hits"):
        generate(changes, "partitions", tmp_path)
    assert diff(a, introspect(pair.a)) == []
