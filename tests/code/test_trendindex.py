"""The trend index: the same values as reading every record, each record parsed only once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from plimsoll.code.history import History
from plimsoll.code.record import Record
from plimsoll.code.trendindex import TrendIndex, is_indexed_path, scalar_leaves
from tests.support.gitrepo import GitRepo


def _history(repo: GitRepo, count: int) -> History:
    repo.commit("initial", {"a.py": "x = 1\n"})
    history = History(repo.path)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    adds = {}
    for i in range(count):
        record = Record(
            timestamp=start + timedelta(hours=i),
            commit_sha=f"{i:040x}",
            metrics={
                "stats": {"totals": {"sloc": 100 + i}, "per_file": {"a.py": [1, 2]}},
                "ruff": {"by_code": {"E501": i % 3}, "total": i % 3},
                "debt": {"items": [{"line": 1}], "item_count": 1},
            },
        )
        adds[f"history/{record.timestamp:%Y_%m_%d_%H_%M_%S}__{record.sha7}__1.0.json"] = (
            record.to_bytes()
        )
    adds["history/2030_01_01_00_00_00__badbad0__1.0.json"] = b"{broken"
    history.commit(adds, [], "records")
    return history


def test_scalar_leaves_leave_out_detail() -> None:
    leaves = scalar_leaves(
        {"stats": {"totals": {"sloc": 3}, "per_file": {"a": 1}}, "pylint": {"top_symbols": {}}}
    )
    assert leaves == {"stats.totals.sloc": 3}
    assert is_indexed_path("ruff.by_code.E501")
    assert not is_indexed_path("maintainability.per_file.a.py.mi")


def test_index_equals_reading_every_record(
    git_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = _history(git_repo, 40)
    errors: list[str] = []
    index = TrendIndex(tmp_path / "idx.sqlite")
    indexed = index.records(history, on_error=lambda e, m: errors.append(e.path))
    full = history.load_all(on_error=lambda e, m: None)
    assert [(r.commit_sha, r.metrics["ruff.by_code.E501"]) for r in indexed] == [
        (r.commit_sha, r.metrics["ruff"]["by_code"]["E501"]) for r in full
    ]
    assert [r.timestamp for r in indexed] == [r.timestamp for r in full]
    assert errors == ["history/2030_01_01_00_00_00__badbad0__1.0.json"]

    # A second read parses nothing: every blob is known (the corrupt one is still reported).
    def no_reads(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("read a blob again")

    monkeypatch.setattr(history.git, "read_blobs", no_reads)
    errors.clear()
    again = TrendIndex(tmp_path / "idx.sqlite").records(
        history, on_error=lambda e, m: errors.append(e.path)
    )
    assert [r.metrics for r in again] == [r.metrics for r in indexed]
    assert len(errors) == 1


def test_new_records_are_added(git_repo: GitRepo, tmp_path: Path) -> None:
    history = _history(git_repo, 3)
    index = TrendIndex(tmp_path / "idx.sqlite")
    assert len(index.records(history)) == 3
    history.append(
        Record(
            timestamp=datetime(2026, 1, 1, tzinfo=UTC),
            commit_sha="f" * 40,
            metrics={"stats": {"totals": {"sloc": 7}}},
        )
    )
    latest = index.records(history)[-1]
    assert (latest.commit_sha, latest.metrics["stats.totals.sloc"]) == ("f" * 40, 7)
