"""Projects of one monorepo keep their own history; a branch is never read as another's."""

from __future__ import annotations

import json
import subprocess

from tests.cli.test_code_cli import plimsoll
from tests.support.gitrepo import GitRepo


def _git(repo: GitRepo, text: str, *args: str) -> str:
    """Run git in ``repo`` with ``text`` on its stdin; its stdout, stripped."""
    done = subprocess.run(
        ["git", *args], cwd=repo.path, input=text, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _config(name: str, branch: str = "") -> str:
    return (
        f'[project]\nname = "{name}"\nversion = "1.0.0"\n\n'
        f'[tool.plimsoll.code]\npaths = ["src"]\ncollectors = ["stats"]\n{branch}'
    )


def _module(functions: int) -> str:
    return "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(functions))


def _monorepo(repo: GitRepo, branch: str = "") -> None:
    repo.commit(
        "two projects",
        {
            "pa/pyproject.toml": _config("pa", branch),
            "pa/src/a.py": _module(1),
            "services/pb/pyproject.toml": _config("pb", branch),
            "services/pb/src/b.py": _module(3),
        },
    )


def test_each_project_has_its_own_branch_and_history(git_repo: GitRepo) -> None:
    _monorepo(git_repo)
    pa, pb = git_repo.path / "pa", git_repo.path / "services" / "pb"
    out_a = json.loads(plimsoll(pa, "code", "collect", "-f", "json").stdout)
    out_b = json.loads(plimsoll(pb, "code", "collect", "-f", "json").stdout)
    assert out_a["records"][0]["project_path"] == "pa"
    assert out_b["records"][0]["project_path"] == "services/pb"
    branches = git_repo.git("branch", "--list", "--format=%(refname:short)").split()
    assert {"code-metrics-pa", "code-metrics-services-pb"} <= set(branches)
    assert "code-metrics" not in branches
    trend = json.loads(plimsoll(pa, "code", "trend", "stats.totals.functions", "-f", "json").stdout)
    assert [p["value"] for p in trend] == [1]
    shown = json.loads(plimsoll(pa, "code", "show", "-f", "json").stdout)
    assert shown["metrics"]["stats"]["totals"]["functions"] == 1
    assert shown["project_path"] == "pa"
    shown_b = json.loads(plimsoll(pb, "code", "show", "-f", "json").stdout)
    assert shown_b["metrics"]["stats"]["totals"]["functions"] == 3
    listed = plimsoll(pb, "code", "history")
    assert "history on code-metrics-services-pb" in listed.stdout


def test_a_branch_shared_on_purpose_refuses_another_projects_records(git_repo: GitRepo) -> None:
    _monorepo(git_repo, 'branch = "code-metrics"\n')
    pa, pb = git_repo.path / "pa", git_repo.path / "services" / "pb"
    plimsoll(pa, "code", "collect")
    for args in (("collect",), ("show",), ("trend", "stats.file_count")):
        done = plimsoll(pb, "code", *args, check=2)
        assert "code.branch: branch 'code-metrics' holds the records of the project" in done.stderr
        assert "'pa'" in done.stderr and "'services/pb'" in done.stderr
        assert "Traceback" not in done.stderr
    # Nothing of pb was written there.
    assert len(git_repo.git("ls-tree", "--name-only", "code-metrics", "history/").split()) == 1


def test_an_unset_branch_stays_on_the_shared_history_of_earlier_versions(
    git_repo: GitRepo,
) -> None:
    _monorepo(git_repo, 'branch = "code-metrics"\n')
    pa, pb = git_repo.path / "pa", git_repo.path / "services" / "pb"
    plimsoll(pa, "code", "collect")
    git_repo.commit(
        "default branch",
        {"pa/pyproject.toml": _config("pa"), "services/pb/pyproject.toml": _config("pb")},
    )
    note = "warning: history stays on code-metrics; set code.branch to choose"
    for _ in range(2):
        done = plimsoll(pa, "code", "collect")
        # Said once per command, and every time: the history is still on the shared branch.
        warnings = [ln for ln in done.stderr.splitlines() if ln.startswith("warning:")]
        assert len(warnings) == 1 and warnings[0].startswith(note)
        assert "'code-metrics-pa'" in warnings[0]
        assert "on branch code-metrics" in done.stdout and "code-metrics-pa" not in done.stdout
    branches = git_repo.git("branch", "--list", "--format=%(refname:short)").split()
    assert "code-metrics" in branches and "code-metrics-pa" not in branches
    stored = git_repo.git("ls-tree", "--name-only", "code-metrics", "history/").split()
    assert len(stored) == 3
    trend = json.loads(plimsoll(pa, "code", "trend", "stats.totals.functions", "-f", "json").stdout)
    assert [p["value"] for p in trend] == [1, 1, 1]
    # pb falls back to the same branch, whose newest record is pa's: refused, nothing written.
    refused = plimsoll(pb, "code", "collect", check=2)
    assert "code.branch: branch 'code-metrics' holds the records of the project" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(git_repo.git("ls-tree", "--name-only", "code-metrics", "history/").split()) == 3
    # Once the project's own branch exists, it is the one used, and nothing more is said.
    git_repo.commit(
        "own branch", {"pa/pyproject.toml": _config("pa", 'branch = "code-metrics-pa"\n')}
    )
    plimsoll(pa, "code", "collect")
    git_repo.commit("unset again", {"pa/pyproject.toml": _config("pa")})
    again = plimsoll(pa, "code", "collect")
    assert "warning:" not in again.stderr
    assert "on branch code-metrics-pa" in again.stdout
    assert len(git_repo.git("ls-tree", "--name-only", "code-metrics-pa", "history/").split()) == 2


def test_records_of_older_versions_belong_to_no_project_and_are_read(git_repo: GitRepo) -> None:
    _monorepo(git_repo, 'branch = "code-metrics"\n')
    pa, pb = git_repo.path / "pa", git_repo.path / "services" / "pb"
    plimsoll(pa, "code", "collect")
    # Make the record look like one written before 1.3 (no project_path): migrated, unknown.
    doc = json.loads(git_repo.git("show", "code-metrics:latest.json"))
    doc["schema_version"] = "1.2"
    del doc["project_path"]
    blob = _git(git_repo, json.dumps(doc), "hash-object", "-w", "--stdin")
    path = git_repo.git("ls-tree", "--name-only", "code-metrics", "history/")
    tree = _git(git_repo, f"100644 blob {blob}\t{path.split('/')[-1]}\n", "mktree")
    top = _git(git_repo, f"040000 tree {tree}\thistory\n", "mktree")
    commit = git_repo.git("commit-tree", top, "-m", "old record")
    git_repo.git("update-ref", "refs/heads/code-metrics", commit)
    shown = json.loads(plimsoll(pb, "code", "show", "-f", "json").stdout)
    assert shown["project_path"] is None and shown["schema_version"] == "1.3"
