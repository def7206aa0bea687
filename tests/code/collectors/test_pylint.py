"""The pylint collector against pylint's own json2 and text reports on a real project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plimsoll.code.collectors.base import CollectorError
from plimsoll.code.collectors.pylint import (
    PylintCollector,
    PylintReport,
    parse_json2,
    parse_statements,
    report_metrics,
)
from tests.code.collectors.data_tools import CAPTURED, context_for, make_project, python_files, run


def test_parse_captured_reports() -> None:
    report = parse_json2((CAPTURED / "pylint.json2").read_text())
    statements = parse_statements((CAPTURED / "pylint.txt").read_text())
    assert statements == 86
    assert report.counts == {
        "fatal": 0,
        "error": 1,
        "warning": 2,
        "refactor": 1,
        "convention": 23,
        "info": 0,
    }
    assert report.score == pytest.approx(6.395348837209303)
    # Pylint's default evaluation, recomputed from the counts and statements, gives the same score.
    c = report.counts
    assert report.score == pytest.approx(
        10.0 - (5 * c["error"] + c["warning"] + c["refactor"] + c["convention"]) / statements * 10
    )
    metrics = report_metrics(
        PylintReport(report.score, report.counts, report.symbols, report.modules, statements)
    )
    assert metrics["total"] == 27
    assert metrics["top_symbols"]["missing-function-docstring"] == max(
        metrics["top_symbols"].values()
    )
    assert "too-few-public-methods" not in metrics["top_symbols"]


def test_parse_failures() -> None:
    assert parse_statements("no report here") is None
    with pytest.raises(CollectorError, match="no valid json2"):
        parse_json2("************* Module x")
    text = json.dumps(
        {
            "messages": [],
            "statistics": {
                "messageTypeCount": {},
                "modulesLinted": 0,
                "score": "An exception occurred while rating: x",
            },
        }
    )
    assert parse_json2(text).score is None


@pytest.mark.integration
def test_score_and_counts_equal_pylints_own(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    paths = python_files(root)
    metrics = PylintCollector().collect(context_for(root))
    plain = json.loads(run(root, "pylint", "--output-format=json2", *paths).stdout)
    assert metrics["score"] == plain["statistics"]["score"]
    assert metrics["by_type"] == plain["statistics"]["messageTypeCount"]
    assert metrics["modules"] == plain["statistics"]["modulesLinted"]
    assert metrics["total"] == len(plain["messages"])
    # The project's own settings apply: it disables too-few-public-methods.
    assert "too-few-public-methods" not in metrics["top_symbols"]
    # The statements are those behind pylint's own score (its default evaluation formula).
    c = metrics["by_type"]
    weighted = 5 * c["error"] + c["warning"] + c["refactor"] + c["convention"]
    assert metrics["score"] == pytest.approx(10.0 - weighted / metrics["statements"] * 10)


@pytest.mark.integration
def test_usage_errors_are_collector_errors(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "pyproject.toml").write_text('[tool.pylint.main]\njobs = "abc"\n')
    with pytest.raises(CollectorError) as info:
        PylintCollector().collect(context_for(tmp_path, ["a.py"]))
    assert (
        str(info.value) == "pylint failed (exit code 32): "
        "pylint: error: argument --jobs/-j: invalid int value: 'abc'"
    )
