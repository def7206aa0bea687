"""The baseline of delta rules: found in shallow and single-branch clones, chosen per rule.

``find_baseline`` runs on real git repositories (clones of a bare remote, shallow fetches of a
pull request's merge commit); ``evaluate`` on records built in memory, its report compared
with what ``evaluate_thresholds`` itself gives for the same rules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from plimsoll.code.baseline import Baseline, evaluate, find_baseline
from plimsoll.code.history import History
from plimsoll.code.record import Record
from plimsoll.code.thresholds import evaluate_thresholds
from plimsoll.core.rules import Outcome, RuleSpec
from tests.support.gitrepo import GitRepo, make_repo

BASE = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def rec(sha: str, metrics: dict[str, Any], minute: int = 0, branch: str | None = "main") -> Record:
    return Record(
        timestamp=BASE + timedelta(minutes=minute),
        commit_sha=sha,
        metrics=metrics,
        branch=branch,
        package_version="1.0.0",
    )


def rule(metric: str, *, delta: bool = True, action: str = "fail", value: float = 0) -> RuleSpec:
    return RuleSpec.model_validate(
        {"metric": metric, "op": "<=", "value": value, "delta": delta, "action": action}
    )


SHA = "a" * 40
BASE_SHA = "b" * 40


# -- evaluate: one baseline record per rule ---------------------------------------------------


def test_each_delta_rule_compares_with_the_newest_record_holding_its_metric() -> None:
    """Two CI jobs recorded the base commit: the newer record (stats only) lacks complexity."""
    older = rec(BASE_SHA, {"complexity": {"max": 1}, "stats": {"loc": 10}}, minute=1)
    newer = rec(BASE_SHA, {"stats": {"loc": 12}}, minute=2)
    baseline = Baseline(newer, records=(newer, older))
    current = rec(SHA, {"complexity": {"max": 4}, "stats": {"loc": 12}}, minute=3)
    done = evaluate([rule("complexity.max"), rule("stats.loc")], current, baseline)
    grow, loc = done.report.results
    assert grow.outcome is Outcome.FAILED and (grow.previous, grow.current) == (1, 4)
    assert loc.outcome is Outcome.PASSED and loc.previous == 12  # the newest record's
    assert done.report.exit_code == 1 and done.report.failed == 1 and done.report.passed == 1
    [compared] = done.compared
    assert compared.record is older and compared.rule == grow.label
    assert "the newest record of that commit with complexity.max" in compared.describe()
    assert done.unchecked == ()


def test_a_metric_missing_from_a_group_the_newest_record_has_comes_from_the_older() -> None:
    """The newest record has the complexity group without ``max`` (an older plimsoll, say):
    ``max`` comes from the older record, ``average`` still from the newest."""
    older = rec(BASE_SHA, {"complexity": {"max": 1, "average": 9.0}}, minute=1)
    newer = rec(BASE_SHA, {"complexity": {"average": 1.0}}, minute=2)
    baseline = Baseline(newer, records=(newer, older))
    current = rec(SHA, {"complexity": {"max": 4, "average": 1.0}}, minute=3)
    done = evaluate([rule("complexity.max"), rule("complexity.average")], current, baseline)
    grow, average = done.report.results
    assert (grow.previous, grow.outcome) == (1, Outcome.FAILED)
    assert (average.previous, average.outcome) == (1.0, Outcome.PASSED)
    assert [c.rule for c in done.compared] == [grow.label]
    assert newer.metrics == {"complexity": {"average": 1.0}}  # records are never changed


def test_a_report_of_non_delta_rules_is_the_one_evaluate_thresholds_gives() -> None:
    specs = [rule("stats.loc", delta=False, value=5), rule("complexity.max", delta=False)]
    specs.append(rule("stats.loc", delta=False, value=50, action="notify"))
    current = rec(SHA, {"stats": {"loc": 10}})
    done = evaluate(specs, current, None)
    plain = evaluate_thresholds(specs, current.metrics)
    assert done.report == plain
    assert [r.outcome for r in done.report.results] == [
        Outcome.FAILED,
        Outcome.ERROR,
        Outcome.PASSED,
    ]


def test_a_fail_delta_rule_without_a_baseline_is_skipped_loudly_or_fails_when_required() -> None:
    missing = "this clone is shallow, so the commits before abc are not here"
    baseline = Baseline(None, missing=missing)
    current = rec(SHA, {"complexity": {"max": 4}})
    specs = [rule("complexity.max"), rule("complexity.max", action="warn")]
    lenient = evaluate(specs, current, baseline)
    assert [r.outcome for r in lenient.report.results] == [Outcome.SKIPPED, Outcome.SKIPPED]
    assert lenient.report.exit_code == 0 and lenient.report.skipped == 2
    assert lenient.report.results[0].message == "complexity.max: no baseline record, not checked"
    # Only the fail rule is a warning: it is the one that would have decided the gate.
    [warning] = lenient.unchecked
    assert warning.startswith(f"fail rule {specs[0].label!r} was not checked")
    assert missing in warning and "code.require_baseline = true" in warning
    strict = evaluate(specs, current, baseline, require=True)
    assert [r.outcome for r in strict.report.results] == [Outcome.ERROR, Outcome.SKIPPED]
    assert strict.report.exit_code == 1
    assert (strict.report.errored, strict.report.skipped) == (1, 1)
    assert "code.require_baseline = true fails the gate" in strict.report.results[0].message
    assert "it fails the gate" in strict.unchecked[0]


def test_a_baseline_whose_records_all_lack_the_metric_says_so() -> None:
    only = rec(BASE_SHA, {"stats": {"loc": 1}})
    done = evaluate([rule("complexity.max")], rec(SHA, {"complexity": {"max": 2}}), Baseline(only))
    [result] = done.report.results
    assert result.outcome is Outcome.SKIPPED
    assert result.message == (
        f"complexity.max: not in the baseline record (of {BASE_SHA[:7]}), not checked"
    )


# -- find_baseline on real clones ---------------------------------------------------------------


CONFIG = '[tool.plimsoll.code]\npaths = ["pkg"]\n'


def _history(repo: GitRepo) -> History:
    return History(repo.path)


def _remote_with_a_pull_request(
    tmp_path: Path, record_tip: bool = True
) -> tuple[Path, dict[str, str]]:
    """A bare remote: main (two commits, recorded), a feature branch, and refs/pull/1/merge."""
    src = make_repo(tmp_path / "src")
    first = src.commit("one", {"pyproject.toml": CONFIG, "pkg/m.py": "X = 1\n"})
    second = src.commit("two", {"pkg/m.py": "X = 2\n"})
    history = _history(src)
    history.append(rec(first, {"stats": {"loc": 1}}, minute=1))
    if record_tip:
        history.append(rec(second, {"stats": {"loc": 2}}, minute=2))
    src.git("checkout", "-q", "-b", "feature")
    feature = src.commit("feature", {"pkg/f.py": "Y = 1\n"})
    src.git("checkout", "-q", "-b", "pr-merge", "main")
    src.git("merge", "-q", "--no-ff", "feature", "-m", "merge")
    merge = src.git("rev-parse", "HEAD")
    src.git("checkout", "-q", "main")
    remote = tmp_path / "remote.git"
    src.git("clone", "-q", "--bare", str(src.path), str(remote))
    GitRepo(remote).git("update-ref", "refs/pull/1/merge", "refs/heads/pr-merge")
    return remote, {"first": first, "second": second, "feature": feature, "merge": merge}


def _ci_checkout(remote: Path, path: Path, *refspecs: str, depth: int | None = 1) -> GitRepo:
    """What actions/checkout does: init, add origin, fetch the refs (shallow), detach."""
    repo = make_repo(path)
    repo.git("remote", "add", "origin", f"file://{remote}")
    shallow = [f"--depth={depth}"] if depth else []
    repo.git("fetch", "-q", *shallow, "origin", *refspecs)
    return repo


MERGE_REFS = (
    "+refs/pull/1/merge:refs/remotes/pull/1/merge",
    "+refs/heads/main:refs/remotes/origin/main",
    "+refs/heads/code-metrics:refs/remotes/origin/code-metrics",
)


def _find(repo: GitRepo, sha: str) -> Baseline:
    return find_baseline(
        repo.path,
        _history(repo),
        rec(sha, {}),
        base_branch="main",
        remote="origin",
        source="pyproject.toml",
    )


def test_a_shallow_pull_request_merge_compares_with_the_base_branch_tip(tmp_path: Path) -> None:
    remote, shas = _remote_with_a_pull_request(tmp_path)
    ci = _ci_checkout(remote, tmp_path / "ci", *MERGE_REFS)
    ci.git("checkout", "-q", "--detach", "pull/1/merge")
    assert ci.git("rev-parse", "--is-shallow-repository") == "true"
    found = _find(ci, shas["merge"])
    assert found.record is not None and found.record.commit_sha == shas["second"]
    assert found.how == "the tip of origin/main (this clone is shallow: the merge base is not here)"
    assert found.warning is None
    assert "the tip of origin/main" in found.describe()
    # With the whole history, the merge base is found the usual way: the same record.
    full = _ci_checkout(remote, tmp_path / "full", *MERGE_REFS, depth=None)
    deep = _find(full, shas["merge"])
    assert deep.record is not None and deep.record.commit_sha == shas["second"]
    assert deep.how is None


def test_a_shallow_push_to_the_base_branch_compares_with_the_commit_s_parent(
    tmp_path: Path,
) -> None:
    remote, shas = _remote_with_a_pull_request(tmp_path)
    refs = MERGE_REFS[1:]
    ci = _ci_checkout(remote, tmp_path / "ci", *refs)
    ci.git("checkout", "-q", "--detach", "origin/main")
    # The commit pushed is main's tip itself: its parent (named in the commit) is the baseline.
    found = _find(ci, shas["second"])
    assert found.record is not None and found.record.commit_sha == shas["first"]
    assert found.how == (
        f"the parent of {shas['second'][:7]} (this clone is shallow: its history is not here)"
    )


def test_a_shallow_clone_without_a_recorded_base_says_how_to_fetch_the_history(
    tmp_path: Path,
) -> None:
    # Main's tip has no record (its job has not finished): only its parent, not fetched, has.
    remote, shas = _remote_with_a_pull_request(tmp_path, record_tip=False)
    ci = _ci_checkout(remote, tmp_path / "ci", *MERGE_REFS)
    found = _find(ci, shas["merge"])
    assert found.record is None
    assert found.missing == (
        f"this clone is shallow, so the commits before {shas['merge'][:7]} are not here and "
        "none that is has a record: fetch them with `git fetch --unshallow` (in GitHub "
        "Actions: actions/checkout with fetch-depth: 0)"
    )
    assert found.describe() == f"no baseline record: {found.missing}; delta rules are skipped"
    # What it says to do finds it.
    ci.git("fetch", "-q", "--unshallow", "origin", *MERGE_REFS)
    fetched = _find(ci, shas["merge"])
    assert fetched.record is not None and fetched.record.commit_sha == shas["first"]


def test_a_history_branch_never_fetched_is_named_with_the_command_to_fetch_it(
    tmp_path: Path,
) -> None:
    remote, shas = _remote_with_a_pull_request(tmp_path)
    clone = tmp_path / "single"
    GitRepo(tmp_path).git("clone", "-q", "--single-branch", f"file://{remote}", str(clone))
    repo = GitRepo(clone)
    found = _find(repo, shas["feature"])
    assert found.record is None
    assert found.missing == (
        "the history branch is on origin but not fetched: "
        "git fetch origin code-metrics:code-metrics"
    )
    # The command it gives works, and then the baseline is found.
    repo.git("fetch", "-q", "origin", "code-metrics:code-metrics")
    fetched = _find(repo, shas["second"])
    assert fetched.record is not None and fetched.record.commit_sha == shas["first"]


def test_no_hint_when_the_remote_cannot_be_asked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    sha = repo.commit("one", {"pyproject.toml": CONFIG})
    repo.git("remote", "add", "origin", str(tmp_path / "gone.git"))
    history = _history(repo)
    assert history.unfetched_hint() is None
    history.append(rec("c" * 40, {"stats": {"loc": 1}}))
    found = _find(repo, sha)
    assert found.record is None
    assert (
        found.missing
        == f"no commit before {sha[:7]} on its base branch's first-parent line has a record"
    )


@pytest.mark.parametrize("local_branch", [False, True])
def test_unfetched_hint_fits_whether_a_local_branch_exists(
    tmp_path: Path, local_branch: bool
) -> None:
    remote, _ = _remote_with_a_pull_request(tmp_path)
    clone = tmp_path / "single"
    GitRepo(tmp_path).git("clone", "-q", "--single-branch", f"file://{remote}", str(clone))
    history = History(clone)
    if local_branch:
        # Records of this clone's own: the remote's are still to fetch, beside them.
        history.append(rec("d" * 40, {"stats": {"loc": 1}}))
        command = "git fetch origin code-metrics:refs/remotes/origin/code-metrics"
        assert history.unfetched_hint() == (
            "the history branch on origin has records this clone's code-metrics does not (not "
            f"fetched, or pushed to since): {command}"
        )
    else:
        command = "git fetch origin code-metrics:code-metrics"
        assert history.unfetched_hint() == (
            f"the history branch is on origin but not fetched: {command}"
        )
    # Once the command given has run, there is nothing more to say.
    GitRepo(clone).git(*command.split()[1:])
    assert History(clone).unfetched_hint() is None
