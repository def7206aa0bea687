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
