"""Flattening metrics for tables and diffs; the per-file cache on disk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from plimsoll.code import summary
from plimsoll.code.cache import SqliteFileCache


def test_flatten_keeps_headlines_and_drops_detail() -> None:
    metrics = {
        "bandit": {"total": 3, "by_severity": {"LOW": 1, "HIGH": 2}, "top_tests": [["B101", 2]]},
        "stats": {"totals": {"sloc": 10}, "per_file": {"a.py": [1, 2]}, "skipped_files": []},
        "ruff": {"by_code": {f"E{i}": i for i in range(20)}, "total": 190},
    }
    flat = summary.flatten(metrics)
    assert flat == {
        "bandit.total": 3,
        "bandit.by_severity.LOW": 1,
        "bandit.by_severity.HIGH": 2,
        "stats.totals.sloc": 10,
        "ruff.total": 190,
    }


def test_difference_reports_changes_only() -> None:
    rows = summary.difference({"a": 1, "b": 2.5, "c": "x"}, {"a": 1, "b": 2.0, "c": "y", "d": 4})
    assert rows == [("b", 2.5, 2.0, -0.5), ("c", "x", "y", None), ("d", None, 4, None)]


def test_cache_round_trip_and_damage(tmp_path: Path) -> None:
    path = tmp_path / ".plimsoll" / "cache" / "files.sqlite"
    cache = SqliteFileCache(path)
    assert cache.get("k", "s") is None
    cache.put("k", "s", {"v": [1, 2]})
    cache.close()
    again = SqliteFileCache(path)
    assert again.get("k", "s") == {"v": [1, 2]}
    assert again.get("other", "s") is None
    # .plimsoll ignores itself so collecting never dirties the work tree.
    assert (tmp_path / ".plimsoll" / ".gitignore").read_text().strip().endswith("*")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE results SET value = '{broken' WHERE key = 'k'")
    assert again.get("k", "s") is None  # a damaged entry is a miss, not a crash


def test_difference_drops_floating_point_noise() -> None:
    rows = summary.difference({"a": 71.0, "n": 1, "c": 0.1}, {"a": 71.1, "n": 3, "c": 0.3})
    changes = {path: change for path, _, _, change in rows}
    assert changes == {"a": 0.1, "n": 2, "c": 0.2}
    assert isinstance(changes["n"], int)
    assert summary.difference({"x": 1e-9}, {"x": 3e-9})[0][3] == 2e-9


def test_skipped_files_name_the_collectors_and_each_reason() -> None:
    metrics = {
        "stats": {"skipped_files": [{"path": "a.py", "error": "does not parse: line 1 x"}]},
        "debt": {"skipped_files": [{"path": "a.py", "error": "does not parse: line 1 x"}]},
        "interrogate": {"skipped_files": [{"path": "b.py", "error": "interrogate: no BOM"}]},
        "complexity": {"skipped_files": [{"path": "a.py", "error": "other"}]},
        "ruff": {"count": 3},
    }
    found = summary.skipped_files(metrics)
    assert found == [
        summary.Skipped("a.py", "does not parse: line 1 x", ("debt", "stats")),
        summary.Skipped("a.py", "other", ("complexity",)),
        summary.Skipped("b.py", "interrogate: no BOM", ("interrogate",)),
    ]
    assert found[2].describe() == "interrogate skipped b.py: interrogate: no BOM"
