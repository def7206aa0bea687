"""Counts by code read 0 once the last one is fixed; trends name a group's numbers."""

from __future__ import annotations

import json

from tests.cli.test_code_cli import plimsoll
from tests.support.gitrepo import GitRepo

CONFIG = """[project]
name = "demo"
version = "1.0.0"

[tool.plimsoll.code]
paths = ["src"]
collectors = ["ruff", "bandit", "mypy", "complexity"]

[[tool.plimsoll.code.thresholds]]
metric = "ruff.by_code.F401"
op = "<="
value = 0
action = "fail"

[[tool.plimsoll.code.thresholds]]
metric = "bandit.by_test.B602"
op = "=="
value = 0
action = "fail"

[[tool.plimsoll.code.thresholds]]
metric = "mypy.by_code.attr-defined"
op = "=="
value = 0
action = "fail"
"""

UNUSED = (
    '"""Imports os for nothing, runs a shell, reads a missing attribute."""\n\n'
    "import os\nimport subprocess\n\n\n"
    "def run(cmd: str) -> int:\n"
    '    """Run ``cmd`` in a shell."""\n'
    "    return subprocess.call(cmd, shell=True)\n\n\n"
    'X: int = "text".nothere\n'
)
FIXED = '"""Imports nothing."""\n\nX = 1\n'


def test_a_fixed_rule_code_reads_zero_in_gates_trend_and_diff(git_repo: GitRepo) -> None:
    first = git_repo.commit("unused import", {"pyproject.toml": CONFIG, "src/m.py": UNUSED})
    failing = json.loads(
        plimsoll(git_repo.path, "code", "collect", "--validate", "-f", "json", check=1).stdout
    )
    metrics = failing["records"][0]["metrics"]
    assert metrics["ruff"]["by_code"] == {"F401": 1}
    assert metrics["bandit"]["by_test"]["B602"] == 1
    assert metrics["mypy"]["by_code"] == {"attr-defined": 1}
    assert [r["status"] for r in failing["thresholds"]["results"]] == ["fail"] * 3
    second = git_repo.commit("fixed", {"src/m.py": FIXED})
    done = json.loads(plimsoll(git_repo.path, "code", "collect", "--validate", "-f", "json").stdout)
    # The tools report none of these codes: the maps have no such keys, and the gates hold.
    metrics = done["records"][0]["metrics"]
    assert metrics["ruff"]["by_code"] == {} and metrics["mypy"]["by_code"] == {}
    assert "B602" not in metrics["bandit"]["by_test"]
    results = done["thresholds"]["results"]
    assert [(r["status"], r["actual"]) for r in results] == [("pass", 0)] * 3
    points = json.loads(
        plimsoll(git_repo.path, "code", "trend", "ruff.by_code.F401", "-f", "json").stdout
    )
    assert [(p["commit"], p["value"]) for p in points] == [(first, 1), (second, 0)]
    text = plimsoll(git_repo.path, "code", "trend", "ruff.by_code.F401").stdout
    assert "last 0" in text
    diff = json.loads(plimsoll(git_repo.path, "code", "diff", first, second, "-f", "json").stdout)
    changes = {c["metric"]: (c["a"], c["b"], c["change"]) for c in diff["changes"]}
    assert changes["ruff.by_code.F401"] == (1, 0, -1)


def test_a_code_of_a_collector_that_did_not_run_is_still_missing(git_repo: GitRepo) -> None:
    git_repo.commit("init", {"pyproject.toml": CONFIG, "src/m.py": FIXED})
    done = plimsoll(
        git_repo.path,
        "code",
        "collect",
        "--collectors",
        "complexity",
        "--validate",
        "-f",
        "json",
        check=1,
    )
    results = json.loads(done.stdout)["thresholds"]["results"]
    assert [r["status"] for r in results] == ["error"] * 3
    assert all("missing" in r["message"] for r in results)


def test_trend_of_a_group_says_it_is_not_a_number_and_lists_its_numbers(git_repo: GitRepo) -> None:
    git_repo.commit("init", {"pyproject.toml": CONFIG, "src/m.py": FIXED})
    plimsoll(git_repo.path, "code", "collect")
    # The newest record has no complexity at all: the group is in an older one.
    git_repo.commit("more")
    plimsoll(git_repo.path, "code", "collect", "--collectors", "ruff")
    done = plimsoll(git_repo.path, "code", "trend", "complexity.ranks", check=2)
    assert "metric complexity.ranks is not a number: it holds a group of metrics" in done.stderr
    assert "complexity.ranks.A, complexity.ranks.B" in done.stderr
    assert "in none of the" not in done.stderr
