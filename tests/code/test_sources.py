"""File discovery: configured paths, our excludes, tool folders never scanned, .gitignore honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.code import sources
from plimsoll.core.errors import ConfigError
from tests.support.gitrepo import GitRepo


def _layout(root: Path) -> None:
    for rel in [
        "src/pkg/__init__.py",
        "src/pkg/core.py",
        "src/pkg/migrations/0001.py",
        "tests/test_core.py",
        ".venv/lib/site.py",
        "build/lib/pkg/core.py",
        "node_modules/x/y.py",
        "pkg.egg-info/z.py",
        "docs/conf.py",
        "README.md",
    ]:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("x = 1\n")


def test_walk_outside_git_skips_tool_folders(tmp_path: Path) -> None:
    _layout(tmp_path)
    found = sources.discover(tmp_path, ["."], [])
    assert found == [
        "docs/conf.py",
        "src/pkg/__init__.py",
        "src/pkg/core.py",
        "src/pkg/migrations/0001.py",
        "tests/test_core.py",
    ]


def test_paths_and_excludes(tmp_path: Path) -> None:
    _layout(tmp_path)
    assert sources.discover(tmp_path, ["src"], ["migrations"]) == [
        "src/pkg/__init__.py",
        "src/pkg/core.py",
    ]
    assert sources.discover(tmp_path, ["src", "tests"], ["tests/*", "*/core.py"]) == [
        "src/pkg/__init__.py",
        "src/pkg/migrations/0001.py",
    ]


def test_gitignore_is_honoured_and_untracked_files_count(git_repo: GitRepo) -> None:
    _layout(git_repo.path)
    git_repo.write(".gitignore", "docs/\n")
    git_repo.commit("initial")
    git_repo.write("src/pkg/new.py", "y = 2\n")  # untracked but not ignored
    found = sources.discover(git_repo.path, ["."], [])
    assert "docs/conf.py" not in found
    assert "src/pkg/new.py" in found
    assert not any(p.startswith((".venv", "build", "node_modules")) for p in found)


def test_missing_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="code.paths: 'nope' does not exist"):
        sources.discover(tmp_path, ["nope"], [])


def test_hash_follows_content(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a = 1\n")
    (tmp_path / "b.py").write_text("a = 1\n")
    (tmp_path / "c.py").write_text("a = 2\n")
    files = sources.source_files(tmp_path, ["a.py", "b.py", "c.py"])
    assert files[0].sha == files[1].sha != files[2].sha
