"""Commit, branch and work-tree state read from a real repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.code import gitinfo
from plimsoll.core.errors import NotARepositoryError
from tests.support.gitrepo import GitRepo


def test_outside_a_repository(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError, match="not inside a git repository"):
        gitinfo.repository_root(tmp_path)


def test_repository_without_commits(git_repo: GitRepo) -> None:
    with pytest.raises(NotARepositoryError, match="needs at least one commit"):
        gitinfo.commit_info(git_repo.path)


def test_clean_dirty_and_detached(git_repo: GitRepo) -> None:
    first = git_repo.commit("first\n\nbody", {"a.py": "a = 1\n"})
    info = gitinfo.commit_info(git_repo.path)
    assert (info.sha, info.branch, info.dirty, info.detached) == (first, "main", False, False)
    assert info.message == "first\n\nbody"
    git_repo.write("a.py", "a = 2\n")
    assert gitinfo.commit_info(git_repo.path).dirty is True
    git_repo.git("stash")
    second = git_repo.commit("second")
    git_repo.git("checkout", "-q", "--detach", first)
    info = gitinfo.commit_info(git_repo.path)
    assert (info.sha, info.branch, info.detached) == (first, None, True)
    assert gitinfo.rev_range(git_repo.path, f"{first}..{second}") == [second]


def test_package_version_sources(tmp_path: Path) -> None:
    assert gitinfo.package_version(tmp_path) is None
    (tmp_path / "setup.cfg").write_text("[metadata]\nversion = 2.0.1\n")
    assert gitinfo.package_version(tmp_path) == "2.0.1"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "3.1"\n')
    assert gitinfo.package_version(tmp_path) == "3.1"
    other = tmp_path / "o"
    (other / "src" / "pkg").mkdir(parents=True)
    (other / "src" / "pkg" / "__init__.py").write_text('__version__ = "0.9"\n')
    assert gitinfo.package_version(other) == "0.9"


def test_untracked_analysed_file_makes_the_tree_dirty(git_repo: GitRepo) -> None:
    git_repo.commit("first", {"pkg/a.py": "a = 1\n", ".gitignore": "pkg/ignored.py\n"})
    info = gitinfo.commit_info(git_repo.path)
    assert info.dirty is False
    git_repo.write("pkg/ignored.py", "x = 1\n")  # ignored: neither analysed nor dirty
    git_repo.write("notes.txt", "not analysed\n")
    assert gitinfo.untracked_files(git_repo.path) == {"notes.txt"}
    assert gitinfo.with_untracked(info, git_repo.path, ["pkg/a.py"]).dirty is False
    git_repo.write("pkg/new.py", "b = 2\n")
    assert gitinfo.untracked_files(git_repo.path) == {"notes.txt", "pkg/new.py"}
    assert gitinfo.untracked_files(git_repo.path, ["*.py"]) == {"pkg/new.py"}
    # git status agrees about which files are untracked.
    status = git_repo.git("status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(line[3:] for line in status if line.startswith("??")) == [
        "notes.txt",
        "pkg/new.py",
    ]
    assert gitinfo.with_untracked(info, git_repo.path, ["pkg/a.py", "pkg/new.py"]).dirty is True


def test_head_sha(git_repo: GitRepo) -> None:
    assert gitinfo.head_sha(git_repo.path) is None
    sha = git_repo.commit("first")
    assert gitinfo.head_sha(git_repo.path) == sha


def test_rev_range_includes_commits_merged_from_side_branches(git_repo: GitRepo) -> None:
    base = git_repo.commit("base", {"a.py": "a = 1\n"})
    git_repo.git("checkout", "-q", "-b", "side")
    side = [git_repo.commit(f"side {i}", {f"s{i}.py": "s = 1\n"}) for i in range(2)]
    git_repo.git("checkout", "-q", "main")
    main = git_repo.commit("main", {"m.py": "m = 1\n"})
    git_repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    merge = git_repo.git("rev-parse", "HEAD")
    got = gitinfo.rev_range(git_repo.path, f"{base}..{merge}")
    # Every commit of `git rev-list A..B`, oldest first (parents before children).
    assert sorted(got) == sorted(git_repo.git("rev-list", f"{base}..{merge}").split())
    assert set(got) == {*side, main, merge}
    assert got.index(side[0]) < got.index(side[1]) < got.index(merge)
    assert got.index(main) < got.index(merge) and got[-1] == merge


def test_a_shallow_commit_still_names_its_parents(git_repo: GitRepo, tmp_path: Path) -> None:
    first = git_repo.commit("first", {"a.py": "a = 1\n"})
    git_repo.git("checkout", "-q", "-b", "side")
    side = git_repo.commit("side", {"b.py": "b = 1\n"})
    git_repo.git("checkout", "-q", "main")
    second = git_repo.commit("second", {"a.py": "a = 2\n"})
    git_repo.git("merge", "-q", "--no-ff", "side", "-m", "merge")
    clone = tmp_path / "shallow"
    git_repo.git("clone", "-q", "--depth", "1", f"file://{git_repo.path}", str(clone))
    assert gitinfo.is_shallow(clone) and not gitinfo.is_shallow(git_repo.path)
    assert not gitinfo.resolves(clone, "HEAD~1")  # git sees no parent here...
    # ...yet the commit names them, in order, as they are in the full repository.
    head = gitinfo.head_sha(clone)
    assert head is not None
    assert gitinfo.recorded_parents(clone, head) == [second, side]
    assert gitinfo.recorded_parents(git_repo.path, first) == []
    assert "this clone is shallow" in gitinfo.shallow_hint(clone)
    assert gitinfo.shallow_hint(git_repo.path) == ""


def test_the_branch_a_range_is_given_from(git_repo: GitRepo) -> None:
    first = git_repo.commit("first", {"a.py": "a = 1\n"})
    git_repo.git("checkout", "-q", "-b", "side")
    side = git_repo.commit("side", {"b.py": "b = 1\n"})
    git_repo.git("checkout", "-q", "main")
    second = git_repo.commit("second", {"a.py": "a = 2\n"})
    git_repo.git("merge", "-q", "--no-ff", "side", "-m", "merge")
    merge = git_repo.git("rev-parse", "HEAD")
    git_repo.git("update-ref", "refs/remotes/origin/main", merge)
    git_repo.git("tag", "v1", first)
    assert [gitinfo.range_tip(s) for s in ("a..b", "a...b", "a..", "b")] == ["b", "b", "HEAD", "b"]
    root = git_repo.path
    names = ["main", "origin/main", "HEAD", "side", "v1", first, "main~1"]
    assert [gitinfo.branch_named(root, n) for n in names] == [
        "main",
        "main",
        "main",
        "side",
        None,
        None,
        None,
    ]
    git_repo.git("checkout", "-q", "--detach", "HEAD")
    assert gitinfo.branch_named(root, "HEAD") is None
    # The side branch's commit came in by the merge: not on main's first-parent line.
    assert gitinfo.first_parent_line(root, f"{first}..main") == {second, merge}
    assert side in gitinfo.rev_range(root, f"{first}..main")
