"""``plimsoll code`` history in CI-like settings: fresh clones, same-second backfills, HEAD's
record, unknown trend metrics, and plain message lines, with the real command on real git
repositories.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.gitrepo import GitRepo, make_repo

CONFIG = """[project]
name = "demo"
version = "1.4.0"

[tool.plimsoll.code]
paths = ["pkg"]
collectors = ["stats", "complexity"]
{extra}
"""

NO_GROWTH = """
[[tool.plimsoll.code.thresholds]]
name = "no growth"
metric = "stats.totals.loc"
op = "<="
value = 0
delta = true
action = "fail"
"""


def plimsoll(
    cwd: Path, *args: str, check: int | None = 0, columns: int = 200
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m plimsoll ARGS`` as CI would (no terminal), checking the exit code."""
    env = {**os.environ, "CI": "true", "NO_COLOR": "1", "COLUMNS": str(columns)}
    done = subprocess.run(
        [sys.executable, "-m", "plimsoll", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    if check is not None:
        assert done.returncode == check, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def project(path: Path, extra: str = "") -> GitRepo:
    repo = make_repo(path)
    repo.commit(
        "one",
        {
            "pyproject.toml": CONFIG.format(extra=extra),
            ".gitignore": ".plimsoll/\n",
            "pkg/m.py": "def f(x):\n    return x\n",
        },
    )
    return repo


def clone(remote: Path, path: Path) -> GitRepo:
    subprocess.run(["git", "clone", "-q", str(remote), str(path)], check=True, capture_output=True)
    repo = GitRepo(path)
    repo.git("config", "user.name", "CI")
    repo.git("config", "user.email", "ci@example.test")
    return repo


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


# -- 1. a fresh clone reads and continues origin/code-metrics --------------------------------


def test_fresh_clone_gates_on_the_remote_history_and_pushes_a_fast_forward(
    tmp_path: Path,
) -> None:
    repo = project(tmp_path / "repo", NO_GROWTH)
    plimsoll(repo.path, "code", "collect")
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main", "code-metrics")
    first = repo.git("rev-parse", "HEAD")

    ci = clone(origin, tmp_path / "ci")
    assert ci.git("branch", "--list", "code-metrics") == ""
    listed = as_json(plimsoll(ci.path, "code", "history", "--format", "json"))
    assert [h["commit_short"] for h in listed] == [first[:7]]
    ci.commit("two", {"pkg/m.py": "def f(x):\n    return x\n\n\ndef g(x):\n    return x\n"})
    # The same gate as in the original repository: the new lines fail it against the
    # remote's record of the parent commit.
    gate = plimsoll(
        ci.path, "code", "collect", "--validate", "--no-store", "--format", "json", check=1
    )
    (result,) = as_json(gate)["thresholds"]["results"]
    assert (result["previous"], result["current"]) == (2, 6)
    assert ci.git("branch", "--list", "code-metrics") == ""  # --no-store wrote nothing

    remote_tip = ci.git("rev-parse", "origin/code-metrics")
    done = plimsoll(ci.path, "code", "collect", "--push")
    assert "pushed branch code-metrics to origin" in done.stdout
    assert ci.git("rev-parse", "code-metrics^") == remote_tip
    bare = GitRepo(origin)
    assert bare.git("rev-list", "--merges", "code-metrics") == ""
    assert bare.git("rev-parse", "code-metrics") == ci.git("rev-parse", "code-metrics")
    pushed = as_json(plimsoll(ci.path, "code", "collect", "--push", "--format", "json"))
    assert pushed["pushed"] is True
    assert pushed["push"]["remote"] == "origin"
    assert pushed["push"]["merges"] == 0
    assert pushed["push"]["commit"] == bare.git("rev-parse", "code-metrics")


# -- 2. code.branch must not be the checked-out branch ---------------------------------------


def test_history_branch_checked_out_is_a_config_error(git_repo: GitRepo) -> None:
    git_repo.commit(
        "one",
        {
            "pyproject.toml": CONFIG.format(extra='branch = "main"'),
            "pkg/m.py": "X = 1\n",
        },
    )
    tip = git_repo.git("rev-parse", "main")
    status = git_repo.git("status", "--porcelain")
    done = plimsoll(git_repo.path, "code", "collect", check=2)
    assert "code.branch" in done.stderr and "'main' is the checked-out branch" in done.stderr
    assert str(git_repo.path / "pyproject.toml") in done.stderr
    assert git_repo.git("rev-parse", "main") == tip
    assert git_repo.git("status", "--porcelain") == status
    plimsoll(git_repo.path, "code", "history", check=2)
    # A branch checked out in another worktree is refused too.
    other = git_repo.path.parent / "elsewhere"
    git_repo.git("worktree", "add", "-q", "-b", "metrics", str(other))
    git_repo.write("pyproject.toml", CONFIG.format(extra='branch = "metrics"'))
    done = plimsoll(git_repo.path, "code", "collect", check=2)
    assert "code.branch" in done.stderr and str(other) in done.stderr
    assert git_repo.git("rev-parse", "metrics") == tip


# -- 3. an analysed untracked file makes the tree dirty --------------------------------------


def test_untracked_analysed_file_is_recorded_as_dirty(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo")
    repo.write("notes.py", "X = 1\n")  # untracked but outside the analysed paths
    repo.write(".plimsoll/cache/x.py", "X = 1\n")  # ignored
    clean = as_json(plimsoll(repo.path, "code", "collect", "--no-store", "--format", "json"))
    assert clean["records"][0]["worktree_dirty"] is False
    repo.write("pkg/new.py", "def extra():\n    return 1\n")
    done = as_json(plimsoll(repo.path, "code", "collect", "--no-store", "--format", "json"))
    record = done["records"][0]
    assert record["worktree_dirty"] is True
    assert record["metrics"]["stats"]["totals"]["functions"] == 2  # the new file was measured
    text = plimsoll(repo.path, "code", "collect", "--no-store").stdout
    assert "[dirty work tree]" in text  # shown as text, not swallowed as markup


# -- 4. and 5. same-second backfills; HEAD's record by default -------------------------------


def test_same_second_backfill_orders_by_commit_and_validate_uses_heads_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = project(tmp_path / "repo")
    root = repo.git("rev-parse", "HEAD")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2025-05-05T10:00:00Z")
    shas = [repo.commit(f"c{i}", {f"pkg/m{i}.py": "def h():\n    return 1\n"}) for i in range(5)]
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    assert sorted(s[:7] for s in shas) != [s[:7] for s in shas]  # the names alone would misorder
    plimsoll(repo.path, "code", "collect", "--rev", f"{root}..HEAD")
    listed = as_json(plimsoll(repo.path, "code", "history", "--format", "json"))
    assert [h["commit"] for h in listed] == list(reversed(shas))
    latest = json.loads(repo.git("show", "code-metrics:latest.json"))
    assert latest["commit_sha"] == shas[-1]
    points = as_json(plimsoll(repo.path, "code", "trend", "stats.totals.functions", "-f", "json"))
    assert [p["commit"] for p in points] == shas
    assert [p["value"] for p in points] == [2, 3, 4, 5, 6]

    # No argument: HEAD's record, even when another branch wrote a newer one.
    repo.git("checkout", "-q", "-b", "feature", shas[1])
    repo.commit("feature work", {"pkg/f.py": "def f2():\n    return 2\n"})
    plimsoll(repo.path, "code", "collect")
    repo.git("checkout", "-q", shas[2])
    report = as_json(plimsoll(repo.path, "code", "validate", "--format", "json"))
    assert report["commit_sha"] == shas[2] and report["selected"] == "head"
    text = plimsoll(repo.path, "code", "show").stdout
    assert f"using the record of HEAD ({shas[2][:7]})" in text
    # HEAD without a record: the newest one, and the output says so.
    repo.git("checkout", "-q", "--detach", root)
    repo.git("commit", "-q", "--allow-empty", "-m", "unrecorded")
    head = repo.git("rev-parse", "HEAD")
    report = as_json(plimsoll(repo.path, "code", "validate", "--format", "json"))
    feature_tip = repo.git("rev-parse", "feature")
    assert report["commit_sha"] == feature_tip and report["selected"] == "newest"
    text = plimsoll(repo.path, "code", "validate").stdout
    assert f"HEAD ({head[:7]}) has no record: using the newest record ({feature_tip[:7]}" in text
    help_text = plimsoll(repo.path, "code", "validate", "--help").stdout
    assert "HEAD's record" in help_text


# -- 6. trend of an unknown or non-numeric metric --------------------------------------------


def test_trend_of_an_unknown_or_non_numeric_metric_exits_2(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo")
    plimsoll(repo.path, "code", "trend", "stats.totals.loc", check=2)  # no records yet
    plimsoll(repo.path, "code", "collect")
    done = plimsoll(repo.path, "code", "trend", "nosuch.metric", check=2)
    assert "nosuch.metric" in done.stderr and "none of the 1 records" in done.stderr
    done = plimsoll(repo.path, "code", "trend", "stats.totals.lc", "--format", "json", check=2)
    assert "did you mean stats.totals.loc" in done.stderr
    assert "did you mean stats.totals.loc" in json.loads(done.stdout)["error"]["message"]
    done = plimsoll(repo.path, "code", "trend", "complexity.ranks", check=2)
    assert "complexity.ranks is not a number: it holds a group of metrics" in done.stderr
    assert "complexity.ranks.A" in done.stderr
    record = json.loads(repo.git("show", "code-metrics:latest.json"))
    expected = record["metrics"]["stats"]["totals"]["loc"]
    points = as_json(plimsoll(repo.path, "code", "trend", "stats.totals.loc", "-f", "json"))
    assert [p["value"] for p in points] == [expected]


# -- 7. message lines are never wrapped; the push is reported --------------------------------


def test_message_lines_stay_whole_at_80_columns(tmp_path: Path) -> None:
    branch = "quality/code-metrics-history-kept-for-continuous-integration"
    repo = project(tmp_path / "repo", f'branch = "{branch}"')
    origin = tmp_path / "origin.git"
    repo.git("init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    done = plimsoll(repo.path, "code", "collect", "--push", columns=80)
    stored = json.loads(repo.git("show", f"{branch}:latest.json"))
    (path,) = [p for p in repo.git("ls-tree", "-r", "--name-only", branch).split() if "/" in p]
    lines = done.stdout.splitlines()
    assert f"stored {path} on branch {branch}" in lines
    tip = repo.git("rev-parse", branch)
    assert f"pushed branch {branch} to origin (now at {tip[:7]})" in lines
    assert GitRepo(origin).git("rev-parse", branch) == tip
    assert stored["commit_sha"] == repo.git("rev-parse", "HEAD")
    header = [line for line in lines if line.startswith(stored["commit_sha"][:10])]
    assert len(header) == 1 and header[0].endswith(", 1 file")


# -- 8. round-2 review: retention, validation and history reporting --------------------------


def old_records(repo: GitRepo, ages_days: list[int], corrupt_newest: bool = False) -> list[str]:
    """Records of the given ages on the history branch; with ``corrupt_newest``, an invalid
    JSON file newer than all of them in the oldest one's calendar month. Returns the paths."""
    from datetime import UTC, datetime, timedelta

    from plimsoll.code.history import History
    from plimsoll.code.record import Record, record_filename, record_path

    now = datetime.now(UTC)
    adds: dict[str, bytes] = {}
    for i, age in enumerate(ages_days):
        record = Record(
            timestamp=now - timedelta(days=age, minutes=i),
            commit_sha=f"{i:07x}" + "a" * 33,
            metrics={"stats": {"totals": {"loc": 100 + i}}},
        )
        adds[record_filename(record)] = record.to_bytes()
    if corrupt_newest:
        oldest = now - timedelta(days=max(ages_days), minutes=-1)
        adds[record_path(oldest, "badbad0", "1.2")] = b"{ not json"
    History(repo.path).commit(adds, [], "seed")
    return sorted(adds)


def test_prune_never_keeps_a_corrupt_record_in_place_of_readable_ones(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo")
    # Three records in one old day-range of a month, and a corrupt file newest among them.
    paths = old_records(repo, [300, 300, 300], corrupt_newest=True)
    corrupt = next(p for p in paths if "badbad0" in p)
    dry_text = plimsoll(repo.path, "code", "prune", "--dry-run").stdout
    assert f"warning: {corrupt}: unreadable, left untouched: record is not valid JSON" in dry_text
    dry = as_json(plimsoll(repo.path, "code", "prune", "--dry-run", "--format", "json"))
    assert [u["path"] for u in dry["unreadable"]] == [corrupt]
    assert corrupt not in dry["deleted"] and len(dry["deleted"]) == 2
    done = as_json(plimsoll(repo.path, "code", "prune", "--format", "json"))
    assert done["deleted"] == dry["deleted"]
    files = repo.git("ls-tree", "-r", "--name-only", "code-metrics").split()
    kept = [p for p in paths if p not in done["deleted"]]
    assert sorted(files) == sorted([*kept, "latest.json"])
    assert len(kept) == 2 and corrupt in kept  # the corrupt file and the newest readable one
    listed = as_json(plimsoll(repo.path, "code", "history", "--format", "json"))
    assert {h["path"]: h["readable"] for h in listed} == {p: p != corrupt for p in kept}
    assert next(h for h in listed if h["path"] == corrupt)["error"].startswith(
        "record is not valid JSON"
    )
    text = plimsoll(repo.path, "code", "history")
    rows = {line.split("│")[-2].strip(): line for line in text.stdout.splitlines() if "│" in line}
    assert all(("unreadable" if p == corrupt else "readable") in rows[p] for p in kept)
    assert f"unreadable {corrupt}: record is not valid JSON" in text.stderr
    # Readers skip it naming the path once, not twice.
    trend = plimsoll(repo.path, "code", "trend", "stats.totals.loc")
    assert f"skipped {corrupt}: record is not valid JSON" in trend.stderr
    assert trend.stderr.count(corrupt) == 1


def test_older_than_zero_and_max_age_zero_are_honoured(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo", "[tool.plimsoll.code.retention]\nmax_age_days = 0\n")
    old_records(repo, [0, 0])
    compressed = as_json(
        plimsoll(repo.path, "code", "compress", "--older-than", "0", "--format", "json")
    )
    assert len(compressed["compressed"]) == 2  # the default (30 days) would compress none
    rotated = as_json(plimsoll(repo.path, "code", "rotate", "--dry-run", "--format", "json"))
    assert len(rotated["deleted"]) == 2  # max_age_days = 0: everything is past it
    none_left = plimsoll(repo.path, "code", "rotate", "--older-than", "0")
    assert "rotate: 2 of 2 records changed" in none_left.stdout
    assert repo.git("ls-tree", "-r", "--name-only", "code-metrics") == ""


def test_bad_retention_ages_and_tiers_name_the_option_or_key(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo")
    old_records(repo, [1])
    for command in ("rotate", "prune", "compress"):
        done = plimsoll(repo.path, "code", command, "--older-than", "-5", check=2)
        assert "--older-than" in done.stderr and "max_age_days" not in done.stderr
        assert "older_than_days" not in done.stderr
    (repo.path / "pyproject.toml").write_text(
        CONFIG.format(
            extra="[tool.plimsoll.code.retention]\nkeep_days = 60\nweekly_after_days = 30\n"
        )
    )
    done = plimsoll(repo.path, "code", "prune", "--dry-run", check=2)
    assert "pyproject.toml" in done.stderr
    assert "code.retention.weekly_after_days: must be at least keep_days (60)" in done.stderr
    help_text = plimsoll(repo.path, "code", "prune", "--help", columns=300).stdout
    assert "weekly_after_days" in help_text


def test_history_limit_must_not_be_negative(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo")
    old_records(repo, [1, 2, 3])
    assert len(as_json(plimsoll(repo.path, "code", "history", "-n", "0", "-f", "json"))) == 3
    assert len(as_json(plimsoll(repo.path, "code", "history", "-n", "2", "-f", "json"))) == 2
    done = plimsoll(repo.path, "code", "history", "-n", "-1", check=2)
    assert "--limit" in done.stderr
    plimsoll(repo.path, "code", "trend", "stats.totals.loc", "-n", "-1", check=2)


def test_an_ambiguous_sha_prefix_is_refused(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from plimsoll.code.history import History
    from plimsoll.code.record import Record

    repo = project(tmp_path / "repo")
    history = History(repo.path)
    for sha in ("abcdef1" + "1" * 33, "abcdef2" + "2" * 33):
        history.append(Record(timestamp=datetime.now(UTC), commit_sha=sha, metrics={"s": {}}))
    done = plimsoll(repo.path, "code", "show", "abcdef", check=2)
    assert "ambiguous" in done.stderr
    assert "abcdef111111" in done.stderr and "abcdef222222" in done.stderr
    plimsoll(repo.path, "code", "diff", "abcdef", "abcdef1", check=2)
    assert as_json(plimsoll(repo.path, "code", "show", "abcdef2", "-f", "json"))["commit_sha"] == (
        "abcdef2" + "2" * 33
    )


def test_backfill_collects_merged_side_branches_and_says_what_it_skipped(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo")
    root = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "side")
    side = repo.commit("side", {"pkg/side.py": "def s():\n    return 1\n"})
    repo.git("checkout", "-q", "main")
    main = repo.commit("main", {"pkg/broken.py": "def broken(:\n"})
    repo.git("merge", "-q", "--no-ff", "-m", "merge", "side")
    merge = repo.git("rev-parse", "HEAD")
    done = plimsoll(repo.path, "code", "collect", "--rev", f"{root}..HEAD")
    listed = {h["commit"] for h in as_json(plimsoll(repo.path, "code", "history", "-f", "json"))}
    assert listed == {side, main, merge}  # the side-branch commit too
    assert "collected 3 of the 3 commit(s)" in done.stdout
    # The file that does not parse is named once (not once per collector or per commit).
    warnings = [ln for ln in done.stderr.splitlines() if "pkg/broken.py" in ln]
    assert len(warnings) == 1, done.stderr
    assert "skipped pkg/broken.py in 2 commits" in warnings[0]
    assert "does not parse: line 1" in warnings[0]
    again = plimsoll(repo.path, "code", "collect", "--rev", f"{root}..HEAD")
    assert "collected 0 of the 3 commit(s)" in again.stdout
    assert "3 already had a record" in again.stdout
    data = as_json(plimsoll(repo.path, "code", "collect", "--rev", f"{root}..HEAD", "-f", "json"))
    assert sorted(data["already_recorded"]) == sorted([side, main, merge])
    assert data["records"] == []


def test_collect_warns_about_a_file_that_does_not_parse(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo")
    repo.write("pkg/broken.py", "def broken(:\n")
    done = plimsoll(repo.path, "code", "collect")
    lines = [ln for ln in done.stderr.splitlines() if "broken.py" in ln]
    assert lines == [
        "warning: complexity, stats skipped pkg/broken.py: does not parse: line 1 invalid syntax"
    ]
    data = as_json(plimsoll(repo.path, "code", "collect", "--no-store", "-f", "json"))
    assert [s["path"] for s in data["skipped_files"]] == ["pkg/broken.py"]


def test_validate_names_its_baseline_and_warns_about_a_missing_base_branch(
    tmp_path: Path,
) -> None:
    repo = project(tmp_path / "repo", NO_GROWTH)
    first = repo.git("rev-parse", "HEAD")
    plimsoll(repo.path, "code", "collect")
    repo.commit("two", {"pkg/n.py": "X = 1\n"})
    plimsoll(repo.path, "code", "collect")
    text = plimsoll(repo.path, "code", "validate", check=1)
    assert f"deltas compare with the record of {first[:7]} on main" in text.stdout
    data = as_json(plimsoll(repo.path, "code", "validate", "-f", "json", check=1))
    assert data["baseline"]["record"]["commit_sha"] == first
    assert data["baseline"]["warning"] is None
    # A base branch that does not exist is named, with the configuration file.
    extra = "base_branch = 'mian'\n" + NO_GROWTH.replace('"fail"', '"warn"')
    (repo.path / "pyproject.toml").write_text(CONFIG.format(extra=extra))
    warned = plimsoll(repo.path, "code", "validate")
    assert "code.base_branch: no branch 'mian' here" in warned.stderr
    assert "pyproject.toml" in warned.stderr
    data = as_json(plimsoll(repo.path, "code", "validate", "-f", "json"))
    assert "code.base_branch" in data["baseline"]["warning"]


def test_validate_violations_only_json(tmp_path: Path) -> None:
    extra = """
[[tool.plimsoll.code.thresholds]]
metric = "stats.totals.functions"
op = ">="
value = 0

[[tool.plimsoll.code.thresholds]]
metric = "stats.totals.functions"
op = ">="
value = 100
action = "warn"
"""
    repo = project(tmp_path / "repo", extra)
    plimsoll(repo.path, "code", "collect")
    data = as_json(plimsoll(repo.path, "code", "validate", "--violations-only", "-f", "json"))
    assert [r["status"] for r in data["results"]] == ["warn"]
    assert data["counts"]["passed"] == 1
    full = as_json(plimsoll(repo.path, "code", "validate", "-f", "json"))
    assert [r["status"] for r in full["results"]] == ["pass", "warn"]
