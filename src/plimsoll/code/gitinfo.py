"""What a record says about where it was collected: commit, message, branch, state, version."""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from plimsoll.code.gitplumbing import Git
from plimsoll.core.errors import GitError, NotARepositoryError


def git(root: Path, *args: str) -> str:
    """Run git in ``root``; return stdout stripped, raise GitError with git's own message."""
    return Git(root).run(*args).decode("utf-8", "replace").strip()


def _unchecked(root: Path, *args: str) -> tuple[int, str]:
    """Run git in ``root`` whatever its exit status: (exit code, stdout stripped)."""
    done = Git(root).run_unchecked(*args)
    return done.returncode, done.stdout.decode("utf-8", "replace").strip()


def repository_root(start: Path) -> Path:
    """The top of the work tree containing ``start``; NotARepositoryError outside one."""
    code, top = _unchecked(start, "rev-parse", "--show-toplevel")
    if code != 0:
        raise NotARepositoryError(
            f"{start} is not inside a git repository (plimsoll keeps code metrics on a git branch; "
            "run `git init` first)"
        )
    return Path(top)


@dataclass(frozen=True)
class CommitInfo:
    """The commit a collection describes and the state of the work tree at the time."""

    sha: str
    message: str
    branch: str | None
    detached: bool
    dirty: bool
    committed_at: str


def head_sha(root: Path) -> str | None:
    """The commit HEAD points at, or None (no commit yet)."""
    code, sha = _unchecked(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    return sha if code == 0 and sha else None


def commit_info(root: Path, rev: str = "HEAD", worktree: bool = True) -> CommitInfo:
    """Describe ``rev``; with ``worktree``, also whether the work tree is dirty and HEAD detached."""
    try:
        sha = git(root, "rev-parse", "--verify", f"{rev}^{{commit}}")
    except GitError:
        raise NotARepositoryError(
            f"{root}: no commit {rev!r} (a repository needs at least one commit to collect)"
        ) from None
    message = git(root, "log", "-1", "--format=%B", sha).strip()
    committed_at = git(root, "log", "-1", "--format=%cI", sha)
    branch: str | None = None
    detached = False
    dirty = False
    if worktree:
        branch = _unchecked(root, "symbolic-ref", "--quiet", "--short", "HEAD")[1] or None
        detached = branch is None
        dirty = bool(git(root, "status", "--porcelain", "--untracked-files=no"))
    return CommitInfo(sha, message, branch, detached, dirty, committed_at)


def untracked_files(root: Path, pathspecs: Sequence[str] = ()) -> set[str]:
    """Untracked files git does not ignore, relative to ``root`` (only ``pathspecs`` if given)."""
    done = Git(root).run_unchecked(
        "ls-files", "-z", "--others", "--exclude-standard", "--full-name", "--", *pathspecs
    )
    if done.returncode != 0:
        return set()
    return {n for n in done.stdout.decode("utf-8", "surrogateescape").split("\0") if n}


def with_untracked(info: CommitInfo, root: Path, analysed: Sequence[str]) -> CommitInfo:
    """``info``, marked dirty when an analysed file is untracked (so not part of the commit).

    ``git status --untracked-files=no`` sees only tracked changes, yet an untracked module
    under the analysed paths is measured as well, so the record would describe more than
    its commit while claiming a clean tree. Ignored files are never analysed.
    """
    if info.dirty or not analysed:
        return info
    # Only the kinds of file analysed are listed: an unignored node_modules or .venv holds
    # thousands of untracked files that do not matter here.
    kinds = sorted({f"*{PurePosixPath(p).suffix}" for p in analysed if PurePosixPath(p).suffix})
    untracked = untracked_files(root, kinds)
    if not untracked.isdisjoint(analysed):
        return replace(info, dirty=True)
    return info


_VERSION_LINE = re.compile(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", re.MULTILINE)


def package_version(root: Path) -> str | None:
    """The analysed project's version from pyproject.toml, setup.cfg or a ``__version__``."""
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
            data = {}
        version = data.get("project", {}).get("version") or data.get("tool", {}).get(
            "poetry", {}
        ).get("version")
        if isinstance(version, str):
            return version
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser()
        try:
            parser.read(setup_cfg, encoding="utf-8")
            version = parser.get("metadata", "version", fallback=None)
        except configparser.Error:
            version = None
        if version and not version.startswith("attr:"):
            return version
    for candidate in sorted(root.glob("src/*/__init__.py")) + sorted(root.glob("*/__init__.py")):
        try:
            match = _VERSION_LINE.search(candidate.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        if match:
            return match.group(1)
    return None


def is_shallow(root: Path) -> bool:
    """Whether the repository at ``root`` is a shallow clone (``git clone --depth N``)."""
    return _unchecked(root, "rev-parse", "--is-shallow-repository")[1] == "true"


def resolves(root: Path, rev: str) -> bool:
    """Whether ``rev`` names a commit in the repository at ``root``."""
    return _unchecked(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")[0] == 0


def merge_base(root: Path, a: str, b: str) -> str | None:
    """The best common ancestor of ``a`` and ``b``, or None when they share none or one is missing."""
    return _unchecked(root, "merge-base", a, b)[1] or None


def first_parent_history(root: Path, rev: str, limit: int = 500) -> list[str]:
    """Commits reachable from ``rev`` along first parents, newest first."""
    code, out = _unchecked(root, "rev-list", "--first-parent", f"--max-count={limit}", rev)
    return out.split() if code == 0 else []


def rev_range(root: Path, spec: str) -> list[str]:
    """Commits of a range ``A..B`` (or one revision), oldest first, parents before children.

    Every commit of ``git rev-list A..B``, those merged in from side branches included (as
    ``wily build`` and ``git log A..B`` see them), not only the first-parent line.
    """
    if ".." in spec:
        out = git(root, "rev-list", "--reverse", "--topo-order", spec)
    else:
        out = git(root, "rev-parse", "--verify", f"{spec}^{{commit}}")
    return out.split()
