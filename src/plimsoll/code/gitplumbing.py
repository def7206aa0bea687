"""A thin wrapper over the ``git`` command line's plumbing, for writing history without a work tree.

Everything here reads or writes objects and refs only: no command touches the work tree, the
index or ``HEAD``, which is what lets the metrics history live in the project's own
repository while a developer (or CI job) has uncommitted changes checked out.

A failing command raises :class:`~plimsoll.core.errors.GitError` with one line: the git
subcommand and the first line git printed on stderr.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from plimsoll.core.errors import GitError, NotARepositoryError, ToolMissingError

# Below this many blobs, one ``hash-object`` per blob is cheaper than starting fast-import
# and reading back its marks file.
_FAST_IMPORT_MIN_BLOBS = 8

# Reasons a remote gives for refusing a ref update because another push got there first.
_REMOTE_RACE_HINTS = (
    "cannot lock ref",
    "already exists",
    "incorrect old value",
    "failed to lock",
    "failed to update ref",
)

# Reasons a local ref update fails because another git process updates the same ref at the
# same moment (two fetches into one clone): transient, so tried again.
_LOCAL_RACE_HINTS = ("cannot lock ref", "Unable to create", "unable to update local ref")
FETCH_ATTEMPTS = 5

# Identity used for history commits only when git has none configured (a bare CI container):
# refusing to record metrics because user.email is unset would be the wrong failure.
_FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "plimsoll",
    "GIT_AUTHOR_EMAIL": "plimsoll@localhost",
    "GIT_COMMITTER_NAME": "plimsoll",
    "GIT_COMMITTER_EMAIL": "plimsoll@localhost",
}


@dataclass(frozen=True)
class TreeEntry:
    """One line of ``git ls-tree`` / ``git mktree``: mode, object type, object id and path."""

    mode: str
    type: str
    sha: str
    path: str


class PushOutcome(StrEnum):
    """What a push did to the remote ref."""

    PUSHED = "pushed"
    UP_TO_DATE = "up-to-date"
    REJECTED = "rejected"


def _is_object_id(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def _first_line(data: bytes) -> str:
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line:
            return line
    return "no message"


class Git:
    """Runs git plumbing commands in one repository (``cwd`` = ``repo``)."""

    def __init__(self, repo: Path, env: Mapping[str, str] | None = None) -> None:
        self.repo = Path(repo)
        self._env = dict(env) if env is not None else None
        self._identity_env: dict[str, str] | None = None

    @classmethod
    def open(cls, path: Path) -> Git:
        """Open the repository at ``path``; NotARepositoryError if there is none."""
        path = Path(path)
        if not path.is_dir():
            raise NotARepositoryError(f"{path} is not a directory, so not a git repository")
        git = cls(path)
        done = git.run_unchecked("rev-parse", "--git-dir")
        if done.returncode != 0:
            raise NotARepositoryError(f"{path} is not inside a git repository")
        return git

    # -- running --------------------------------------------------------------------------

    def _environ(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        env = dict(os.environ if self._env is None else self._env)
        # Never wait for a password prompt: a fetch or push in CI must fail, not hang.
        env["GIT_TERMINAL_PROMPT"] = "0"
        if extra:
            env.update(extra)
        return env

    def run_unchecked(
        self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``git <args>`` and return the finished process whatever its exit status."""
        try:
            return subprocess.run(
                ["git", *args],
                cwd=self.repo,
                input=input,
                capture_output=True,
                env=self._environ(env),
                check=False,
            )
        except FileNotFoundError as exc:
            raise ToolMissingError("git is not installed (or not on PATH)") from exc

    def run(
        self, *args: str, input: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> bytes:
        """Run ``git <args>`` and return its stdout; GitError (one line) if it fails."""
        done = self.run_unchecked(*args, input=input, env=env)
        if done.returncode != 0:
            raise GitError(f"git {args[0]} failed: {_first_line(done.stderr or done.stdout)}")
        return done.stdout

    # -- refs -----------------------------------------------------------------------------

    def rev_parse(self, rev: str) -> str | None:
        """The object id ``rev`` names, or None if it does not exist."""
        done = self.run_unchecked("rev-parse", "--verify", "--quiet", "--end-of-options", rev)
        if done.returncode != 0:
            return None
        return done.stdout.decode().strip() or None

    def zero_oid(self) -> str:
        """The all-zeros object id of this repository's hash (40 for SHA-1, 64 for SHA-256)."""
        fmt = self.run_unchecked("rev-parse", "--show-object-format")
        length = 64 if fmt.returncode == 0 and fmt.stdout.strip() == b"sha256" else 40
        return "0" * length

    def update_ref(self, ref: str, new: str, old: str | None, message: str = "plimsoll") -> bool:
        """Set ``ref`` to ``new`` only if it is still ``old`` (None: must not exist yet).

        Returns False when another writer moved the ref first (the compare-and-swap lost),
        so the caller can rebuild on the new tip; raises GitError for any other failure.
        """
        expected = old if old is not None else "0" * len(new)
        done = self.run_unchecked("update-ref", "-m", message, ref, new, expected)
        if done.returncode == 0:
            return True
        stderr = done.stderr.decode("utf-8", "replace")
        # Another writer holding the ref's lock file is the same race seen a moment earlier.
        if self.rev_parse(ref) != old or ".lock" in stderr:
            return False
        raise GitError(f"git update-ref failed: {_first_line(done.stderr)}")

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two commits, or None if they share no history."""
        done = self.run_unchecked("merge-base", a, b)
        if done.returncode != 0:
            return None
        return done.stdout.decode().strip() or None

    def has_commit(self, sha: str) -> bool:
        """Whether commit ``sha`` is in this repository's object store."""
        return self.run_unchecked("cat-file", "-e", f"{sha}^{{commit}}").returncode == 0

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant`` (a commit is its own ancestor)."""
        done = self.run_unchecked("merge-base", "--is-ancestor", ancestor, descendant)
        if done.returncode in (0, 1):
            return done.returncode == 0
        raise GitError(f"git merge-base failed: {_first_line(done.stderr)}")

    def worktree_branches(self) -> dict[str, Path]:
        """The branches checked out in this repository's worktrees: full ref name -> folder.

        One ``git worktree list --porcelain -z``, which covers the main work tree and every
        linked one; a bare repository's entry names no branch.
        """
        done = self.run_unchecked("worktree", "list", "--porcelain", "-z")
        if done.returncode != 0:
            return {}
        found: dict[str, Path] = {}
        folder: Path | None = None
        for field in done.stdout.decode("utf-8", "surrogateescape").split("\0"):
            key, _, value = field.partition(" ")
            if key == "worktree":
                folder = Path(value)
            elif key == "branch" and folder is not None:
                found.setdefault(value, folder)
        return found

    def topological_order(self, shas: Iterable[str], since: int) -> list[str]:
        """``shas`` that exist here, parents before children (commits older than ``since`` unwalked).

        One ``rev-list --topo-order``: ``since`` (a Unix time) bounds the walk to recent
        commits, so ordering a handful of commits of the same second stays cheap in a long
        history. Commits missing from this clone are left out; nothing is raised.
        """
        wanted = [s for s in dict.fromkeys(shas) if _is_object_id(s)]
        if not wanted:
            return []
        done = self.run_unchecked(
            "rev-list",
            "--topo-order",
            "--reverse",
            "--ignore-missing",
            f"--max-age={since}",
            *wanted,
        )
        if done.returncode != 0:
            return []
        chosen = set(wanted)
        return [s for s in done.stdout.decode().split() if s in chosen]

    def check_branch_name(self, branch: str) -> bool:
        """Whether ``branch`` is a valid branch name (``check-ref-format``)."""
        return self.run_unchecked("check-ref-format", f"refs/heads/{branch}").returncode == 0

    # -- objects --------------------------------------------------------------------------

    def hash_object(self, data: bytes) -> str:
        """Write ``data`` as a blob and return its id (``hash-object -w --stdin``)."""
        return self.run("hash-object", "-w", "--stdin", input=data).decode().strip()

    def write_blobs(self, blobs: Sequence[bytes]) -> list[str]:
        """Write many blobs and return their ids in order, using one process for large batches."""
        if len(blobs) < _FAST_IMPORT_MIN_BLOBS:
            return [self.hash_object(blob) for blob in blobs]
        stream = bytearray()
        for index, blob in enumerate(blobs, start=1):
            stream += b"blob\nmark :%d\ndata %d\n" % (index, len(blob))
            stream += blob
            stream += b"\n"
        # fast-import writes one pack for the whole batch (thousands of loose objects would be
        # slow to write and to read back) and reports ids through its marks file.
        with tempfile.TemporaryDirectory(prefix="plimsoll-marks-") as tmp:
            marks = Path(tmp) / "marks"
            self.run("fast-import", "--quiet", f"--export-marks={marks}", input=bytes(stream))
            ids: dict[int, str] = {}
            for line in marks.read_text().splitlines():
                mark, _, sha = line.partition(" ")
                ids[int(mark.lstrip(":"))] = sha.strip()
        try:
            return [ids[index] for index in range(1, len(blobs) + 1)]
        except KeyError as exc:
            raise GitError("git fast-import failed: a blob is missing from its marks") from exc

    def mktree(self, entries: Iterable[TreeEntry]) -> str:
        """Write one tree object from its direct entries (names without slashes)."""
        data = b"".join(f"{e.mode} {e.type} {e.sha}\t{e.path}".encode() + b"\0" for e in entries)
        return self.run("mktree", "-z", input=data).decode().strip()

    def commit_tree(self, tree: str, parents: Sequence[str], message: str) -> str:
        """Write a commit of ``tree`` with ``parents`` (none: an orphan) and return its id."""
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        out = self.run(*args, input=message.encode(), env=self._identity())
        return out.decode().strip()

    def _identity(self) -> dict[str, str]:
        if self._identity_env is None:
            ok = (
                self.run_unchecked("var", "GIT_AUTHOR_IDENT").returncode == 0
                and self.run_unchecked("var", "GIT_COMMITTER_IDENT").returncode == 0
            )
            self._identity_env = {} if ok else dict(_FALLBACK_IDENTITY)
        return self._identity_env

    def ls_tree(
        self, treeish: str, paths: Sequence[str] = (), *, recursive: bool = False
    ) -> list[TreeEntry]:
        """List a tree's entries (``ls-tree -z``), optionally recursively and under ``paths``."""
        args = ["ls-tree", "-z", "--full-tree"]
        if recursive:
            args.append("-r")
        args.append(treeish)
        if paths:
            args += ["--", *paths]
        out = self.run(*args)
        entries: list[TreeEntry] = []
        for item in out.split(b"\0"):
            if not item:
                continue
            meta, _, path = item.partition(b"\t")
            mode, kind, sha = meta.decode().split(" ")
            entries.append(TreeEntry(mode, kind, sha, path.decode("utf-8", "surrogateescape")))
        return entries

    def read_blobs(self, shas: Sequence[str]) -> list[bytes | None]:
        """Read many objects' contents with one ``cat-file --batch`` (None for a missing one)."""
        if not shas:
            return []
        request = "".join(f"{sha}\n" for sha in shas).encode()
        out = self.run("cat-file", "--batch", input=request)
        results: list[bytes | None] = []
        pos = 0
        for sha in shas:
            end = out.find(b"\n", pos)
            if end < 0:
                raise GitError(f"git cat-file failed: output ended before {sha}")
            header = out[pos:end].decode("utf-8", "replace").split(" ")
            pos = end + 1
            if len(header) != 3:
                # "<sha> missing" or "<sha> ambiguous": nothing follows the header.
                results.append(None)
                continue
            size = int(header[2])
            results.append(out[pos : pos + size])
            pos += size + 1
        return results

    def read_blob(self, sha: str) -> bytes:
        """Read one blob's contents; GitError if it does not exist."""
        (data,) = self.read_blobs([sha])
        if data is None:
            raise GitError(f"git cat-file failed: object {sha} does not exist")
        return data

    # -- remotes --------------------------------------------------------------------------

    def fetch(self, remote: str, refspec: str, attempts: int = FETCH_ATTEMPTS) -> None:
        """Fetch ``refspec`` from ``remote`` (objects and the named ref only).

        Another git process updating the same local ref at that moment (a second plimsoll
        fetching in the same clone) makes git give up with "cannot lock ref": that is
        tried again, up to ``attempts`` times with a short backoff; any other failure, or
        that one every time, raises GitError.
        """
        args = ("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, refspec)
        for attempt in range(attempts):
            done = self.run_unchecked(*args)
            if done.returncode == 0:
                return
            message = _first_line(done.stderr or done.stdout)
            text = (done.stderr or b"").decode("utf-8", "replace")
            if attempt + 1 < attempts and any(hint in text for hint in _LOCAL_RACE_HINTS):
                time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
                continue
            raise GitError(f"git fetch failed: {message}")

    def remote_has_ref(self, remote: str, ref: str) -> bool:
        """Whether ``remote`` has ``ref`` (one ``ls-remote``)."""
        out = self.run("ls-remote", "--refs", remote, ref)
        return any(line.split("\t")[-1] == ref for line in out.decode().splitlines())

    def probe_remote_ref(self, remote: str, ref: str, timeout: float) -> str | None:
        """The commit ``ref`` points at on ``remote``, asked with one ``ls-remote`` of at most
        ``timeout`` seconds; None when it has no such ref or cannot tell (no such remote,
        offline, refused, too slow).

        For hints only ("the branch is on the remote but not fetched"), so it never raises
        and never waits long: git and whatever it started (ssh) are killed at the timeout.
        """
        # Never ask anyone for credentials for a hint: no terminal prompt, no askpass program
        # (an IDE's, Git Credential Manager's window), no credential helper; ssh, in a session
        # of its own, has no terminal to prompt on either.
        quiet = {
            **self._environ(None),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            "SSH_ASKPASS_REQUIRE": "never",
        }
        try:
            process = subprocess.Popen(
                ["git", "-c", "credential.helper=", "-c", "core.askPass=", "ls-remote", "--refs"]
                + [remote, ref],
                cwd=self.repo,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=quiet,
                # Its own process group, so a hung ssh under git goes with it at the timeout.
                start_new_session=True,
            )
        except OSError:
            return None
        try:
            out, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.communicate()
            return None
        if process.returncode != 0:
            return None
        for line in out.decode("utf-8", "replace").splitlines():
            sha, _, name = line.partition("\t")
            if name == ref and _is_object_id(sha):
                return sha
        return None

    def push(self, remote: str, refspec: str) -> PushOutcome:
        """Push ``refspec`` to ``remote``; REJECTED on a non-fast-forward, GitError otherwise."""
        done = self.run_unchecked("push", "--porcelain", remote, refspec)
        lines = done.stdout.decode("utf-8", "replace").splitlines()
        for line in lines:
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            flag, summary = parts[0], parts[2]
            if flag == "!" and summary.startswith("[rejected]"):
                return PushOutcome.REJECTED
            if flag == "!" and any(hint in summary for hint in _REMOTE_RACE_HINTS):
                # Another push updated the remote ref between our check and our write: the
                # same lost race as a non-fast-forward, and fixed the same way.
                return PushOutcome.REJECTED
            if flag == "=":
                return PushOutcome.UP_TO_DATE
            if flag in {" ", "+", "*"} and done.returncode == 0:
                return PushOutcome.PUSHED
        if done.returncode == 0:
            return PushOutcome.PUSHED
        raise GitError(f"git push failed: {_first_line(done.stderr or done.stdout)}")
