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


# How to get the commits a shallow clone lacks, as every message about one says it.
UNSHALLOW = "`git fetch --unshallow` (in GitHub Actions: actions/checkout with fetch-depth: 0)"


def shallow_hint(root: Path) -> str:
    """``"; this clone is shallow ..."`` with the fix, for an error about a missing commit, or ""."""
    if not is_shallow(root):
        return ""
    return f"; this clone is shallow, so older commits are not here: fetch them with {UNSHALLOW}"


def recorded_parents(root: Path, sha: str) -> list[str]:
    """The parents written in commit ``sha`` itself, first parent first.

    In a shallow clone git treats a commit at the edge as having no parents (``sha~1`` does
    not resolve), yet the commit object still names them: a record of one of them can be
    found by its sha without the parent being here.
    """
    code, text = _unchecked(root, "cat-file", "commit", sha)
    if code != 0:
        return []
    parents = []
    for line in text.splitlines():
        if not line:
            break  # the headers end at the first blank line; the message follows
        key, _, value = line.partition(" ")
        if key == "parent":
            parents.append(value.strip())
    return parents


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


def range_tip(spec: str) -> str:
    """The revision a range ends at: ``B`` of ``A..B`` or ``A...B``, ``HEAD`` for ``A..``."""
    for separator in ("...", ".."):
        if separator in spec:
            return spec.split(separator, 1)[1] or "HEAD"
    return spec


def branch_named(root: Path, rev: str) -> str | None:
    """The branch ``rev`` names: ``main`` for ``main``, ``origin/main``, or ``HEAD`` on main.

    None for anything else (a sha, a tag, a detached HEAD, ``main~2``): the commits of a
    range given from a branch belong to that branch, as a collect on it would record them.
    """
    code, full = _unchecked(root, "rev-parse", "--symbolic-full-name", rev)
    full = full.strip()
    if code != 0 or not full:
        return None
    if full.startswith("refs/heads/"):
        return full.removeprefix("refs/heads/")
    if full.startswith("refs/remotes/"):
        # refs/remotes/<remote>/<branch>: the branch as the remote calls it.
        _, _, branch = full.removeprefix("refs/remotes/").partition("/")
        return branch if branch and branch != "HEAD" else None
    return None


def first_parent_line(root: Path, spec: str) -> set[str]:
    """The commits of ``spec`` (``A..B``) on the first-parent line of ``B``.

    Those were made on ``B``'s branch; the others came in from side branches merged into it.
    """
    code, out = _unchecked(root, "rev-list", "--first-parent", spec)
    return set(out.split()) if code == 0 else set()


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
