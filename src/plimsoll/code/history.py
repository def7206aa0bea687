"""The metrics history: records on a git branch, written without touching the work tree.

Layout of the branch (default ``code-metrics``)::

    history/YYYY_MM_DD_HH_MM_SS__<sha7>__<version>.json     one record per collection
    history/...json.gz                                       once compressed by retention
    latest.json                                              a copy of the newest record

Every change is one commit built from git objects (blobs, trees, a commit) and published with
a compare-and-swap ref update, ``git update-ref refs/heads/<branch> <new> <old>``. A writer that
loses the race rebuilds its tree on the new tip and tries again, so any number of concurrent
writers all land, and the work tree, the index and ``HEAD`` are never read or written.

Records are unique files, so merging two histories (after a rejected push) is a merge of
trees: paths added on either side are kept, and ``latest.json`` is recomputed.

A fresh clone has the history only as the remote-tracking branch (``origin/code-metrics``):
reads then use it, and so do reads when the local branch is behind it (both, merged, when
they diverged); the next record is committed on top of it, so the local branch continues the
remote's history and a push fast-forwards.

Records are ordered by the time in their file names; records of the same second (a backfill
of commits made within one second) by the full time inside them, then by the ancestry of their
commits, so the newest record really is the newest.
"""

from __future__ import annotations

import gzip
import json
import random
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from plimsoll.code.gitplumbing import Git, PushOutcome, TreeEntry
from plimsoll.code.record import (
    CURRENT_SCHEMA_VERSION,
    HISTORY_DIR,
    LATEST_PATH,
    Record,
    RecordError,
    parse_record_filename,
    record_filename,
    record_path,
)
from plimsoll.core.errors import ConcurrentUpdateError, GitError, UsageError
from plimsoll.core.log import get_logger

_log = get_logger("code.history")

T = TypeVar("T")

DEFAULT_BRANCH = "code-metrics"
DEFAULT_REMOTE = "origin"

# How long a hint may wait for the remote to say whether it has the history branch.
REMOTE_PROBE_SECONDS = 3.0

# A compare-and-swap loses only when another writer committed in between, so each retry makes
# progress for someone; this bound is for a pathological storm, not the normal race.
MAX_CAS_ATTEMPTS = 60

_BLOB_MODE = "100644"

Files = dict[str, TreeEntry]


@dataclass(frozen=True)
class HistoryEntry:
    """One record file on the history branch, described from its name alone (no blob read)."""

    path: str
    timestamp: datetime
    sha7: str
    version: str
    compressed: bool
    blob: str = ""

    @property
    def sort_key(self) -> tuple[datetime, str]:
        """The order of entries: by timestamp, then path for records of the same second."""
        return (self.timestamp, self.path)


@dataclass(frozen=True)
class _Base:
    """What reads see and the next commit builds on: the local tip and the commits to merge."""

    local: str | None  # the local branch as read (the compare-and-swap's expected value)
    parents: tuple[str, ...]  # one tip, or the local and remote-tracking tips when diverged
    merge_base: str | None = None


@dataclass(frozen=True)
class PushResult:
    """What :meth:`History.push` did."""

    outcome: PushOutcome
    attempts: int
    merges: int
    commit: str | None


@dataclass(frozen=True)
class MigratedRecord:
    """One record rewritten (or, in a dry run, to be rewritten) to the current schema."""

    path: str
    from_version: str


@dataclass(frozen=True)
class MigrationReport:
    """The outcome of :meth:`History.migrate_all`."""

    dry_run: bool
    to_version: str
    migrated: tuple[MigratedRecord, ...]
    unchanged: int
    failed: tuple[tuple[str, str], ...]
    commit: str | None

    @property
    def changed(self) -> bool:
        """Whether any record needs (or needed) rewriting."""
        return bool(self.migrated)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready document."""
        return {
            "dry_run": self.dry_run,
            "to_version": self.to_version,
            "migrated": [{"path": m.path, "from_version": m.from_version} for m in self.migrated],
            "unchanged": self.unchanged,
            "failed": [{"path": path, "error": error} for path, error in self.failed],
            "commit": self.commit,
        }

    def describe(self) -> str:
        """A human-readable summary: each record migrated, each failure, and the totals."""
        verb = "would migrate" if self.dry_run else "migrated"
        lines = [f"{verb} {m.path} ({m.from_version} -> {self.to_version})" for m in self.migrated]
        lines += [f"cannot migrate {path}: {error}" for path, error in self.failed]
        total = f"{len(self.migrated)} {verb}, {self.unchanged} already at {self.to_version}"
        if self.failed:
            total += f", {len(self.failed)} unreadable"
        if self.dry_run and self.migrated:
            total += " (dry run: nothing written)"
        lines.append(total)
        return "\n".join(lines)


def entry_from_tree(item: TreeEntry) -> HistoryEntry | None:
    """The history entry of a tree listing line, or None if it is not a record file."""
    if item.type != "blob":
        return None
    directory, _, name = item.path.rpartition("/")
    if directory != HISTORY_DIR:
        return None
    parsed = parse_record_filename(name)
    if parsed is None:
        return None
    return HistoryEntry(
        path=item.path,
        timestamp=parsed.timestamp,
        sha7=parsed.sha7,
        version=parsed.version,
        compressed=parsed.compressed,
        blob=item.sha,
    )


def entries_of(files: Iterable[TreeEntry]) -> list[HistoryEntry]:
    """The record entries among ``files``, sorted by timestamp then path."""
    found = [e for e in (entry_from_tree(item) for item in files) if e is not None]
    found.sort(key=lambda e: e.sort_key)
    return found


def gzip_bytes(data: bytes) -> bytes:
    """Gzip ``data`` reproducibly (no timestamp in the header, so equal input gives equal blobs)."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def decode_stored(path: str, data: bytes) -> bytes:
    """The JSON bytes of a stored record file (gunzipped when its path ends in ``.gz``)."""
    if not path.endswith(".gz"):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise RecordError(f"{path}: not a readable gzip file: {exc}") from exc


def parse_stored(path: str, data: bytes) -> Record:
    """Parse a stored record file into a :class:`Record`; RecordError naming ``path`` if bad."""
    try:
        return Record.from_json(decode_stored(path, data))
    except RecordError as exc:
        if exc.message.startswith(f"{path}:"):
            raise
        raise RecordError(f"{path}: {exc.message}") from exc


def without_path(path: str, message: str) -> str:
    """``message`` without a leading ``"<path>: "``, for lines that name the path themselves."""
    return message.removeprefix(f"{path}: ")


def _with_suffix(path: str, suffix: int) -> str:
    parsed = parse_record_filename(path)
    if parsed is None:
        raise ValueError(f"not a record path: {path}")
    return record_path(
        parsed.timestamp, parsed.sha7, parsed.version, suffix=suffix, compressed=parsed.compressed
    )


def _taken(files: Mapping[str, TreeEntry], path: str) -> bool:
    # A record and its compressed form are the same record: neither may shadow the other.
    plain = path.removesuffix(".gz")
    return plain in files or f"{plain}.gz" in files


def free_record_path(files: Mapping[str, TreeEntry], path: str) -> str:
    """``path`` if no record holds that name yet, else the first free ``__N`` variant of it."""
    if not _taken(files, path):
        return path
    suffix = 2
    while _taken(files, _with_suffix(path, suffix)):
        suffix += 1
    return _with_suffix(path, suffix)


def merge_files(base: Files, ours: Files, theirs: Files) -> Files:
    """Three-way merge of two history trees (pure): both sides' changes to ``base`` kept.

    A path changed on one side only takes that side's version (a deletion included). A record
    both sides wrote differently under the same name is kept twice, ours under a free
    ``__N`` name, since records are never edited in place by two writers on purpose; any other
    file both changed keeps our version. ``latest.json`` is left out: the caller recomputes it.
    """
    merged: Files = {}
    conflicts: list[TreeEntry] = []
    for path in sorted(set(base) | set(ours) | set(theirs)):
        if path == LATEST_PATH:
            continue
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        if o == t or o == b:
            chosen = t
        elif t == b:
            chosen = o
        elif o is None or t is None:
            # Deleted on one side, changed on the other: keep the change rather than lose data.
            chosen = o if o is not None else t
        elif entry_from_tree(o) is not None:
            chosen = t
            conflicts.append(o)
        else:
            chosen = o
        if chosen is not None:
            merged[path] = chosen
    for item in conflicts:
        target = free_record_path(merged, item.path)
        merged[target] = TreeEntry(item.mode, item.type, item.sha, target)
    return merged


def _backoff(attempt: int) -> float:
    # Full jitter: racing writers spread out instead of colliding again in lock step.
    return random.uniform(0, min(0.25, 0.002 * (2**attempt)))


def _check_path(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a relative file path inside the history branch: {path!r}")
    if path == LATEST_PATH:
        raise ValueError(f"{LATEST_PATH} is derived from the records and cannot be written")


class History:
    """The metrics history on branch ``branch`` of the git repository at ``repo``."""

    def __init__(
        self, repo: Path, branch: str = DEFAULT_BRANCH, remote: str = DEFAULT_REMOTE
    ) -> None:
        self.git = Git.open(Path(repo))
        if not self.git.check_branch_name(branch):
            raise UsageError(f"{branch!r} is not a valid git branch name")
        self.repo = Path(repo)
        self.branch = branch
        self.remote = remote
        self.ref = f"refs/heads/{branch}"
        self._latest_cache: dict[str, str | None] = {}
        self._tracking: str | None = None
        self._entries_cache: dict[tuple[str, ...], tuple[HistoryEntry, ...]] = {}
        # (blob, compressed) -> why the record cannot be read (None: it can): blobs never change.
        self._problem_cache: dict[tuple[str, bool], str | None] = {}
        self._migration_cache: dict[tuple[str, bool], tuple[str, bytes | None, str | None]] = {}

    # -- reading ---------------------------------------------------------------------------

    def tip(self) -> str | None:
        """The commit the local branch points at, or None if it does not exist yet."""
        return self.git.rev_parse(self.ref)

    def remote_tip(self) -> str | None:
        """The commit the remote-tracking branch (``<remote>/<branch>``) points at, or None."""
        return self.git.rev_parse(self._tracking_ref())

    def tips(self) -> tuple[str, ...]:
        """The commits reads see: the local tip, the remote-tracking one, or both when diverged."""
        return self._base().parents

    def exists(self) -> bool:
        """Whether the history exists here: the local branch or its remote-tracking branch."""
        return bool(self._base().parents)

    def _base(self) -> _Base:
        """Where reading looks and the next commit starts: local, remote-tracking, or both.

        The remote-tracking branch counts when the local one is missing (a fresh clone in
        CI), behind it (fetched but not merged) or diverged from it (then both, merged).
        """
        local = self.tip()
        remote = self.remote_tip()
        if remote is None or remote == local:
            return _Base(local, (local,) if local else ())
        if local is not None and self.git.is_ancestor(remote, local):
            return _Base(local, (local,))
        if local is None or self.git.is_ancestor(local, remote):
            return _Base(local, (remote,))
        return _Base(local, (local, remote), self.git.merge_base(local, remote))

    def _files(self, commit: str | None, paths: Sequence[str] = ()) -> Files:
        if commit is None:
            return {}
        return {e.path: e for e in self.git.ls_tree(commit, paths, recursive=True)}

    def _view(self, base: _Base, paths: Sequence[str] = ()) -> Files:
        """The files of ``base``: its one tip's, or the three-way merge of both tips."""
        if len(base.parents) < 2:
            return self._files(base.parents[0] if base.parents else None, paths)
        ours, theirs = (self._files(commit, paths) for commit in base.parents)
        return merge_files(self._files(base.merge_base, paths), ours, theirs)

    def entries(self) -> list[HistoryEntry]:
        """Every record of the history, oldest first (one ``ls-tree``; blobs read only for ties)."""
        base = self._base()
        cached = self._entries_cache.get(base.parents)
        if cached is None:
            found = entries_of(self._view(base, [HISTORY_DIR]).values())
            cached = tuple(self._settle_ties(found))
            # Only the newest view is worth keeping: a write moves the tips anyway.
            self._entries_cache = {base.parents: cached}
        return list(cached)

    def _settle_ties(
        self, entries: list[HistoryEntry], newest_only: bool = False
    ) -> list[HistoryEntry]:
        """Order records of the same second by the full time inside them, then by commit ancestry.

        File names carry the time to the second, so commits backfilled from one second would
        otherwise sort by sha. With ``newest_only``, only the newest second is settled (all
        ``latest.json`` needs).
        """
        groups: list[tuple[int, int]] = []
        start = 0
        while start < len(entries):
            end = start + 1
            while end < len(entries) and entries[end].timestamp == entries[start].timestamp:
                end += 1
            if end - start > 1:
                groups.append((start, end))
            start = end
        if newest_only:
            groups = [g for g in groups if g[1] == len(entries)]
        if not groups:
            return entries
        members = [e for s, end in groups for e in entries[s:end] if e.blob]
        facts: dict[str, tuple[datetime, str]] = {}
        for entry, data in zip(
            members, self.git.read_blobs([e.blob for e in members]), strict=True
        ):
            if data is None:
                continue
            try:
                record = parse_stored(entry.path, data)
            except RecordError:
                continue
            facts[entry.path] = (record.timestamp, record.commit_sha.lower())
        # Records whose full times are equal too were backfilled from commits of that second:
        # their commits' ancestry decides (one bounded rev-list per such time).
        same_time: dict[datetime, set[str]] = {}
        for when, sha in facts.values():
            same_time.setdefault(when, set()).add(sha)
        rank: dict[tuple[datetime, str], int] = {}
        for when, shas in same_time.items():
            if len(shas) > 1:
                order = self.git.topological_order(sorted(shas), int(when.timestamp()))
                rank.update({(when, sha): i for i, sha in enumerate(order)})

        def key(entry: HistoryEntry) -> tuple[datetime, int, str]:
            # An unreadable record keeps its name's time and sorts before readable ones.
            when, sha = facts.get(entry.path, (entry.timestamp, ""))
            return (when, rank.get((when, sha), -1), entry.path)

        out = list(entries)
        for s, end in groups:
            out[s:end] = sorted(entries[s:end], key=key)
        return out

    def _blob_of(self, entry: HistoryEntry) -> str:
        if entry.blob:
            return entry.blob
        for commit in self._base().parents:
            sha = self.git.rev_parse(f"{commit}:{entry.path}")
            if sha is not None:
                return sha
        raise RecordError(f"{entry.path}: no such record on branch {self.branch}")

    def read_contents(self, entries: Sequence[HistoryEntry]) -> list[bytes]:
        """The JSON bytes of each entry (gunzipped), read with one ``cat-file --batch``."""
        blobs = self.git.read_blobs([self._blob_of(e) for e in entries])
        out: list[bytes] = []
        for entry, data in zip(entries, blobs, strict=True):
            if data is None:
                raise RecordError(f"{entry.path}: its blob is missing from the repository")
            out.append(decode_stored(entry.path, data))
        return out

    def unreadable(self, entries: Sequence[HistoryEntry]) -> dict[str, str]:
        """The entries whose record cannot be read: path -> why (the path not repeated).

        Reads the blobs not seen before with one ``cat-file --batch`` and parses them as every
        command would (migrated to the current schema); results are cached per blob, so a
        retention command re-planning after a lost race reads only what is new.
        """
        keyed = [(e, (self._blob_of(e), e.compressed)) for e in entries]
        todo = list({key: e for e, key in keyed if key not in self._problem_cache}.items())
        if todo:
            blobs = self.git.read_blobs([key[0] for key, _ in todo])
            for (key, entry), data in zip(todo, blobs, strict=True):
                problem: str | None = None
                if data is None:
                    problem = "its blob is missing from the repository"
                else:
                    try:
                        parse_stored(entry.path, data)
                    except RecordError as exc:
                        problem = without_path(entry.path, exc.message)
                self._problem_cache[key] = problem
        found: dict[str, str] = {}
        for entry, key in keyed:
            problem = self._problem_cache[key]
            if problem is not None:
                found[entry.path] = problem
        return found

    def load(self, entry: HistoryEntry) -> Record:
        """Read and parse one record (migrated to the current schema); RecordError if bad."""
        (data,) = self.git.read_blobs([self._blob_of(entry)])
        if data is None:
            raise RecordError(f"{entry.path}: its blob is missing from the repository")
        return parse_stored(entry.path, data)

    def _load_many(
        self,
        entries: Sequence[HistoryEntry],
        on_error: Callable[[HistoryEntry, str], None] | None,
    ) -> list[tuple[HistoryEntry, Record]]:
        blobs = self.git.read_blobs([self._blob_of(e) for e in entries])
        loaded: list[tuple[HistoryEntry, Record]] = []
        for entry, data in zip(entries, blobs, strict=True):
            try:
                if data is None:
                    raise RecordError(f"{entry.path}: its blob is missing from the repository")
                loaded.append((entry, parse_stored(entry.path, data)))
            except RecordError as exc:
                if on_error is not None:
                    on_error(entry, exc.message)
                else:
                    _log.warning(
                        "skipped unreadable record: %s",
                        exc.message,
                        extra={"event": "history.skip", "path": entry.path},
                    )
        return loaded

    def read_entries(
        self, entries: Sequence[HistoryEntry]
    ) -> tuple[dict[str, Record], dict[str, str]]:
        """The records of ``entries`` by path, and why each of the others cannot be read.

        One ``cat-file --batch`` for all; a problem is given without the path, as in
        :meth:`unreadable`.
        """
        problems: dict[str, str] = {}

        def note(entry: HistoryEntry, message: str) -> None:
            problems[entry.path] = without_path(entry.path, message)

        loaded = self._load_many(entries, on_error=note)
        return {entry.path: record for entry, record in loaded}, problems

    def load_all(self, on_error: Callable[[HistoryEntry, str], None] | None = None) -> list[Record]:
        """Every readable record, oldest first, through one ``git cat-file --batch`` process.

        A corrupt record or one of an unknown schema version is reported to ``on_error`` (or
        logged as a warning when none is given) and skipped.
        """
        return [record for _, record in self._load_many(self.entries(), on_error)]

    def latest(self) -> Record | None:
        """The newest readable record, or None if the history has none.

        Found from the records themselves rather than ``latest.json``: a history merged
        from the remote-tracking branch has no ``latest.json`` of its own yet, and one
        written before ties were ordered may name an older record of the same second.
        """
        for entry in reversed(self.entries()):
            try:
                return self.load(entry)
            except RecordError as exc:
                _log.warning(
                    "skipped unreadable record: %s",
                    exc.message,
                    extra={"event": "history.skip", "path": entry.path},
                )
        return None

    def owner(self) -> str | None:
        """The ``project_path`` of the newest readable record (None: no record, or unknown).

        Which project of a repository writes here; unreadable records are passed over
        quietly (the command reading them reports them).
        """
        for entry in reversed(self.entries()):
            try:
                return self.load(entry).project_path
            except RecordError:
                continue
        return None

    def find(self, sha_prefix: str) -> Record | None:
        """The newest record of the commit whose sha starts with ``sha_prefix``, or None.

        UsageError (exit 2) listing the candidates when records of several commits match, as
        git refuses an ambiguous short sha rather than pick one.
        """
        prefix = sha_prefix.strip().lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            raise UsageError(f"{sha_prefix!r} is not a commit sha or sha prefix")
        short = prefix[:7]
        candidates = [e for e in self.entries() if e.sha7.lower().startswith(short)]
        if not candidates:
            return None
        loaded = self._load_many(candidates, on_error=None)
        matching = [r for _, r in loaded if r.commit_sha.lower().startswith(prefix)]
        commits = list(dict.fromkeys(r.commit_sha for r in reversed(matching)))
        if len(commits) > 1:
            listed = ", ".join(sha[:12] for sha in commits)
            raise UsageError(
                f"{sha_prefix!r} is ambiguous: records of {len(commits)} commits match "
                f"({listed}); give more of the sha"
            )
        return matching[-1] if matching else None

    # -- writing ---------------------------------------------------------------------------

    def _write_tree(self, files: Files) -> str:
        root: dict[str, Any] = {}
        for path, item in files.items():
            parts = path.split("/")
            node = root
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise GitError(f"history tree has both a file and a folder named {part!r}")
                node = child
            if isinstance(node.get(parts[-1]), dict):
                raise GitError(f"history tree has both a file and a folder named {parts[-1]!r}")
            node[parts[-1]] = item

        def write(node: dict[str, Any]) -> str:
            rows: list[TreeEntry] = []
            for name, child in node.items():
                if isinstance(child, dict):
                    rows.append(TreeEntry("040000", "tree", write(child), name))
                else:
                    rows.append(TreeEntry(child.mode, child.type, child.sha, name))
            return self.git.mktree(rows)

        return write(root)

    def _latest_blob(self, entry: HistoryEntry) -> str | None:
        """The plain-JSON blob latest.json should hold for ``entry`` (None: unreadable)."""
        if entry.blob in self._latest_cache:
            return self._latest_cache[entry.blob]
        data = self.git.read_blobs([entry.blob])[0]
        result: str | None = None
        if data is not None:
            try:
                parse_stored(entry.path, data)
                # latest.json is always plain JSON, so a compressed record is inflated once.
                result = (
                    self.git.hash_object(decode_stored(entry.path, data))
                    if entry.compressed
                    else entry.blob
                )
            except RecordError:
                result = None
        self._latest_cache[entry.blob] = result
        return result

    def _refresh_latest(self, files: Files) -> None:
        # The newest readable record: a corrupt newest file must neither become latest.json
        # nor block every later write.
        for entry in reversed(self._settle_ties(entries_of(files.values()), newest_only=True)):
            blob = self._latest_blob(entry)
            if blob is not None:
                files[LATEST_PATH] = TreeEntry(_BLOB_MODE, "blob", blob, LATEST_PATH)
                return
        files.pop(LATEST_PATH, None)

    def checked_out_in(self) -> Path | None:
        """The work tree that has the history branch checked out, or None (as it should be)."""
        return self.git.worktree_branches().get(self.ref)

    def _refuse_checked_out(self) -> None:
        # Committing to a checked-out branch behind git's back leaves its index and work tree
        # showing the records' commit undone: the history needs a branch of its own.
        where = self.checked_out_in()
        if where is not None:
            raise UsageError(
                f"branch {self.branch!r} is checked out in {where}: the metrics history needs "
                "a branch of its own, never the one being worked on"
            )

    def transact(
        self, change: Callable[[Files], T], message: str | Callable[[T], str]
    ) -> tuple[str | None, T]:
        """Apply ``change`` to the history's files and publish it with a compare-and-swap, retrying.

        ``change`` edits the files of the current tip in place and is called again on the new
        tip after a lost compare-and-swap, so it must decide from the files it is given (never
        from what it saw on an earlier attempt): that is what lets concurrent writers'
        effects all land. ``message`` may be a function of ``change``'s result. Returns the
        new tip (the unchanged tip, or None without a branch, when nothing changed) and the
        result of the attempt that was published.

        The new commit continues what :meth:`_base` sees: the local branch, or the
        remote-tracking one when the local branch is missing or behind (a merge of both when
        they diverged), so a later push fast-forwards.
        """
        self._refuse_checked_out()
        for attempt in range(MAX_CAS_ATTEMPTS):
            base = self._base()
            before = self._view(base)
            files = dict(before)
            result = change(files)
            self._refresh_latest(files)
            if len(base.parents) <= 1 and files == before:
                return (base.parents[0] if base.parents else None), result
            tree = self._write_tree(files)
            text = message(result) if callable(message) else message
            commit = self.git.commit_tree(tree, base.parents, text)
            if self.git.update_ref(self.ref, commit, base.local, message=text):
                return commit, result
            time.sleep(_backoff(attempt))
        raise ConcurrentUpdateError(
            f"could not update branch {self.branch}: another writer won "
            f"{MAX_CAS_ATTEMPTS} times in a row"
        )

    def append(self, record: Record) -> str:
        """Add ``record`` to the history in its own commit and return the path written.

        If a record already has that name (same second, commit and version), the new one gets
        a ``__N`` suffix rather than overwriting it.
        """
        return self.append_blob(record)[0]

    def locate(self, blobs: Sequence[str]) -> dict[str, str]:
        """Where each of ``blobs`` is now on the history branch: blob -> record path.

        A push that merged another writer's records may have renamed ours (``__2``...), so the
        path a record was first written under is looked up again by its content.
        """
        wanted = set(blobs)
        return {e.blob: e.path for e in self.entries() if e.blob in wanted}

    def append_blob(self, record: Record) -> tuple[str, str]:
        """:meth:`append`, returning the path written and the record's blob id."""
        (blob,) = self.git.write_blobs([record.to_bytes()])
        wanted = record_filename(record)

        def add(files: Files) -> str:
            path = free_record_path(files, wanted)
            files[path] = TreeEntry(_BLOB_MODE, "blob", blob, path)
            return path

        _, path = self.transact(add, f"plimsoll: record {record.sha7} ({wanted.split('/')[-1]})")
        return path, blob

    def commit(self, adds: Mapping[str, bytes], deletes: Sequence[str], message: str) -> str | None:
        """Write ``adds`` and remove ``deletes`` in one compare-and-swap commit; return the tip.

        Paths deleted by someone else in the meantime are ignored; ``latest.json`` is
        recomputed from the records, so it cannot be written directly.
        """
        for path in [*adds, *deletes]:
            _check_path(path)
        paths = list(adds)
        blobs = self.git.write_blobs([adds[p] for p in paths])
        rows = {p: TreeEntry(_BLOB_MODE, "blob", b, p) for p, b in zip(paths, blobs, strict=True)}

        def apply(files: Files) -> None:
            for path in deletes:
                files.pop(path, None)
            files.update(rows)

        tip, _ = self.transact(apply, message)
        return tip

    # -- remote ----------------------------------------------------------------------------

    def _tracking_ref(self) -> str:
        # A named remote gets its usual remote-tracking ref; a URL or path cannot name one.
        if self._tracking is None:
            named = self.git.run_unchecked("config", "--get", f"remote.{self.remote}.url")
            if named.returncode == 0 and self.git.check_branch_name(f"{self.remote}/{self.branch}"):
                self._tracking = f"refs/remotes/{self.remote}/{self.branch}"
            else:
                self._tracking = f"refs/plimsoll/fetched/{self.branch}"
        return self._tracking

    def unfetched_hint(self, timeout: float = REMOTE_PROBE_SECONDS) -> str | None:
        """How to fetch the remote's history when this clone has none of it, or None.

        When there is no remote-tracking branch (a ``git clone --single-branch``, a CI
        checkout fetching one branch), one ``git ls-remote`` of at most ``timeout`` seconds
        asks the remote whether it has the branch. None when it has not, when the
        remote-tracking branch is here, or when the remote cannot be asked (offline).
        """
        if self.remote_tip() is not None:
            return None
        theirs = self.git.probe_remote_ref(self.remote, self.ref, timeout)
        if theirs is None:
            return None
        local = self.tip()
        if (
            local is not None
            and self.git.has_commit(theirs)
            and self.git.is_ancestor(theirs, local)
        ):
            return None  # fetched into the local branch already (or merged there since)
        if local is None:
            return (
                f"the history branch is on {self.remote} but not fetched: "
                f"git fetch {self.remote} {self.branch}:{self.branch}"
            )
        # A local branch of its own: fetched beside it, reads merge the two. It may be a copy
        # fetched earlier that the remote has moved past (another job pushed since), or hold
        # records of this clone only: either way its newest records are not the remote's.
        return (
            f"the history branch on {self.remote} has records this clone's {self.branch} does "
            f"not (not fetched, or pushed to since): git fetch {self.remote} "
            f"{self.branch}:{self._tracking_ref()}"
        )

    def _fetch(self) -> str | None:
        if not self.git.remote_has_ref(self.remote, self.ref):
            return None
        tracking = self._tracking_ref()
        self.git.fetch(self.remote, f"+{self.ref}:{tracking}")
        return self.git.rev_parse(tracking)

    def _merge_in(self, theirs: str) -> bool:
        """Merge commit ``theirs`` into the local branch (CAS); True if the branch moved."""
        self._refuse_checked_out()
        for attempt in range(MAX_CAS_ATTEMPTS):
            ours = self.tip()
            if ours is not None and self.git.is_ancestor(theirs, ours):
                return False
            if ours is None or self.git.is_ancestor(ours, theirs):
                new = theirs
            else:
                base = self.git.merge_base(ours, theirs)
                files = merge_files(self._files(base), self._files(ours), self._files(theirs))
                self._refresh_latest(files)
                tree = self._write_tree(files)
                message = f"plimsoll: merge {self.remote}/{self.branch}"
                new = self.git.commit_tree(tree, [theirs, ours], message)
            if self.git.update_ref(self.ref, new, ours, message="plimsoll: merge"):
                return True
            time.sleep(_backoff(attempt))
        raise ConcurrentUpdateError(
            f"could not merge {self.remote}/{self.branch}: the local branch kept moving"
        )

    def pull(self) -> bool:
        """Fetch the remote history and merge it into the local branch; True if anything changed."""
        theirs = self._fetch()
        if theirs is None:
            return False
        return self._merge_in(theirs)

    def push(self, retries: int = 5) -> PushResult:
        """Push the branch to the remote, merging the remote's new records first when rejected.

        On a non-fast-forward the remote branch is fetched, merged as trees (records are unique
        files; ``latest.json`` is recomputed) and the push is tried again after a backoff, up to
        ``retries`` times; ConcurrentUpdateError if it is still rejected.
        """
        if self.tip() is None:
            return PushResult(PushOutcome.UP_TO_DATE, attempts=0, merges=0, commit=None)
        merges = 0
        for attempt in range(retries + 1):
            outcome = self.git.push(self.remote, f"{self.ref}:{self.ref}")
            if outcome is not PushOutcome.REJECTED:
                return PushResult(outcome, attempt + 1, merges, self.tip())
            if attempt == retries:
                break
            theirs = self._fetch()
            if theirs is not None and self._merge_in(theirs):
                merges += 1
            time.sleep(random.uniform(0.05, 0.2) * (2**attempt))
        raise ConcurrentUpdateError(
            f"push of {self.branch} to {self.remote} was rejected {retries + 1} times"
        )

    # -- maintenance -----------------------------------------------------------------------

    def _migration(self, entries: Sequence[HistoryEntry]) -> _MigrationPlan:
        """What migrating ``entries`` means: the new bytes of each old record, and the rest."""
        keyed = [(e, (self._blob_of(e), e.compressed)) for e in entries]
        todo = list({key: e for e, key in keyed if key not in self._migration_cache}.items())
        if todo:
            blobs = self.git.read_blobs([key[0] for key, _ in todo])
            for (key, entry), data in zip(todo, blobs, strict=True):
                self._migration_cache[key] = _migrate_one(entry, data)
        plan = _MigrationPlan()
        for entry, key in keyed:
            version, new, problem = self._migration_cache[key]
            if problem is not None:
                plan.failed.append((entry.path, problem))
            elif new is None:
                plan.unchanged += 1
            else:
                plan.adds[entry.path] = gzip_bytes(new) if entry.compressed else new
                plan.migrated.append(MigratedRecord(entry.path, version))
        return plan

    def migrate_all(self, dry_run: bool = False) -> MigrationReport:
        """Rewrite every record older than the current schema in one commit (dry run: none).

        The records to rewrite are decided on the tip the commit is built on, again after a
        lost compare-and-swap: a record another writer deleted or compressed meanwhile is
        neither brought back nor duplicated.
        """
        commit: str | None = None
        if dry_run:
            plan = self._migration(self.entries())
        else:

            def change(files: Files) -> _MigrationPlan:
                found = self._migration(entries_of(files.values()))
                paths = list(found.adds)
                blobs = self.git.write_blobs([found.adds[p] for p in paths])
                for path, blob in zip(paths, blobs, strict=True):
                    files[path] = TreeEntry(_BLOB_MODE, "blob", blob, path)
                return found

            tip, plan = self.transact(
                change,
                lambda p: (
                    f"plimsoll: migrate {len(p.adds)} records to schema {CURRENT_SCHEMA_VERSION}"
                ),
            )
            commit = tip if plan.adds else None
        return MigrationReport(
            dry_run=dry_run,
            to_version=CURRENT_SCHEMA_VERSION,
            migrated=tuple(plan.migrated),
            unchanged=plan.unchanged,
            failed=tuple(plan.failed),
            commit=commit,
        )


@dataclass
class _MigrationPlan:
    """The records a migration rewrites (path -> new stored bytes) and those it leaves."""

    adds: dict[str, bytes] = field(default_factory=dict)
    migrated: list[MigratedRecord] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0


def _migrate_one(entry: HistoryEntry, data: bytes | None) -> tuple[str, bytes | None, str | None]:
    """``(version, new JSON bytes or None when already current, problem or None)`` of a record.

    A record at the current version is still parsed: one that claims it but is invalid (say
    ``"metrics": []``) is reported as unreadable, never counted as already migrated.
    """
    if data is None:
        return "", None, "its blob is missing from the repository"
    try:
        raw = decode_stored(entry.path, data)
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return "", None, f"record is not valid JSON: {exc}"
        version = doc.get("schema_version") if isinstance(doc, dict) else None
        record = parse_stored(entry.path, data)
    except RecordError as exc:
        return "", None, without_path(entry.path, exc.message)
    if version == CURRENT_SCHEMA_VERSION:
        return str(version), None, None
    return str(version), record.to_bytes(), None
