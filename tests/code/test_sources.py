"""File discovery: configured paths, our excludes, tool folders never scanned, .gitignore honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.code import collect, gitinfo, sources
from plimsoll.core.config import load
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


def test_stubs_are_found_apart_from_sources(tmp_path: Path) -> None:
    _layout(tmp_path)
    (tmp_path / "src/pkg/core.pyi").write_text("x: int\n")
    (tmp_path / "src/pkg/migrations/0001.pyi").write_text("x: int\n")
    (tmp_path / ".venv/lib/site.pyi").write_text("x: int\n")
    found = sources.discover_files(tmp_path, ["src"], ["migrations"])
    assert found.sources == ["src/pkg/__init__.py", "src/pkg/core.py"]
    assert found.stubs == ["src/pkg/core.pyi"]


def test_a_path_outside_the_project_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "other").mkdir()
    with pytest.raises(ConfigError, match=r"code.paths: '\.\./other' is outside"):
        sources.discover(tmp_path / "project", ["../other"], [])


# --- a project in a subfolder of its repository (a monorepo) ----------------------------------


def _monorepo(repo: GitRepo) -> Path:
    repo.commit(
        "monorepo",
        {
            "top.py": "x = 1\n",
            "svc/pyproject.toml": '[project]\nname = "svc"\nversion = "2.0.0"\n\n'
            '[tool.plimsoll.code]\npaths = ["app"]\ncollectors = ["stats"]\n',
            "svc/app/__init__.py": "",
            "svc/app/m.py": "def f():\n    return 1\n",
            "svc/app/m.pyi": "def f() -> int: ...\n",
            "svc/tools/t.py": "y = 2\n",
        },
    )
    return repo.path / "svc" / "pyproject.toml"


def test_project_base_is_the_config_files_folder(git_repo: GitRepo, tmp_path: Path) -> None:
    config_file = _monorepo(git_repo)
    assert collect.project_base(git_repo.path, config_file) == "svc"
    assert collect.project_base(git_repo.path, git_repo.path / "pyproject.toml") == "."
    assert collect.project_base(git_repo.path, None) == "."
    assert collect.project_base(git_repo.path, tmp_path / "elsewhere" / "plimsoll.toml") == "."


def test_paths_resolve_from_the_config_files_folder(git_repo: GitRepo) -> None:
    """`paths = ["app"]` in svc/pyproject.toml names svc/app, not <root>/app."""
    config_file = _monorepo(git_repo)
    loaded = load(path=config_file)
    with pytest.raises(ConfigError, match="'app' does not exist"):
        # What `plimsoll code collect -C svc` did: the paths resolved from the repository's top.
        sources.discover(git_repo.path, loaded.config.code.paths, [])
    base = collect.project_base(git_repo.path, loaded.source)
    info = gitinfo.commit_info(git_repo.path)
    collection = collect.collect_tree(git_repo.path, loaded.config.code, info, base=base)
    stats = collection.record.metrics["stats"]
    # Per-file keys are relative to the project's folder, the tools' working directory.
    assert sorted(stats["per_file"]) == ["app/__init__.py", "app/m.py"]
    assert collection.files == 1 + 1
    assert collection.record.package_version == "2.0.0"
