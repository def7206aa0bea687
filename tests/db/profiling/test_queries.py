"""Queries files: names, keys, what is refused; and the sampling of queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.core.errors import InputError
from plimsoll.db.profiling.queries import Query, load_queries, parse_queries, sample
from plimsoll.db.sql import SqlSyntaxError


def test_names_keys_and_lines() -> None:
    queries = parse_queries(
        "-- name: first\nSELECT 1;\n\n/* about it */\n-- name: second\n"
        "SELECT *\n  FROM t WHERE a = 1 -- trailing\n;\nSELECT 2;\n",
        "q.sql",
    )
    assert [(q.name, q.line, q.source) for q in queries] == [
        ("first", 2, "q.sql"),
        ("second", 6, "q.sql"),
        (None, 9, "q.sql"),
    ]
    assert [q.key for q in queries[:2]] == ["first", "second"]
    assert queries[2].key.startswith("q:") and queries[2].label == queries[2].key


def test_a_key_survives_reformatting_but_not_another_constant() -> None:
    one = parse_queries("select id from t where a = 1")[0].key
    same = parse_queries("SELECT id\n  FROM t\n WHERE a = 1;")[0].key
    other = parse_queries("SELECT id FROM t WHERE a = 2")[0].key
    assert one == same != other


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("UPDATE t SET a = 1", "Update is not a read query"),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE in a WITH clause"),
        ("SELECT * INTO copy FROM t", "SELECT ... INTO creates a table"),
        ("SELECT * FROM t FOR UPDATE", "FOR UPDATE/SHARE takes row locks"),
        ("SELECT * FROM t WHERE a = $1", "uses $1"),
    ],
)
def test_only_reads_with_values_are_accepted(sql: str, reason: str) -> None:
    with pytest.raises(InputError, match=r"^q\.sql:3: .*") as caught:
        parse_queries(f"SELECT 1;\n\n{sql};\n", "q.sql")
    assert reason in str(caught.value)


def test_repeats_and_bad_names_are_refused() -> None:
    with pytest.raises(InputError, match=r"q\.sql:4: name 'a' repeats the one at line 2"):
        parse_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n", "q.sql")
    with pytest.raises(InputError, match=r"q\.sql:3: query repeats the one at line 1"):
        parse_queries("SELECT 1;\n\nselect 1;\n", "q.sql")
    with pytest.raises(InputError, match=r"query name 'a/b': '/' not allowed \(use letters"):
        parse_queries("-- name: a/b\nSELECT 1;\n", "q.sql")


@pytest.mark.parametrize("name", ["mixed_ü", "日本語", "straße.v2", "q:٣", "a-b"])
def test_names_take_letters_and_digits_of_any_script(name: str) -> None:
    assert all(c.isalnum() or c in "_.:-" for c in name)
    assert [q.key for q in parse_queries(f"-- name: {name}\nSELECT 1;\n")] == [name]


def test_a_name_is_read_in_one_unicode_form() -> None:
    composed, decomposed = "mixed_\u00fc", "mixed_u\u0308"
    [query] = parse_queries(f"-- name: {decomposed}\nSELECT 1;\n")
    assert query.key == query.name == composed
    with pytest.raises(InputError, match="name 'mixed_ü' repeats the one at line 2"):
        parse_queries(f"-- name: {composed}\nSELECT 1;\n-- name: {decomposed}\nSELECT 2;\n")
    # A combining mark on a letter that has no composed form is no letter: named exactly.
    with pytest.raises(InputError, match="'\u0308' not allowed"):
        parse_queries("-- name: q\u0308\nSELECT 1;\n", "q.sql")


def test_files(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    with pytest.raises(InputError, match="cannot read the queries file"):
        load_queries(path)
    path.write_text("-- nothing here\n")
    with pytest.raises(InputError, match="no queries"):
        load_queries(path)
    path.write_text("SELECT 1;\nSELEC 2;\n")
    with pytest.raises(SqlSyntaxError, match=r"q\.sql:2:1"):
        load_queries(path)
    path.write_text("-- name: ok\nSELECT 1;\n")
    assert [q.key for q in load_queries(path)] == ["ok"]


def test_sampling_is_deterministic_and_near_the_rate() -> None:
    queries = [Query(f"k{i}", "SELECT 1") for i in range(2000)]
    half = sample(queries, 0.5)
    assert half == sample(queries, 0.5)
    assert 900 < len(half) < 1100
    # A smaller rate takes a subset of a larger one: the hash decides, the rate cuts.
    assert {q.key for q in sample(queries, 0.1)} <= {q.key for q in half}
    assert sample(queries, 1.0) == queries
    assert sample(queries, 0.5, seed="x") != half
    with pytest.raises(ValueError, match="sampling rate"):
        sample(queries, 0.0)
