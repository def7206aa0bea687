"""The code gate in CI checkouts: shallow pull-request merges, single-branch clones, records of
some collectors only, and what the gate says when it has no baseline, with the real command on
real git repositories and a bare remote.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.cli.test_code_history_cli import plimsoll
from tests.support.gitrepo import GitRepo, make_repo

CONFIG = """[tool.plimsoll.code]
paths = ["pkg"]
collectors = ["complexity"]
base_branch = "main"
{extra}
[[tool.plimsoll.code.thresholds]]
name = "complexity must not grow"
metric = "complexity.max"
op = "<="
value = 0
delta = true
action = "fail"
"""

SIMPLE = "def f(x):\n    return x\n"
COMPLEX = """def g(x):
    if x > 1:
        if x > 2:
            if x > 3:
                return 1
    return 0
"""
RULE = "complexity must not grow"


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def _source(path: Path, extra: str = "") -> GitRepo:
    repo = make_repo(path)
    repo.commit(
        "one",
        {
            "pyproject.toml": CONFIG.format(extra=extra),
            ".gitignore": ".plimsoll/\n",
            "pkg/m.py": SIMPLE,
        },
    )
    return repo


def _pull_request(tmp_path: Path) -> tuple[Path, str]:
    """The reviewer's repro: main recorded, feature adds a complex function, pr-merge merges it;
    a bare remote with refs/pull/1/merge. Returns the remote and main's recorded commit."""
    src = _source(tmp_path / "src")
    plimsoll(src.path, "code", "collect")
    base = src.git("rev-parse", "HEAD")
    src.git("checkout", "-q", "-b", "feature")
    src.commit("complex", {"pkg/c.py": COMPLEX})
    src.git("checkout", "-q", "-b", "pr-merge", "main")
    src.git("merge", "-q", "--no-ff", "feature", "-m", "merge")
    src.git("checkout", "-q", "main")
    remote = tmp_path / "remote.git"
    src.git("clone", "-q", "--bare", str(src.path), str(remote))
    GitRepo(remote).git("update-ref", "refs/pull/1/merge", "refs/heads/pr-merge")
    return remote, base


REFSPECS = (
    "+refs/pull/1/merge:refs/remotes/pull/1/merge",
    "+refs/heads/main:refs/remotes/origin/main",
    "+refs/heads/code-metrics:refs/remotes/origin/code-metrics",
)


def _checkout(remote: Path, path: Path, ref: str, depth: int | None = 1) -> GitRepo:
    """What actions/checkout does for a pull request: init, fetch (shallow), detach."""
    ci = make_repo(path)
    ci.git("remote", "add", "origin", f"file://{remote}")
    ci.git("fetch", "-q", *([f"--depth={depth}"] if depth else []), "origin", *REFSPECS)
    ci.git("checkout", "-q", "--detach", ref)
    return ci


def test_a_shallow_pull_request_checkout_gates_against_the_base_branch_tip(
    tmp_path: Path,
) -> None:
    remote, base = _pull_request(tmp_path)
    ci = _checkout(remote, tmp_path / "ci", "pull/1/merge")
    assert ci.git("rev-parse", "--is-shallow-repository") == "true"
    done = plimsoll(ci.path, "code", "collect", "--validate", "--no-store", check=1)
    assert (
        f"deltas compare with the record of {base[:7]} on main" in done.stdout
        and "the tip of origin/main (this clone is shallow: the merge base is not here)"
        in done.stdout
    )
    data = as_json(
        plimsoll(ci.path, "code", "collect", "--validate", "--no-store", "-f", "json", check=1)
    )
    assert data["baseline"]["record"]["commit_sha"] == base
    [result] = data["thresholds"]["results"]
    assert (result["status"], result["previous"], result["current"]) == ("fail", 1, 4)
    # With the whole history the merge base is found: the same record, the same verdict.
    full = _checkout(remote, tmp_path / "full", "pull/1/merge", depth=None)
    deep = as_json(
        plimsoll(full.path, "code", "collect", "--validate", "--no-store", "-f", "json", check=1)
    )
    assert deep["baseline"]["record"]["commit_sha"] == base
    assert deep["baseline"]["how"] is None
    assert deep["thresholds"]["results"][0]["previous"] == 1


def _unrecorded_base(tmp_path: Path, extra: str = "") -> GitRepo:
    """A shallow checkout of main whose tip and parent have no record (only the first has)."""
    src = _source(tmp_path / "src", extra)
    plimsoll(src.path, "code", "collect")
    src.commit("two", {"pkg/two.py": SIMPLE})
    src.commit("three", {"pkg/c.py": COMPLEX})
    remote = tmp_path / "remote.git"
    src.git("clone", "-q", "--bare", str(src.path), str(remote))
    ci = make_repo(tmp_path / "ci")
    ci.git("remote", "add", "origin", f"file://{remote}")
    ci.git("fetch", "-q", "--depth=1", "origin", *REFSPECS[1:])
    ci.git("checkout", "-q", "--detach", "origin/main")
    return ci


def test_a_fail_delta_rule_without_a_baseline_is_a_loud_skip(tmp_path: Path) -> None:
    ci = _unrecorded_base(tmp_path)
    done = plimsoll(ci.path, "code", "collect", "--validate", "--no-store")
    head = ci.git("rev-parse", "HEAD")[:7]
    assert (
        f"no baseline record: this clone is shallow, so the commits before {head} are not here"
        in done.stdout
    )
    assert "delta rules are skipped" in done.stdout
    assert "no baseline record, not checked" in done.stdout  # the rule's row
    warning = [line for line in done.stderr.splitlines() if RULE in line]
    assert len(warning) == 1 and warning[0].startswith(f"warning: fail rule '{RULE}' was not")
    assert "git fetch --unshallow" in warning[0] and "fetch-depth: 0" in warning[0]
    assert "code.require_baseline = true" in warning[0]
    data = as_json(plimsoll(ci.path, "code", "collect", "--validate", "--no-store", "-f", "json"))
    assert data["thresholds"]["counts"]["skipped"] == 1
    assert data["baseline"]["record"] is None
    assert "this clone is shallow" in data["baseline"]["missing"]
    assert data["baseline"]["unchecked"] == [warning[0].removeprefix("warning: ")]
    # What the message says to do finds the baseline: the first commit's record.
    ci.git("fetch", "-q", "--unshallow", "origin", *REFSPECS[1:])
    fetched = as_json(
        plimsoll(ci.path, "code", "collect", "--validate", "--no-store", "-f", "json", check=1)
    )
    assert fetched["baseline"]["record"]["branch"] == "main"
    assert fetched["thresholds"]["results"][0]["previous"] == 1


def test_require_baseline_fails_the_gate_without_one(tmp_path: Path) -> None:
    ci = _unrecorded_base(tmp_path, extra="require_baseline = true\n")
    done = plimsoll(ci.path, "code", "collect", "--validate", "--no-store", check=1)
    assert "delta fail rules fail the gate (code.require_baseline = true)" in done.stdout
    assert f"warning: fail rule '{RULE}' could not be checked" in done.stderr
    data = as_json(
        plimsoll(ci.path, "code", "collect", "--validate", "--no-store", "-f", "json", check=1)
    )
    [result] = data["thresholds"]["results"]
    assert result["status"] == "error" and "code.require_baseline" in result["message"]
    assert data["thresholds"]["counts"]["errored"] == 1
    assert data["baseline"]["require_baseline"] is True


def test_diff_in_a_shallow_clone_says_the_clone_is_shallow(tmp_path: Path) -> None:
    ci = _unrecorded_base(tmp_path)
    done = plimsoll(ci.path, "code", "diff", "HEAD~1", "HEAD", check=2)
    assert "'HEAD~1' is not a commit, tag or branch of this repository" in done.stderr
    assert "this clone is shallow, so older commits are not here" in done.stderr
    assert "git fetch --unshallow" in done.stderr


def test_a_history_branch_never_fetched_is_named_with_the_command_to_fetch_it(
    tmp_path: Path,
) -> None:
    src = _source(tmp_path / "src")
    plimsoll(src.path, "code", "collect")
    src.commit("two", {"pkg/c.py": COMPLEX})
    remote = tmp_path / "remote.git"
    src.git("clone", "-q", "--bare", str(src.path), str(remote))
    clone = tmp_path / "clone"
    src.git("clone", "-q", "--single-branch", f"file://{remote}", str(clone))
    ci = GitRepo(clone)
    assert ci.git("ls-remote", "origin", "code-metrics")  # the remote has it
    fetch = "git fetch origin code-metrics:code-metrics"
    hint = f"the history branch is on origin but not fetched: {fetch}"
    gate = plimsoll(ci.path, "code", "collect", "--validate", "--no-store")
    assert f"no baseline record: {hint}; delta rules are skipped" in gate.stdout
    assert hint in gate.stderr  # the warning about the rule left unchecked
    show = plimsoll(ci.path, "code", "show", check=2)
    assert f"no records on branch 'code-metrics' here: {hint}" in show.stderr
    diff = plimsoll(ci.path, "code", "diff", "HEAD~1", "HEAD", check=2)
    assert f"no record for 'HEAD~1' on branch 'code-metrics': {hint}" in diff.stderr
    trend = plimsoll(ci.path, "code", "trend", "complexity.max", check=2)
    assert hint in trend.stderr
    listed = plimsoll(ci.path, "code", "history", "-f", "json")
    assert listed.stdout.strip() == "[]"
    assert f"warning: no records on branch 'code-metrics' here: {hint}" in listed.stderr
    # The command given works: the gate then has its baseline.
    ci.git(*fetch.split()[1:])
    plimsoll(ci.path, "code", "collect", "--validate", "--no-store", check=1)
    assert "no records" not in plimsoll(ci.path, "code", "show", "HEAD~1").stderr


def test_each_delta_rule_compares_with_the_newest_record_holding_its_metric(
    tmp_path: Path,
) -> None:
    """Two CI jobs record the base commit with different --collectors: the newest lacks
    complexity, an older record of the same commit has it."""
    repo = _source(tmp_path / "repo")
    base = repo.git("rev-parse", "HEAD")
    plimsoll(repo.path, "code", "collect", "--collectors", "complexity")
    plimsoll(repo.path, "code", "collect", "--collectors", "stats")
    repo.commit("complex", {"pkg/c.py": COMPLEX})
    done = plimsoll(repo.path, "code", "collect", "--validate", "--no-store", check=1)
    records = as_json(plimsoll(repo.path, "code", "history", "-f", "json"))
    older = [r for r in records if r["commit"] == base][-1]  # newest first: the last is older
    when = older["timestamp"][:19].replace("T", " ")
    assert (
        f"rule '{RULE}' compared with the record of {base[:7]} of {when} UTC (the newest "
        "record of that commit with complexity.max)" in done.stdout
    )
    data = as_json(
        plimsoll(repo.path, "code", "collect", "--validate", "--no-store", "-f", "json", check=1)
    )
    [rule] = data["baseline"]["rules"]
    assert rule["metric"] == "complexity.max"
    assert rule["record"]["timestamp"][:19] == older["timestamp"][:19]
    assert data["thresholds"]["results"][0]["previous"] == 1


def test_the_actual_column_tells_the_value_from_the_threshold(tmp_path: Path) -> None:
    """complexity.average of functions of complexity 1, 1 and 2 is 4/3 = 1.333...: a failing
    `<= 1.33` shows more than 1.33."""
    repo = make_repo(tmp_path / "repo")
    three = "def a():\n    return 1\n\n\ndef b():\n    return 2\n\n\ndef c(x):\n"
    three += "    if x:\n        return 1\n    return 0\n"
    config = '[tool.plimsoll.code]\npaths = ["pkg"]\ncollectors = ["complexity"]\n'
    config += '[[tool.plimsoll.code.thresholds]]\nmetric = "complexity.average"\nop = "<="\n'
    config += "value = 1.33\n"
    repo.commit("one", {"pyproject.toml": config, "pkg/m.py": three})
    data = as_json(plimsoll(repo.path, "code", "collect", "-f", "json", "--validate", check=1))
    actual = data["thresholds"]["results"][0]["actual"]
    assert actual == data["records"][0]["metrics"]["complexity"]["average"]
    assert f"{actual:.2f}" == "1.33"  # what two decimals would show: the threshold itself
    text = plimsoll(repo.path, "code", "validate", check=1).stdout
    [row] = [line for line in text.splitlines() if "complexity.average" in line]
    cells = [cell.strip() for cell in row.split("│") if cell.strip()]
    assert cells[2] == f"{actual:.3f}" == "1.333"


SUMMARY_CHANNEL = """
[tool.plimsoll.notify.channels.summary]
kind = "github_summary"
"""


def test_a_failed_gate_fills_the_step_summary_naming_the_rules_that_failed_it(
    tmp_path: Path,
) -> None:
    repo = _source(tmp_path / "repo")
    (repo.path / "pyproject.toml").write_text(CONFIG.format(extra="") + SUMMARY_CHANNEL)
    plimsoll(repo.path, "code", "collect")
    repo.commit("complex", {"pkg/c.py": COMPLEX})
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    done = _run(repo.path, env, "code", "collect", "--validate", "--no-store")
    assert done.returncode == 1, done.stderr
    text = summary.read_text()
    assert (
        "**gate failed because:** `complexity must not grow` (complexity.max changed by +3" in text
    )
    assert "| gate | failed |" in text
    assert "notified summary: delivered" in done.stdout
    # Outside GitHub Actions there is no step summary: nothing is said about one.
    quiet = plimsoll(repo.path, "code", "collect", "--validate", "--no-store", check=1)
    assert "summary" not in quiet.stdout + quiet.stderr


def test_a_comment_about_other_rules_says_why_the_gate_failed(tmp_path: Path) -> None:
    comment = """
[[tool.plimsoll.code.thresholds]]
metric = "complexity.max"
op = "<="
value = 2
action = "comment"
"""
    repo = _source(tmp_path / "repo")
    (repo.path / "pyproject.toml").write_text(CONFIG.format(extra="") + comment + SUMMARY_CHANNEL)
    plimsoll(repo.path, "code", "collect")
    repo.commit("complex", {"pkg/c.py": COMPLEX})
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    done = _run(repo.path, env, "code", "collect", "--validate", "--no-store")
    assert done.returncode == 1, done.stderr
    text = summary.read_text()
    # One message: the comment rule's table, after the line naming the fail rule.
    assert text.count("## plimsoll:") == 1
    assert "`complexity.max <= 2`" in text
    assert text.index("**gate failed because:** `complexity must not grow`") < text.index(
        "| | Rule |"
    )


def _run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import os
    import sys

    return subprocess.run(
        [sys.executable, "-m", "plimsoll", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CI": "true", "NO_COLOR": "1", "COLUMNS": "200", **env},
        timeout=120,
    )
