"""``plimsoll code`` end to end: the real console script on real git repositories."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.gitrepo import GitRepo

FAST = "stats,complexity,maintainability,debt"

GOOD = '''"""A tidy module."""


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b
'''

TANGLED = '''"""A tangled module."""


def tangled(x):
    # TODO: split this up
    if x > 1:
        for i in range(x):
            if i % 2:
                while x > 0:
                    if x == 3:
                        x -= 2
                    x -= 1
    elif x < -5:
        return -1
    return x
'''


def plimsoll(cwd: Path, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    """Run the installed command and check its exit code."""
    done = subprocess.run(
        [sys.executable, "-m", "plimsoll", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**__import__("os").environ, "CI": "true"},
    )
    if check is not None:
        assert done.returncode == check, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _config(thresholds: str = "") -> str:
    return f"""[project]
name = "demo"
version = "1.4.0"

[tool.plimsoll.code]
paths = ["src"]
collectors = ["stats", "complexity", "maintainability", "debt"]
{thresholds}
"""


@pytest.fixture
def project(git_repo: GitRepo) -> GitRepo:
    git_repo.commit(
        "initial",
        {
            "pyproject.toml": _config(),
            "src/demo/__init__.py": "",
            "src/demo/good.py": GOOD,
        },
    )
    return git_repo


def _branch_files(repo: GitRepo, branch: str = "code-metrics") -> list[str]:
    return repo.git("ls-tree", "-r", "--name-only", branch).splitlines()


def test_collect_stores_a_record_without_touching_the_work_tree(project: GitRepo) -> None:
    project.write("src/demo/tangled.py", TANGLED)  # untracked: the tree is collected as it is
    status_before = project.git("status", "--porcelain")
    head_before = project.git("rev-parse", "HEAD")
    done = plimsoll(project.path, "code", "collect", "--format", "json")
    out = json.loads(done.stdout)
    record = out["records"][0]
    assert record["commit_sha"] == head_before
    assert record["branch"] == "main"
    assert record["package_version"] == "1.4.0"
    assert set(record["metrics"]) == {"stats", "complexity", "maintainability", "debt"}
    assert record["collector_errors"] == {}
    files = _branch_files(project)
    assert "latest.json" in files
    assert [f for f in files if f.startswith("history/")] == out["stored"]
    assert out["stored"][0].endswith(f"__{head_before[:7]}__1.4.0.json")
    assert project.git("status", "--porcelain") == status_before
    assert project.git("rev-parse", "HEAD") == head_before
    assert project.git("symbolic-ref", "HEAD") == "refs/heads/main"


def test_collect_text_shows_a_table(project: GitRepo) -> None:
    done = plimsoll(project.path, "code", "collect")
    assert "metrics" in done.stdout
    assert "complexity" in done.stdout
    assert "stored history/" in done.stdout


def test_validate_fails_on_a_crossed_fail_threshold(project: GitRepo) -> None:
    project.commit(
        "gate",
        {
            "pyproject.toml": _config("""
[[tool.plimsoll.code.thresholds]]
metric = "complexity.max"
op = "<="
value = 3
action = "fail"

[[tool.plimsoll.code.thresholds]]
metric = "debt.item_count"
op = "=="
value = 0
action = "warn"
"""),
            "src/demo/tangled.py": TANGLED,
        },
    )
    done = plimsoll(project.path, "code", "collect", "--validate", "--format", "json", check=1)
    report = json.loads(done.stdout)["thresholds"]
    assert report["exit_code"] == 1
    assert len(_branch_files(project)) == 2  # the record is stored even though the gate failed
    md = plimsoll(project.path, "code", "validate", "--format", "markdown", check=1).stdout
    assert "complexity.max" in md


def test_dirty_and_detached_are_recorded(project: GitRepo) -> None:
    second = project.commit("second", {"src/demo/tangled.py": TANGLED})
    project.git("checkout", "-q", "--detach", "HEAD~1")
    project.write("src/demo/good.py", GOOD + "\nX = 1\n")
    record = json.loads(plimsoll(project.path, "code", "collect", "--format", "json").stdout)[
        "records"
    ][0]
    assert record["worktree_dirty"] is True
    assert record["detached_head"] is True
    assert record["branch"] is None
    assert record["commit_sha"] != second


def test_history_show_diff_trend(project: GitRepo) -> None:
    first = project.git("rev-parse", "HEAD")
    plimsoll(project.path, "code", "collect")
    # File names carry the time to the second; two records in one second list in name order.
    time.sleep(1.1)
    second = project.commit("more", {"src/demo/tangled.py": TANGLED})
    plimsoll(project.path, "code", "collect")
    history = json.loads(plimsoll(project.path, "code", "history", "--format", "json").stdout)
    assert [h["commit"] for h in history] == [second, first]
    assert [h["commit_short"] for h in history] == [second[:7], first[:7]]
    # Piped, the table is not folded to 80 columns: each file name stays whole on its line.
    table = plimsoll(project.path, "code", "history").stdout
    assert all(h["path"] in table for h in history), table
    shown = json.loads(plimsoll(project.path, "code", "show", first, "--format", "json").stdout)
    assert shown["commit_sha"] == first
    changes = json.loads(
        plimsoll(project.path, "code", "diff", first, second, "--format", "json").stdout
    )["changes"]
    by_metric = {c["metric"]: c for c in changes}
    assert by_metric["complexity.max"]["b"] > by_metric["complexity.max"]["a"]
    points = json.loads(
        plimsoll(project.path, "code", "trend", "complexity.max", "--format", "json").stdout
    )
    assert [p["commit"] for p in points] == [first, second]
    assert points[0]["value"] == shown["metrics"]["complexity"]["max"]
    text = plimsoll(project.path, "code", "trend", "complexity.max").stdout
    assert "complexity.max" in text and second[:7] in text


def test_backfill_collects_past_commits_in_a_worktree(project: GitRepo) -> None:
    root = project.git("rev-parse", "HEAD")
    shas = [project.commit(f"c{i}", {f"src/demo/m{i}.py": GOOD}) for i in range(3)]
    worktrees_before = project.git("worktree", "list")
    done = plimsoll(project.path, "code", "collect", "--rev", f"{root}..HEAD", "--format", "json")
    records = json.loads(done.stdout)["records"]
    assert [r["commit_sha"] for r in records] == shas
    assert [r["metrics"]["stats"]["totals"]["functions"] for r in records] == [2, 3, 4]
    assert project.git("worktree", "list") == worktrees_before
    again = json.loads(
        plimsoll(
            project.path, "code", "collect", "--rev", f"{root}..HEAD", "--format", "json"
        ).stdout
    )
    assert again["records"] == []  # already recorded commits are skipped


def test_corrupt_record_is_reported_and_skipped(project: GitRepo) -> None:
    plimsoll(project.path, "code", "collect")
    # Add a corrupt record to the branch with plain git plumbing.
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        cwd=project.path,
        input="{not json",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tree_lines = project.git("ls-tree", "code-metrics:history")
    tree_lines += f"\n100644 blob {blob}\t2020_01_01_00_00_00__deadbee__1.0.json"
    subtree = subprocess.run(
        ["git", "mktree"],
        cwd=project.path,
        input=tree_lines + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    top = project.git("ls-tree", "code-metrics").replace(
        project.git("rev-parse", "code-metrics:history"), subtree
    )
    tree = subprocess.run(
        ["git", "mktree"],
        cwd=project.path,
        input=top + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    commit = project.git("commit-tree", tree, "-p", "code-metrics", "-m", "corrupt")
    project.git("update-ref", "refs/heads/code-metrics", commit)
    done = plimsoll(project.path, "code", "trend", "stats.totals.functions", "--format", "json")
    assert len(json.loads(done.stdout)) == 1
    assert "deadbee" in done.stderr and "skipped" in done.stderr


def test_bad_config_key_exits_2_naming_it(project: GitRepo) -> None:
    project.write("pyproject.toml", _config("colectors = []"))
    done = plimsoll(project.path, "code", "collect", check=2)
    assert "code.colectors: unknown key" in done.stderr
    assert "Traceback" not in done.stderr


def test_outside_a_repository_exits_2(tmp_path: Path) -> None:
    done = plimsoll(tmp_path, "code", "collect", check=2)
    assert "not inside a git repository" in done.stderr
    assert "Traceback" not in done.stderr


def test_unparseable_file_is_reported_and_skipped(project: GitRepo) -> None:
    project.write("src/demo/broken.py", "def broken(:\n")
    record = json.loads(plimsoll(project.path, "code", "collect", "--format", "json").stdout)[
        "records"
    ][0]
    skipped = record["metrics"]["complexity"]["skipped_files"]
    assert [s["path"] for s in skipped] == ["src/demo/broken.py"]
    assert record["metrics"]["stats"]["totals"]["functions"] == 1


def test_bad_revision_range_exits_2(project: GitRepo) -> None:
    done = plimsoll(project.path, "code", "collect", "--rev", "nope..HEAD", check=2)
    assert "--rev 'nope..HEAD'" in done.stderr


def _old_records(repo: GitRepo, ages_days: list[int]) -> None:
    """Put records of the given ages on the history branch through the History API."""
    from datetime import UTC, datetime, timedelta

    from plimsoll.code.history import History
    from plimsoll.code.record import Record

    history = History(repo.path)
    now = datetime.now(UTC)
    for i, age in enumerate(ages_days):
        history.append(
            Record(
                timestamp=now - timedelta(days=age, minutes=i),
                commit_sha=f"{i:07x}" + "a" * 33,
                metrics={"stats": {"totals": {"sloc": 100 + i}}},
            )
        )


def test_prune_compress_rotate_from_the_cli(project: GitRepo) -> None:
    _old_records(project, [1, 2, 40, 41, 42, 200, 201])
    before = project.git("rev-parse", "code-metrics")
    dry = json.loads(
        plimsoll(project.path, "code", "prune", "--dry-run", "--format", "json").stdout
    )
    assert dry["dry_run"] is True and dry["commit"] is None
    assert project.git("rev-parse", "code-metrics") == before  # a dry run writes nothing
    done = json.loads(plimsoll(project.path, "code", "prune", "--format", "json").stdout)
    assert sorted(done["deleted"]) == sorted(dry["deleted"]) and done["deleted"]
    remaining = [f for f in _branch_files(project) if f.startswith("history/")]
    assert len(remaining) == 7 - len(done["deleted"])
    compressed = json.loads(
        plimsoll(project.path, "code", "compress", "--older-than", "30", "--format", "json").stdout
    )["compressed"]
    assert compressed and all(c["to"].endswith(".json.gz") for c in compressed)
    # Compressed records are still read by every command.
    points = json.loads(
        plimsoll(project.path, "code", "trend", "stats.totals.sloc", "--format", "json").stdout
    )
    assert len(points) == len(remaining)
    rotated = json.loads(
        plimsoll(project.path, "code", "rotate", "--older-than", "100", "--format", "json").stdout
    )
    assert (
        len(rotated["deleted"]) == 1
    )  # one record a month is kept beyond 90 days: the 200-day one
    # Without --older-than and without retention.max_age_days there is nothing to rotate by.
    assert "max_age_days" in plimsoll(project.path, "code", "rotate", check=2).stderr


def test_rotate_without_a_maximum_age_is_a_usage_error(project: GitRepo) -> None:
    _old_records(project, [1])
    done = plimsoll(project.path, "code", "rotate", check=2)
    assert "max_age_days" in done.stderr


def test_migrate_rewrites_old_records(project: GitRepo) -> None:
    from plimsoll.code.history import History

    old = {
        "schema_version": "1.0",
        "timestamp": "2024-01-02T03:04:05Z",
        "commit_sha": "abc1234" * 5,
        "commit_message": "old",
        "python_version": "3.11.7",
        "workflow_status": "success",
        "metrics": {"stats": {"totals": {"sloc": 5}}},
        "collection_duration_seconds": 1.0,
    }
    History(project.path).commit(
        {"history/2024_01_02_03_04_05__abc1234__unknown.json": json.dumps(old).encode()},
        [],
        "add an umpyre record",
    )
    dry = json.loads(
        plimsoll(project.path, "code", "migrate", "--dry-run", "--format", "json").stdout
    )
    assert dry["dry_run"] is True
    plimsoll(project.path, "code", "migrate")
    shown = plimsoll(project.path, "code", "show", "abc1234").stdout  # a migrated umpyre record
    assert "abc1234abc" in shown and "stats" in shown
    stored = json.loads(
        project.git("show", "code-metrics:history/2024_01_02_03_04_05__abc1234__unknown.json")
    )
    assert stored["schema_version"] == "1.3"
    assert stored["metrics"] == old["metrics"]


def test_collectors_lists_keys_that_records_really_have(project: GitRepo) -> None:
    rows = json.loads(plimsoll(project.path, "code", "collectors", "--format", "json").stdout)
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) >= {"stats", "complexity", "pylint", "mypy", "bandit", "ruff", "coverage"}
    assert all(r["ready"] for r in rows)
    record = json.loads(
        plimsoll(project.path, "code", "collect", "--no-store", "--format", "json").stdout
    )["records"][0]
    for name, metrics in record["metrics"].items():
        assert set(by_name[name]["keys"]) <= set(metrics), name


def test_check_runs_the_code_gate(project: GitRepo) -> None:
    project.write(
        "pyproject.toml",
        _config("""
[[tool.plimsoll.code.thresholds]]
metric = "stats.totals.functions"
op = ">="
value = 5
action = "fail"
"""),
    )
    done = plimsoll(project.path, "check", "--format", "json", check=1)
    report = json.loads(done.stdout)
    assert report["gates"]["code"]["thresholds"]["counts"]["failed"] == 1
    assert report["exit_code"] == 1 and "db_lint" not in report["gates"]


def test_check_runs_the_db_lint_gate_when_there_is_a_db_folder(project: GitRepo) -> None:
    project.write("pyproject.toml", _config())
    project.write(
        "db/migrations/0001_index.up.sql", "CREATE INDEX orders_i ON orders (customer_id);\n"
    )
    done = plimsoll(project.path, "check", "--format", "json", check=1)
    report = json.loads(done.stdout)
    assert report["gates"]["code"]["thresholds"]["counts"]["failed"] == 0
    rules = {f["rule"] for f in report["gates"]["db_lint"]["findings"]}
    assert "require-concurrent-index-creation" in rules
    text = plimsoll(project.path, "check", check=1).stdout
    assert "== db lint ==" in text and "0001_index.up.sql:1:1" in text


def test_debug_and_json_logs(project: GitRepo) -> None:
    project.write("pyproject.toml", _config("colectors = []"))
    done = plimsoll(project.path, "--debug", "code", "collect", check=None)
    assert done.returncode != 0 and "Traceback" in done.stderr
    quiet = plimsoll(project.path, "--log-format", "json", "code", "history", check=2)
    assert "Traceback" not in quiet.stderr


DELTA = """
[[tool.plimsoll.code.thresholds]]
name = "no new functions"
metric = "stats.totals.functions"
op = "<="
value = 0
delta = true
action = "fail"
"""


def test_delta_compares_with_the_base_branch_record(git_repo: GitRepo) -> None:
    git_repo.commit("base", {"pyproject.toml": _config(DELTA), "src/demo/good.py": GOOD})
    first = json.loads(
        plimsoll(git_repo.path, "code", "collect", "--validate", "--format", "json").stdout
    )
    # No earlier record: the delta rule is skipped, not failed.
    assert first["thresholds"]["counts"]["skipped"] == 1
    assert first["thresholds"]["exit_code"] == 0
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.commit("one more", {"src/demo/more.py": GOOD})
    plimsoll(git_repo.path, "code", "collect", check=None)
    git_repo.commit("and another", {"src/demo/again.py": GOOD})
    # On the feature branch, the baseline is the record of main's commit (the merge base),
    # even though the feature's first commit has a record of its own in between.
    done = plimsoll(git_repo.path, "code", "collect", "--validate", "--format", "json", check=1)
    result = json.loads(done.stdout)["thresholds"]["results"][0]
    assert result["previous"] == 1 and result["current"] == 3 and result["actual"] == 2
    git_repo.git("checkout", "-q", "main")
    git_repo.commit("on main", {"src/demo/main_only.py": "X = 1\n"})
    same = json.loads(
        plimsoll(git_repo.path, "code", "collect", "--validate", "--format", "json").stdout
    )
    result = same["thresholds"]["results"][0]
    assert (result["previous"], result["current"], result["actual"]) == (1, 1, 0)


def test_tables_at_80_columns_cut_no_path_or_message(
    project: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CI logs and pipes are 80 columns wide: a record's file name, a value or a message
    # wraps whole instead of ending in an ellipsis.
    monkeypatch.setenv("COLUMNS", "80")
    plimsoll(project.path, "code", "collect")
    (path,) = [
        h["path"]
        for h in json.loads(plimsoll(project.path, "code", "history", "--format", "json").stdout)
    ]
    text = plimsoll(project.path, "code", "history").stdout
    assert "…" not in text
    flat = "".join(line.split("│")[-2].strip() for line in text.splitlines() if "│" in line)
    assert path in flat
    assert "…" not in plimsoll(project.path, "code", "show").stdout


def test_collect_in_a_monorepo_project(git_repo: GitRepo) -> None:
    """`paths` resolve from the folder of the configuration file, and the tools run there."""
    git_repo.commit(
        "monorepo",
        {
            "top.py": GOOD,
            "svc/pyproject.toml": '[project]\nname = "svc"\nversion = "3.1.0"\n\n'
            '[tool.plimsoll.code]\npaths = ["app"]\ncollectors = ["stats"]\n',
            "svc/app/__init__.py": "",
            "svc/app/good.py": GOOD,
        },
    )
    out = json.loads(plimsoll(git_repo.path / "svc", "code", "collect", "--format", "json").stdout)
    record = out["records"][0]
    assert record["collector_errors"] == {}
    assert sorted(record["metrics"]["stats"]["per_file"]) == ["app/__init__.py", "app/good.py"]
    assert record["package_version"] == "3.1.0"
    assert record["project_path"] == "svc"
    # The history branch is the repository's, the project's own: code-metrics-<folder>.
    assert "latest.json" in _branch_files(git_repo, "code-metrics-svc")
    # Backfill resolves the same way in its temporary worktree.
    git_repo.commit("more", {"svc/app/more.py": GOOD})
    done = plimsoll(
        git_repo.path / "svc", "code", "collect", "--rev", "HEAD~1..HEAD", "--format", "json"
    )
    backfilled = json.loads(done.stdout)["records"][0]
    assert backfilled["collector_errors"] == {}
    assert sorted(backfilled["metrics"]["stats"]["per_file"]) == [
        "app/__init__.py",
        "app/good.py",
        "app/more.py",
    ]


def test_backfill_validate_checks_the_range_s_newest_commit(project: GitRepo) -> None:
    gate = _config("""
[[tool.plimsoll.code.thresholds]]
metric = "stats.file_count"
op = "<="
value = 2
action = "fail"
""")
    project.commit("gate", {"pyproject.toml": gate})  # 2 files: passes
    project.commit("more", {"src/demo/m1.py": GOOD})  # 3 files: fails
    head = project.git("rev-parse", "HEAD")
    plimsoll(project.path, "code", "collect")  # HEAD's record, which fails the gate
    # HEAD already has a record: the backfill skips it, and still gates on it.
    done = plimsoll(
        project.path, "code", "collect", "--rev", "HEAD~2..HEAD", "--validate", "-f", "json",
        check=1,
    )  # fmt: skip
    out = json.loads(done.stdout)
    assert out["already_recorded"] == [head]
    assert [c["commit_sha"] for c in out["records"]] == [project.git("rev-parse", "HEAD~1")]
    assert out["thresholds"]["results"][0]["outcome"] == "failed"
