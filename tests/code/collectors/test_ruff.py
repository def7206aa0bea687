"""The ruff collector (and the shared tool runner) against ruff's own output on a real project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plimsoll.code.collectors import _tools
from plimsoll.code.collectors.base import CollectorError
from plimsoll.code.collectors.ruff import RuffCollector, parse_ruff_json, summary_metrics
from tests.code.collectors.data_tools import CAPTURED, context_for, make_project, python_files, run


def test_parse_captured_output() -> None:
    summary = parse_ruff_json((CAPTURED / "ruff.json").read_text(), Path("/srv/sample"))
    metrics = summary_metrics(summary)
    assert metrics == {
        "total": 4,
        "by_code": {"E711": 1, "F401": 1, "F821": 1, "I001": 1},
        "fixable": 2,
        "unsafe_fixable": 1,
        "files_with_violations": 3,
    }
    assert summary.files == {"pkg/core.py", "pkg/legacy.py", "pkg/risky.py"}


def test_parse_counts_syntax_errors_and_rejects_garbage() -> None:
    text = json.dumps(
        [{"code": None, "name": "invalid-syntax", "filename": "/r/a.py", "fix": None}]
    )
    assert parse_ruff_json(text, Path("/r")).by_code == {"invalid-syntax": 1}
    assert parse_ruff_json("[]", Path("/r")).total == 0
    with pytest.raises(CollectorError, match="no valid JSON"):
        parse_ruff_json("error: something", Path("/r"))


def _ruff_statistics(root: Path, paths: list[str]) -> list[dict[str, object]]:
    result = run(
        root, "ruff", "check", "--statistics", "--output-format", "json", "--exit-zero", *paths
    )
    return list(json.loads(result.stdout))


@pytest.mark.integration
def test_counts_equal_ruffs_own_statistics(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    paths = python_files(root)
    metrics = RuffCollector().collect(context_for(root))
    statistics = _ruff_statistics(root, paths)
    assert metrics["by_code"] == {str(s["code"]): s["count"] for s in statistics}
    assert metrics["total"] == sum(int(str(s["count"])) for s in statistics)
    assert metrics["fixable"] == sum(int(str(s["fixable_count"])) for s in statistics)
    violations = json.loads(
        run(root, "ruff", "check", "--output-format", "json", "--exit-zero", *paths).stdout
    )
    assert metrics["files_with_violations"] == len({v["filename"] for v in violations})
    text = run(root, "ruff", "check", *paths).stdout
    assert f"Found {metrics['total']} errors." in text


@pytest.mark.integration
def test_honours_the_projects_ruff_settings(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    before = RuffCollector().collect(context_for(root))
    assert "F401" in before["by_code"]
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('ignore = ["E741"]', 'ignore = ["E741", "F401"]')
    )
    pyproject.write_text(
        pyproject.read_text() + '\n[tool.ruff.lint.per-file-ignores]\n"pkg/risky.py" = ["I001"]\n'
    )
    after = RuffCollector().collect(context_for(root))
    assert "F401" not in after["by_code"]
    assert "I001" not in after["by_code"]
    assert after["total"] == before["total"] - 2


@pytest.mark.integration
def test_chunked_runs_give_the_same_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path)
    whole = RuffCollector().collect(context_for(root))
    calls: list[list[str]] = []
    real = _tools.run_tool

    def counting(module: str, args: list[str], **kwargs: object) -> _tools.ToolResult:
        calls.append(list(args))
        return real(module, args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_tools, "ARGV_BUDGET", 20)
    monkeypatch.setattr(_tools, "run_tool", counting)
    assert RuffCollector().collect(context_for(root)) == whole
    assert len(calls) == len(python_files(root))


def test_chunked_splits_within_the_budget() -> None:
    paths = ["a" * 10, "b" * 10, "c" * 10]
    assert list(_tools.chunked(paths, budget=22)) == [paths[:2], paths[2:]]
    assert list(_tools.chunked(paths, budget=1)) == [[p] for p in paths]
    assert list(_tools.chunked([], budget=10)) == []


def test_missing_tool_is_reported() -> None:
    assert _tools.missing_reason("ruff") is None
    reason = _tools.missing_reason("no_such_tool_plimsoll")
    assert reason is not None and "not installed" in reason


def test_tool_failure_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CollectorError) as info:
        _tools.run_tool("json.tool", ["no-such-file.json"], cwd=tmp_path, timeout=60)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("json.tool failed (exit code")
    with pytest.raises(CollectorError, match="is not installed"):
        _tools.run_tool("no_such_tool_plimsoll", [], cwd=tmp_path, timeout=60)


def test_tool_timeout_is_reported(tmp_path: Path) -> None:
    (tmp_path / "sleepy.py").write_text("import time\ntime.sleep(30)\n")
    with pytest.raises(CollectorError, match="timed out after 0.5s"):
        _tools.run_tool("sleepy", [], cwd=tmp_path, timeout=0.5)


def test_arguments_can_go_through_stdin(tmp_path: Path) -> None:
    (tmp_path / "echo_args.py").write_text("import json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    args = ["x" * 50] * 3 + ["with space", "ünï"]
    result = _tools.run_tool("echo_args", args, cwd=tmp_path, timeout=60, via_stdin=True)
    assert json.loads(result.stdout) == args
    direct = _tools.run_tool("echo_args", args, cwd=tmp_path, timeout=60, via_stdin=False)
    assert direct.stdout == result.stdout
