"""The bandit collector against bandit's own JSON report on a real project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from plimsoll.code.collectors import _tools
from plimsoll.code.collectors.bandit import (
    BanditCollector,
    parse_bandit_json,
    project_config_args,
    summarize,
)
from tests.code.collectors.data_tools import (
    CAPTURED,
    DictCache,
    context_for,
    make_project,
    python_files,
    run,
)


def _bandit_report(root: Path, paths: list[str], *config: str) -> dict[str, Any]:
    out = root.parent / "bandit-report.json"
    run(root, "bandit", "-f", "json", "-q", "-o", str(out), *config, *paths)
    return dict(json.loads(out.read_text()))


def test_parse_captured_report_adds_up_to_bandits_totals() -> None:
    per_file, totals = parse_bandit_json((CAPTURED / "bandit.json").read_text())
    assert set(per_file) == {
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/legacy.py",
        "pkg/risky.py",
        "tests/__init__.py",
        "tests/test_core.py",
    }
    metrics = summarize(per_file)
    assert metrics["by_severity"] == {"LOW": 3, "MEDIUM": 2, "HIGH": 1}
    assert metrics["by_severity"] == {k: totals[f"SEVERITY.{k}"] for k in ("LOW", "MEDIUM", "HIGH")}
    assert metrics["by_confidence"] == {
        k: totals[f"CONFIDENCE.{k}"] for k in ("LOW", "MEDIUM", "HIGH")
    }
    assert metrics["loc"] == totals["loc"] == 98
    assert metrics["total"] == 6
    # B101 (assert) is skipped by the sample's [tool.bandit] settings.
    assert metrics["by_test"] == {"B105": 1, "B113": 1, "B301": 1, "B403": 1, "B404": 1, "B602": 1}


def test_config_arguments_follow_the_projects_files(tmp_path: Path) -> None:
    assert project_config_args(tmp_path) == []
    (tmp_path / "pyproject.toml").write_text("[tool.other]\nx = 1\n")
    (tmp_path / "bandit.yaml").write_text("skips: [B101]\n")
    assert project_config_args(tmp_path) == ["-c", "bandit.yaml"]
    (tmp_path / "pyproject.toml").write_text("[tool.bandit]\nskips = ['B101']\n")
    (tmp_path / ".bandit").write_text("[bandit]\nskips = B101\n")
    assert project_config_args(tmp_path) == ["--ini", ".bandit", "-c", "pyproject.toml"]


@pytest.mark.integration
def test_totals_equal_bandits_own_report(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    metrics = BanditCollector().collect(context_for(root))
    report = _bandit_report(root, python_files(root), "-c", "pyproject.toml")
    totals = report["metrics"]["_totals"]
    assert metrics["by_severity"] == {k: totals[f"SEVERITY.{k}"] for k in ("LOW", "MEDIUM", "HIGH")}
    assert metrics["by_confidence"] == {
        k: totals[f"CONFIDENCE.{k}"] for k in ("LOW", "MEDIUM", "HIGH")
    }
    assert metrics["total"] == len(report["results"]) == 6
    assert metrics["loc"] == totals["loc"]
    assert metrics["nosec"] == totals["nosec"]
    by_test: dict[str, int] = {}
    for issue in report["results"]:
        by_test[issue["test_id"]] = by_test.get(issue["test_id"], 0) + 1
    assert metrics["by_test"] == by_test
    assert "B101" not in metrics["by_test"]
    assert metrics["files"] == len(python_files(root))
    assert metrics["errors"] == []


@pytest.mark.integration
def test_cached_files_are_not_scanned_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path)
    cache = DictCache()
    first = BanditCollector().collect(context_for(root, cache=cache))
    scanned: list[list[str]] = []
    real = _tools.run_tool

    def recording(module: str, args: list[str], **kwargs: Any) -> _tools.ToolResult:
        scanned.append([a for a in args if a.endswith(".py")])
        return real(module, args, **kwargs)

    monkeypatch.setattr(_tools, "run_tool", recording)
    assert BanditCollector().collect(context_for(root, cache=cache)) == first
    assert scanned == []

    risky = root / "pkg" / "risky.py"
    risky.write_text(
        risky.read_text() + "\n\ndef again(cmd):\n    import os\n\n    return os.system(cmd)\n"
    )
    second = BanditCollector().collect(context_for(root, cache=cache))
    assert scanned == [["pkg/risky.py"]]
    whole = BanditCollector().collect(context_for(root))
    assert second == whole
    assert second["total"] > first["total"]


@pytest.mark.integration
def test_project_excludes_and_unparseable_files(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'skips = ["B101"]', 'skips = ["B101"]\nexclude_dirs = ["tests"]'
        )
    )
    (root / "pkg" / "broken.py").write_text("def broken(:\n    pass\n")
    metrics = BanditCollector().collect(context_for(root))
    report = _bandit_report(root, python_files(root), "-c", "pyproject.toml")
    totals = report["metrics"]["_totals"]
    assert metrics["loc"] == totals["loc"]
    assert metrics["by_severity"] == {k: totals[f"SEVERITY.{k}"] for k in ("LOW", "MEDIUM", "HIGH")}
    assert metrics["files"] == len(report["metrics"]) - 1
    assert metrics["errors"] == [{"path": "pkg/broken.py", "error": report["errors"][0]["reason"]}]
