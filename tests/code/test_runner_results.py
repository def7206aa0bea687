"""What a collector returns: only a dict of JSON values reaches the record; the rest is its error."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from plimsoll.code import runner
from plimsoll.code.collectors.base import CollectContext, Collector, SourceFile
from plimsoll.code.record import Record


class Good(Collector):
    name = "good"
    keys = ("files",)

    def collect(self, context: CollectContext) -> dict[str, Any]:
        return {"files": len(context.files)}


def _returning(value: Any, declared: tuple[str, ...] = ("a",)) -> Collector:
    """A collector that returns ``value`` as it is (built per test: the class is local)."""

    class Returns(Collector):
        name = "returns"
        keys = declared

        def collect(self, context: CollectContext) -> Any:
            return value

    return Returns()


def _context(tmp_path: Path) -> CollectContext:
    return CollectContext(tmp_path, (SourceFile("a.py", "1"),))


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ({"a": float("nan")}, "returned a value that is not JSON: a = nan"),
        ({"a": float("inf")}, "returned a value that is not JSON: a = inf"),
        ({"a": 1, "b": {"c": [1, -float("inf")]}}, "not JSON: b.c[1] = -inf"),
        ({"a": {1, 2}}, "returned a value that is not JSON: a = {1, 2} (set)"),
        ({"a": {"x": object}}, "not JSON: a.x = <class 'object'> (type)"),
        ({"a": {3: 1}}, "returned a value that is not JSON: a has key 3 (int, not a string)"),
        ({1: 2}, "returned key 1 (int), expected string keys"),
        ([1, 2], "returned list, expected a dict of its keys"),
        (None, "returned NoneType, expected a dict of its keys"),
        ({"a": float("nan"), "b": {1}}, "not JSON: a = nan (and 1 more)"),
    ],
)
def test_check_result_names_the_first_bad_value(result: Any, message: str) -> None:
    problem = runner.check_result(result)
    assert problem is not None
    assert message in problem


def test_check_result_accepts_json_values() -> None:
    value = {"a": None, "b": True, "c": 1, "d": 1.5, "e": "x", "f": [1, (2, 3)], "g": {"h": []}}
    assert runner.check_result(value) is None
    assert runner.check_result({}) is None


def test_check_result_survives_deep_nesting() -> None:
    deep: Any = float("nan")
    for _ in range(5000):  # deeper than the recursion limit
        deep = [deep]
    problem = runner.check_result({"a": deep})
    assert problem is not None
    assert problem.endswith("[0]" * 5000 + " = nan")


def test_check_result_shortens_a_huge_value() -> None:
    problem = runner.check_result({"a": set(range(10_000))})
    assert problem is not None
    assert len(problem) < 200


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({"a": float("nan")}, "returned a value that is not JSON: a = nan"),
        ({"a": {"f": lambda: 1}}, "returned a value that is not JSON: a.f = <function"),
        ([1, 2], "returned list, expected a dict of its keys"),
    ],
)
def test_a_bad_result_is_its_collectors_error_and_the_record_stands(
    tmp_path: Path, value: Any, error: str
) -> None:
    collectors = {"good": Good(), "returns": _returning(value)}
    result = runner.run(collectors, _context(tmp_path))
    assert result.metrics == {"good": {"files": 1}}
    assert result.errors["returns"].startswith(error)
    assert set(result.durations) == {"good", "returns"}
    record = Record(
        timestamp=datetime(2024, 1, 2, tzinfo=UTC),
        commit_sha="a" * 40,
        metrics=result.metrics,
        collector_errors=result.errors,
    )
    written = json.loads(record.to_json())  # strict JSON: raises on NaN
    assert written["metrics"] == {"good": {"files": 1}}
    assert written["collector_errors"]["returns"] == result.errors["returns"]


def test_undeclared_keys_are_kept_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    collector = _returning({"a": 1, "extra": 2, "more": [3]})
    with caplog.at_level(logging.WARNING, logger="plimsoll"):
        result = runner.run({"returns": collector}, _context(tmp_path))
        # A second collection in the same process (a backfill) does not repeat it.
        again = runner.run({"returns": collector}, _context(tmp_path))
    assert again.metrics == result.metrics
    assert result.metrics["returns"] == {"a": 1, "extra": 2, "more": [3]}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "collector returns returned keys it does not declare" in warnings[0]
    assert "extra, more" in warnings[0]
    assert "kept in the record" in warnings[0]


def test_declared_keys_give_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="plimsoll"):
        result = runner.run({"good": Good()}, _context(tmp_path))
    assert result.metrics["good"] == {"files": 1}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
