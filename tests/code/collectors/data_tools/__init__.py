"""Shared material for the tool collectors' tests: a small sample project and captured tool output.

``sample/`` is a real little project (a package with known issues, its tests and tool settings
in ``pyproject.toml``), stored with a ``.txt`` suffix on every file so that neither this
repository's pytest, ruff and mypy runs nor plimsoll's own analysis pick its deliberate
issues up; ``captured/`` holds the real output of each tool run on it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from plimsoll.code.collectors.base import CollectContext, SourceFile
from plimsoll.core.config import CodeConfig

HERE = Path(__file__).parent
SAMPLE = HERE / "sample"
CAPTURED = HERE / "captured"


def make_project(tmp_path: Path) -> Path:
    """Copy the sample project into ``tmp_path`` and return its root."""
    root = tmp_path / "sample"
    for stored in SAMPLE.rglob("*.txt"):
        target = root / stored.relative_to(SAMPLE).with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stored, target)
    return root


def python_files(root: Path) -> list[str]:
    """The project's Python files, relative to the root, in order."""
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*.py") if ".plimsoll" not in p.parts
    )


def context_for(
    root: Path, paths: list[str] | None = None, config: CodeConfig | None = None, cache: Any = None
) -> CollectContext:
    """A collect context over ``paths`` (default: every Python file) with content hashes."""
    chosen = python_files(root) if paths is None else paths
    files = tuple(
        SourceFile(p, hashlib.sha256((root / p).read_bytes()).hexdigest()) for p in chosen
    )
    if cache is None:
        return CollectContext(root, files, config or CodeConfig())
    return CollectContext(root, files, config or CodeConfig(), cache)


def discovered_context(
    root: Path, config: CodeConfig | None = None, cache: Any = None
) -> CollectContext:
    """The collect context plimsoll itself builds for ``root``: its discovery, files and stubs."""
    from plimsoll.code import sources

    config = config or CodeConfig()
    found = sources.discover_files(root, config.paths, config.exclude)
    return CollectContext(
        root,
        sources.source_files(root, found.sources),
        config,
        cache if cache is not None else DictCache(),
        stubs=sources.source_files(root, found.stubs),
    )


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) under ``root`` and return it."""
    for relpath, text in files.items():
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m <args>`` in ``root`` the way a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=root, capture_output=True, text=True, check=False
    )


class DictCache:
    """An in-memory per-file cache that counts its hits."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], dict[str, Any]] = {}
        self.hits = 0

    def get(self, key: str, sha: str) -> dict[str, Any] | None:
        """The stored value, or None."""
        value = self.values.get((key, sha))
        if value is not None:
            self.hits += 1
        return value

    def put(self, key: str, sha: str, value: dict[str, Any]) -> None:
        """Store a value."""
        self.values[(key, sha)] = value
