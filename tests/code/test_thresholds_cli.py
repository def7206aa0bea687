"""A threshold on a metric no collector records stops the gate with exit 2, end to end."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_code_cli import plimsoll
from tests.support.gitrepo import GitRepo

CONFIG = """[project]
name = "demo"
version = "1.0.0"

[tool.plimsoll.code]
paths = ["src"]
collectors = ["ruff", "stats"]

[[tool.plimsoll.code.thresholds]]
metric = "ruff.total"
op = ">="
value = 0
action = "warn"

[[tool.plimsoll.code.thresholds]]
metric = "{metric}"
op = "=="
value = 0
action = "{action}"
"""

SOURCE = '"""Assigns a local it never uses."""\n\n\ndef f() -> None:\n    unused = 1\n'


@pytest.mark.integration
@pytest.mark.parametrize(
    ("metric", "action", "expected"),
    [
        ("ruff.by_code.f841", "fail", "(did you mean ruff.by_code.F841?)"),
        ("stats.totals", "warn", "stats.totals is a group of metrics: name one of its keys"),
        ("complexty.max", "warn", "(did you mean complexity.max?)"),
    ],
)
def test_validate_exits_2_on_a_metric_no_collector_records(
    git_repo: GitRepo, metric: str, action: str, expected: str
) -> None:
    config = CONFIG.replace("{metric}", "ruff.total").replace("{action}", "warn")
    git_repo.commit("code", {"pyproject.toml": config, "src/m.py": SOURCE})
    stored = json.loads(plimsoll(git_repo.path, "code", "collect", "-f", "json").stdout)
    assert stored["records"][0]["metrics"]["ruff"]["by_code"] == {"F841": 1}

    git_repo.write("pyproject.toml", CONFIG.replace("{metric}", metric).replace("{action}", action))
    done = plimsoll(git_repo.path, "code", "validate", check=2)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one line, no traceback
    assert "code.thresholds[1].metric: " in lines[0]
    assert expected in lines[0]
    assert done.stdout == ""

    # Spelt right, the gate judges the recorded count.
    git_repo.write(
        "pyproject.toml",
        CONFIG.replace("{metric}", "ruff.by_code.F841").replace("{action}", "fail"),
    )
    failed = json.loads(plimsoll(git_repo.path, "code", "validate", "-f", "json", check=1).stdout)
    assert [r["status"] for r in failed["results"]] == ["pass", "fail"]
    assert failed["results"][1]["actual"] == 1
