"""Finds the Python files to analyse: configured paths, minus our excludes and tool folders.

Stub files (``.pyi``) are found the same way but kept apart: only the tools that read them
when given a folder (mypy, pylint, ruff) analyse them; line counts and the like do not.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from plimsoll.code.collectors.base import UNREADABLE, SourceFile
from plimsoll.code.gitplumbing import Git
from plimsoll.core.config import ALWAYS_EXCLUDED
from plimsoll.core.errors import ConfigError, ToolMissingError

SOURCE_SUFFIX = ".py"
STUB_SUFFIX = ".pyi"


@dataclass(frozen=True)
class Discovered:
    """The Python files and the stub files under the configured paths, relative and sorted."""

    sources: list[str]
    stubs: list[str]


def is_excluded(relpath: str, patterns: Sequence[str]) -> bool:
    """Whether ``relpath`` (posix, relative to the root) is excluded by a folder rule or a pattern."""
    parts = PurePosixPath(relpath).parts
    if any(part in ALWAYS_EXCLUDED or part.endswith(".egg-info") for part in parts[:-1]):
        return True
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatchcase(relpath, pattern) or fnmatch.fnmatchcase(relpath, pattern + "/*"):
            return True
        # A bare name such as "migrations" excludes that folder wherever it is.
        if "/" not in pattern and any(fnmatch.fnmatchcase(p, pattern) for p in parts):
            return True
    return False


def _git_listing(root: Path) -> list[str] | None:
    """Tracked and untracked-but-not-ignored files under ``root``, or None outside git."""
    try:
        done = Git(root).run_unchecked(
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            f"*{SOURCE_SUFFIX}",
            f"*{STUB_SUFFIX}",
        )
    except ToolMissingError:
        return None
    if done.returncode != 0:
        return None
    names = [n for n in done.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
    # ls-files lists deleted-but-tracked files too; only what exists can be analysed.
    return [n for n in names if (root / n).is_file()]


def _walk(root: Path) -> Iterable[str]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs if d not in ALWAYS_EXCLUDED and not d.endswith(".egg-info")
        )
        rel = Path(folder).relative_to(root)
        for name in sorted(files):
            if name.endswith((SOURCE_SUFFIX, STUB_SUFFIX)):
                yield (rel / name).as_posix()


def discover(root: Path, paths: Sequence[str], exclude: Sequence[str]) -> list[str]:
    """Relative posix paths of the Python files under ``paths`` of ``root``, sorted."""
    return discover_files(root, paths, exclude).sources


def discover_files(root: Path, paths: Sequence[str], exclude: Sequence[str]) -> Discovered:
    """The Python files and stub files under ``paths`` of ``root`` (relative to it), minus excludes.

    ``paths`` are relative to ``root``, the folder of the configuration file.
    """
    listing = _git_listing(root)
    candidates = listing if listing is not None else list(_walk(root))
    prefixes: list[str] = []
    for entry in paths:
        target = (root / entry).resolve()
        if not target.exists():
            raise ConfigError(f"code.paths: {entry!r} does not exist under {root}")
        try:
            rel = target.relative_to(root.resolve()).as_posix()
        except ValueError:
            raise ConfigError(f"code.paths: {entry!r} is outside {root}") from None
        prefixes.append("" if rel == "." else rel)
    chosen = sorted(
        c
        for c in set(candidates)
        if any(p == "" or c == p or c.startswith(p + "/") for p in prefixes)
        and not is_excluded(c, exclude)
    )
    return Discovered(
        sources=[c for c in chosen if c.endswith(SOURCE_SUFFIX)],
        stubs=[c for c in chosen if c.endswith(STUB_SUFFIX)],
    )


def content_hash(data: bytes) -> str:
    """The content hash per-file results are cached under."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def source_files(root: Path, relpaths: Iterable[str]) -> tuple[SourceFile, ...]:
    """Hash each file's content.

    A file that cannot be read (no permission) is kept, with no hash: every collector then
    reports it as skipped ("cannot read: Permission denied") rather than leave it out
    silently.
    """
    out = []
    for rel in relpaths:
        try:
            data = (root / rel).read_bytes()
        except OSError:
            out.append(SourceFile(rel, UNREADABLE))
            continue
        out.append(SourceFile(rel, content_hash(data)))
    return tuple(out)
