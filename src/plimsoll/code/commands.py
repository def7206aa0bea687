"""One plain function per ``plimsoll code`` subcommand; the CLI is a thin layer over these."""

from __future__ import annotations

import difflib
import functools
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from plimsoll.code import baseline as baseline_module
from plimsoll.code import gitinfo, lookup, metric_names, retention, runner, sources, summary
from plimsoll.code.baseline import Baseline, RuleBaseline
from plimsoll.code.collect import Collection, cache_path, collect_tree, project_base
from plimsoll.code.gitplumbing import Git, PushOutcome
from plimsoll.code.history import DEFAULT_BRANCH, History, HistoryEntry, PushResult
from plimsoll.code.record import Record
from plimsoll.code.summary import is_number
from plimsoll.code.thresholds import ThresholdReport, check_metric_names
from plimsoll.code.trendindex import INDEX_FILE, TrendIndex, is_indexed_path, scalar_leaves
from plimsoll.core import plugins
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import CannotRunError, ConfigError, GitError, InputError, UsageError
from plimsoll.core.rules import MetricMissing, resolve


def default_branch(base: str) -> str:
    """The history branch of a project in folder ``base`` when ``code.branch`` is not set.

    ``code-metrics`` at the top of the work tree; ``code-metrics-<folder>`` for a project in a
    subfolder (``services/api``: ``code-metrics-services-api``), so the projects of a
    monorepo each keep their own history.
    """
    if base in ("", "."):
        return DEFAULT_BRANCH
    # Slashes become dashes, as does anything a branch name cannot hold.
    slug = re.sub(r"[^A-Za-z0-9._]+", "-", base).strip("-.")
    slug = re.sub(r"\.{2,}", ".", slug).removesuffix(".lock")
    return f"{DEFAULT_BRANCH}-{slug}" if slug else DEFAULT_BRANCH


@dataclass(frozen=True)
class Project:
    """A repository and its configuration, as every code command needs them.

    ``notices`` are warnings about the setup to show once (see :func:`open_project`).
    """

    root: Path
    loaded: LoadedConfig
    notices: tuple[str, ...] = ()

    @property
    def config(self) -> Any:
        """The ``code`` section of the configuration."""
        return self.loaded.config.code

    @property
    def branch_configured(self) -> bool:
        """Whether ``code.branch`` is set in the configuration (rather than left default)."""
        return "branch" in self.config.model_fields_set

    @property
    def branch(self) -> str:
        """The history branch: ``code.branch`` when set, else :func:`default_branch`."""
        return str(self.config.branch) if self.branch_configured else default_branch(self.base)

    def history(self) -> History:
        """The history branch of this project; ConfigError if another project's records are on it."""
        history = History(self.root, branch=self.branch, remote=self.config.remote)
        self._check_owner(history)
        return history

    @functools.cached_property
    def _owner_checked(self) -> list[str]:
        return []  # the tips already checked (a list, so the frozen instance can note them)

    def _check_owner(self, history: History) -> None:
        """ConfigError (exit 2) when the branch's newest record is another project's."""
        tips = ",".join(history.tips())
        if not tips or tips in self._owner_checked:
            return
        owner = history.owner()
        self._owner_checked.append(tips)
        if owner is None or owner == self.base:
            return
        source = self.loaded.source or "configuration"
        raise ConfigError(
            f"{source}: code.branch: branch {history.branch!r} holds the records of the project "
            f"in {owner!r}, not of this one (in {self.base!r}); give each project its own "
            f"branch (without code.branch this project's is {default_branch(self.base)!r})"
        )

    @property
    def base(self) -> str:
        """The project's folder in the repository (its configuration file's): ``.`` at the top."""
        return project_base(self.root, self.loaded.source)

    def stamp(self, collection: Collection) -> Collection:
        """``collection`` with its record marked as this project's (``project_path``)."""
        record = replace(collection.record, project_path=self.base)
        return replace(collection, record=record)


def open_project(loaded: LoadedConfig, start: Path | None = None) -> Project:
    """The git repository containing ``start`` (default: where the config was found).

    ConfigError (exit 2) naming ``code.branch`` when the history branch is checked out, here
    or in another worktree: records committed there would show as undone changes in its
    index and work tree, so nothing is read or written. A project in a subfolder with
    ``code.branch`` unset whose own default branch (``code-metrics-<folder>``) does not exist
    while ``code-metrics`` (the default of earlier versions) does keeps reading and writing
    ``code-metrics``, as if ``code.branch = "code-metrics"`` were set, with a notice saying
    so: its history goes on where it is instead of silently starting anew. The owner check
    (:meth:`Project.history`) still refuses that branch when its newest record is another
    project's.
    """
    root = gitinfo.repository_root(start or loaded.root)
    project = Project(root, loaded)
    notices: tuple[str, ...] = ()
    own = project.branch
    remote = project.config.remote
    if (
        not project.branch_configured
        and own != DEFAULT_BRANCH
        and not History(root, branch=own, remote=remote).exists()
        and History(root, branch=DEFAULT_BRANCH, remote=remote).exists()
    ):
        project = Project(root, _with_branch(loaded, DEFAULT_BRANCH))
        notices = (
            f"history stays on {DEFAULT_BRANCH}; set code.branch to choose (this project, in "
            f"{project.base!r}, has no branch {own!r} of its own; branch {DEFAULT_BRANCH!r} "
            "holds records of earlier versions)",
        )
    branch = project.branch
    history = History(root, branch=branch, remote=remote)
    where = history.checked_out_in()
    if where is not None:
        source = loaded.source or "configuration"
        worktree = "" if where.resolve() == root.resolve() else f" (in the worktree {where})"
        raise ConfigError(
            f"{source}: code.branch: {branch!r} is the checked-out branch{worktree}; the metrics "
            f"history needs a branch of its own (the default is {default_branch(project.base)!r})"
        )
    return replace(project, notices=notices)


def _with_branch(loaded: LoadedConfig, branch: str) -> LoadedConfig:
    """``loaded`` with ``code.branch`` set to ``branch`` (counted as set, as if written)."""
    code = loaded.config.code.model_copy(update={"branch": branch})
    config = loaded.config.model_copy(update={"code": code})
    return loaded.model_copy(update={"config": config})


@dataclass
class CollectResult:
    """What ``plimsoll code collect`` did: collections made and where their records went."""

    collections: list[Collection] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    thresholds: ThresholdReport | None = None
    pushed: bool = False


def collect(
    project: Project,
    *,
    names: Sequence[str] | None = None,
    store: bool = True,
    use_cache: bool = True,
    on_done: Callable[[runner.CollectorOutcome], None] | None = None,
) -> Collection:
    """Collect the work tree as it is now, for HEAD; store the record on the history branch."""
    info = gitinfo.commit_info(project.root)
    base = project.base
    found = sources.discover_files(
        project.root / base, project.config.paths, project.config.exclude
    )
    # with_untracked compares with paths from the repository's top.
    prefix = "" if base == "." else f"{base}/"
    analysed = [prefix + path for path in (*found.sources, *found.stubs)]
    info = gitinfo.with_untracked(info, project.root, analysed)
    cache = cache_path(project.root, project.config) if use_cache else None
    collection = collect_tree(
        project.root,
        project.config,
        info,
        names=names,
        cache=cache,
        on_done=on_done,
        base=base,
    )
    return project.stamp(collection)


@dataclass(frozen=True)
class StoreResult:
    """Where ``store`` put records: the paths written, and the push when one was asked for."""

    paths: list[str]
    branch: str
    remote: str
    push: PushResult | None = None
    # The push was asked for and failed (the records are stored all the same).
    push_error: CannotRunError | None = None

    def push_line(self) -> str | None:
        """One line saying what the push did and where, or None without a push."""
        if self.push is None:
            return None
        tip = f" (now at {self.push.commit[:7]})" if self.push.commit else ""
        if self.push.outcome is PushOutcome.UP_TO_DATE:
            return f"branch {self.branch} on {self.remote} was already up to date{tip}"
        merged = (
            f" after merging {self.remote}'s newer records {self.push.merges} time(s)"
            if self.push.merges
            else ""
        )
        return f"pushed branch {self.branch} to {self.remote}{merged}{tip}"


def store(project: Project, records: Sequence[Record], push: bool = False) -> StoreResult:
    """Append records to the history branch, and push it when asked.

    A push that fails (the remote unreachable, rejected every time) is in ``push_error``:
    the records are stored locally all the same, and the caller says where before it
    reports the failure.
    """
    history = project.history()
    written = [history.append_blob(record) for record in records]
    paths = [path for path, _ in written]
    pushed: PushResult | None = None
    failure: CannotRunError | None = None
    if push:
        try:
            pushed = history.push(retries=project.config.push_retries)
        except CannotRunError as exc:
            failure = exc
    if pushed is not None and pushed.merges or failure is not None:
        # Merging the remote's records may have renamed ours (same name, other content):
        # report where each record really is now.
        where = history.locate([blob for _, blob in written])
        paths = [where.get(blob, path) for path, blob in written]
    return StoreResult(paths, history.branch, history.remote, pushed, failure)


# A backfill's worktree is <temporary folder>/plimsoll-backfill-XXXX/tree; beside it, a file
# locked for as long as the run that made it goes on (see temporary_worktree).
_BACKFILL_PREFIX = "plimsoll-backfill-"
_BACKFILL_TREE = "tree"
_BACKFILL_OWNER = "owner.lock"


@contextmanager
def temporary_worktree(root: Path) -> Iterator[Path]:
    """A detached worktree of ``root`` in a temporary folder, removed afterwards.

    Removed on an interrupt too (Ctrl-C, SIGTERM), saying so in a note on the interrupt. A run
    killed outright cannot clean up: its folder holds a file locked for as long as the run
    (or a collector process it forked) lives, and the next backfill removes a backfill
    worktree whose lock is free (:func:`remove_stale_worktrees`).
    """
    import fcntl
    import os

    repo = Git(root)
    remove_stale_worktrees(root)
    folder = Path(tempfile.mkdtemp(prefix=_BACKFILL_PREFIX))
    tree = folder / _BACKFILL_TREE
    # Locked before the worktree is registered, so a registered one always has its lock.
    owner = os.open(folder / _BACKFILL_OWNER, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(owner, fcntl.LOCK_EX)
        repo.run("worktree", "add", "--detach", "--quiet", str(tree), "HEAD")
        yield tree
    except KeyboardInterrupt as exc:
        _remove_backfill_folder(repo, folder)
        exc.add_note(f"removed the temporary worktree {tree}")
        raise
    finally:
        _remove_backfill_folder(repo, folder)
        os.close(owner)


def _remove_backfill_folder(repo: Git, folder: Path) -> None:
    """Unregister and delete a backfill's worktree and its folder (again: a no-op)."""
    if folder.exists():
        repo.run_unchecked("worktree", "remove", "--force", str(folder / _BACKFILL_TREE))
        shutil.rmtree(folder, ignore_errors=True)
    repo.run_unchecked("worktree", "prune")


def remove_stale_worktrees(root: Path) -> list[Path]:
    """Remove the backfill worktrees of ``root`` no running plimsoll uses; those removed.

    A backfill killed outright (SIGKILL, the machine stopped) leaves its worktree registered
    in the repository and its folder in the temporary folder; ``git worktree prune`` alone
    keeps it, as its folder still exists. One is stale when the lock file beside it is free
    (its run and that run's collector processes have ended), or missing (a plimsoll older
    than the lock made it). Worktrees of other tools are never touched.
    """
    import fcntl
    import os

    repo = Git(root)
    listed = repo.run_unchecked("worktree", "list", "--porcelain")
    removed: list[Path] = []
    for line in listed.stdout.decode("utf-8", "replace").splitlines():
        if not line.startswith("worktree "):
            continue
        tree = Path(line.removeprefix("worktree "))
        if tree.name != _BACKFILL_TREE or not tree.parent.name.startswith(_BACKFILL_PREFIX):
            continue
        try:
            lock = os.open(tree.parent / _BACKFILL_OWNER, os.O_RDWR)
        except FileNotFoundError:
            lock = None
        except OSError:
            continue  # not ours to judge (another user's file): leave it
        try:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a backfill running now
        finally:
            if lock is not None:
                os.close(lock)
        _remove_backfill_folder(repo, tree.parent)
        removed.append(tree)
    return removed


@dataclass(frozen=True)
class Backfill:
    """What a backfill did: the collections made, and the commits skipped as already recorded."""

    collections: list[Collection]
    already_recorded: list[str]
    commits: int  # in the range
    last: str | None = None  # the range's newest commit (B of A..B), collected or not


def backfill(
    project: Project,
    spec: str,
    *,
    names: Sequence[str] | None = None,
    use_cache: bool = True,
    skip_recorded: bool = True,
    on_commit: Callable[[int, int, str], None] | None = None,
    on_done: Callable[[runner.CollectorOutcome], None] | None = None,
) -> Backfill:
    """Collect each commit of ``spec`` (``A..B``) in a temporary worktree, like ``wily build``.

    Every commit of ``git rev-list A..B`` is collected, oldest first, side branches merged
    into the range included. A record's timestamp is its commit's committer date, so history
    orders by commit time. Commits that already have a record are skipped (and listed in
    the result) unless ``skip_recorded`` is false.
    """
    try:
        shas = gitinfo.rev_range(project.root, spec)
    except GitError as exc:
        raise UsageError(
            f"--rev {spec!r}: not a revision range of this repository "
            f"({exc}){gitinfo.shallow_hint(project.root)}"
        ) from None
    in_range = len(shas)
    # A range given from a branch (X..main) records that branch on the commits made on it,
    # as a collect on the branch would; commits merged in from side branches name none.
    branch = gitinfo.branch_named(project.root, gitinfo.range_tip(spec))
    on_branch: set[str] = set()
    if branch is not None and "..." not in spec:
        on_branch = gitinfo.first_parent_line(project.root, spec) if ".." in spec else set(shas)
    last = shas[-1] if shas else None
    skipped: list[str] = []
    if skip_recorded:
        recorded = {entry.sha7 for entry in project.history().entries()}
        skipped = [s for s in shas if s[:7] in recorded]
        shas = [s for s in shas if s[:7] not in recorded]
    cache = cache_path(project.root, project.config) if use_cache else None
    collections: list[Collection] = []
    with temporary_worktree(project.root) as tree:
        for index, sha in enumerate(shas):
            if on_commit is not None:
                on_commit(index, len(shas), sha)
            gitinfo.git(tree, "checkout", "--quiet", "--detach", "--force", sha)
            info = gitinfo.commit_info(tree, sha, worktree=False)
            if sha in on_branch:
                info = replace(info, branch=branch)
            when = datetime.fromisoformat(info.committed_at).astimezone(UTC)
            collections.append(
                collect_tree(
                    tree,
                    project.config,
                    info,
                    names=names,
                    cache=cache,
                    timestamp=when,
                    on_done=on_done,
                    base=project.base,
                )
            )
    return Backfill([project.stamp(c) for c in collections], skipped, in_range, last)


def find_baseline(project: Project, record: Record) -> Baseline:
    """The record deltas compare against (see :mod:`plimsoll.code.baseline`), and why not."""
    return baseline_module.find_baseline(
        project.root,
        project.history(),
        record,
        base_branch=project.config.base_branch,
        remote=project.config.remote,
        source=str(project.loaded.source or "configuration"),
    )


def baseline(project: Project, record: Record) -> Record | None:
    """The record deltas compare against (see :func:`find_baseline`), or None."""
    return find_baseline(project, record).record


@dataclass(frozen=True)
class Validation:
    """A threshold report and, when a rule is a delta, the baseline it compared with.

    ``compared`` names the delta rules that compared with an older record of the baseline
    commit than the newest (which lacked their metric); ``unchecked`` is a warning line per
    ``fail`` delta rule that had nothing to compare with.
    """

    report: ThresholdReport
    baseline: Baseline | None  # None: no delta rule, no baseline needed
    compared: tuple[RuleBaseline, ...] = ()
    unchecked: tuple[str, ...] = ()
    require_baseline: bool = False

    def baseline_lines(self) -> list[str]:
        """What to say about the baseline: which record(s) deltas compared with, or why none."""
        if self.baseline is None:
            return []
        return [
            self.baseline.describe(self.require_baseline),
            *(c.describe() for c in self.compared),
        ]

    def baseline_json(self) -> dict[str, Any] | None:
        """The baseline as JSON: its record, how it was found or why there is none, per rule."""
        if self.baseline is None:
            return None
        return {
            "record": self.baseline.to_json(),
            "warning": self.baseline.warning,
            "how": self.baseline.how,
            "missing": self.baseline.missing,
            "require_baseline": self.require_baseline,
            "rules": [c.to_json() for c in self.compared],
            "unchecked": list(self.unchecked),
        }


def names_for(project: Project, *, before_collecting: bool = False) -> metric_names.MetricNames:
    """What thresholds and trends may name in ``project``: its tools asked in its folder (its
    settings and plugins count), the codes they report cached under ``code.cache_dir``."""
    return metric_names.MetricNames(
        project.root / project.base,
        project.root / project.config.cache_dir,
        before_collecting=before_collecting,
    )


def check_thresholds(project: Project, record: Record | None = None) -> None:
    """ConfigError (exit 2) naming ``code.thresholds[N].metric`` when a threshold names a metric
    no collector records (a typo, a group, a code its tool cannot report); ``record``, when
    given, is the one about to be checked (a value it holds is taken as it is)."""
    check_metric_names(
        project.config.thresholds,
        names_for(project, before_collecting=record is None),
        source=project.loaded.source,
        records=[record.metrics] if record is not None else [],
    )


def check(project: Project, record: Record) -> Validation:
    """Evaluate the configured thresholds on ``record`` (deltas against :func:`find_baseline`).

    Each delta rule compares with the newest record of the baseline commit holding its
    metric. A ``fail`` delta rule with nothing to compare with is skipped (and named in
    ``unchecked``), or fails the gate when ``code.require_baseline`` is true.
    """
    specs = project.config.thresholds
    # Custom validators are import paths into the analysed project, as alembic's
    # prepend_sys_path makes env.py importable: put its root (and src/) first on sys.path.
    for folder in (project.root / "src", project.root):
        if folder.is_dir() and str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    found = find_baseline(project, record) if any(s.delta for s in specs) else None
    require = bool(project.config.require_baseline)
    done = baseline_module.evaluate(
        specs,
        record,
        found,
        require=require,
        source=project.loaded.source,
        names=names_for(project),
    )
    return Validation(done.report, found, done.compared, done.unchecked, require)


def validate(project: Project, record: Record) -> ThresholdReport:
    """Evaluate the configured thresholds on ``record`` (see :func:`check`)."""
    return check(project, record).report


class Selection(StrEnum):
    """Why a record was chosen for ``show`` or ``validate``."""

    GIVEN = "given"  # the revision named on the command line
    HEAD = "head"  # no revision: HEAD's commit has a record
    NEWEST = "newest"  # no revision and no record of HEAD: the newest on the branch


@dataclass(frozen=True)
class SelectedRecord:
    """A record and why it was chosen."""

    record: Record
    selection: Selection
    head: str | None = None

    def describe(self) -> str:
        """One line naming the record used when none was asked for ("" when one was)."""
        sha7 = self.record.commit_sha[:7]
        if self.selection is Selection.HEAD:
            return f"using the record of HEAD ({sha7})"
        if self.selection is Selection.NEWEST:
            where = f", collected on {self.record.branch}" if self.record.branch else ""
            head = f"HEAD ({self.head[:7]})" if self.head else "HEAD"
            return f"{head} has no record: using the newest record ({sha7}{where})"
        return ""


def select_record(project: Project, rev: str | None) -> SelectedRecord:
    """The record of ``rev``; with no ``rev``, HEAD's record, else the newest record.

    Several CI jobs on different branches may push to one history branch, so "the newest"
    can be another job's: the record of the commit checked out comes first.
    """
    history = project.history()
    if rev is not None:
        return SelectedRecord(record_for(project, rev), Selection.GIVEN)
    head = gitinfo.head_sha(project.root)
    if head is not None:
        found = history.find(head)
        if found is not None:
            return SelectedRecord(found, Selection.HEAD, head)
    latest = history.latest()
    if latest is None:
        hint = history.unfetched_hint()
        if hint is not None:
            raise InputError(f"no records on branch {project.branch!r} here: {hint}")
        raise InputError(
            f"no records on branch {project.branch!r} yet (run `plimsoll code collect`)"
        )
    return SelectedRecord(latest, Selection.NEWEST, head)


def gated_record(project: Project, filled: Backfill) -> Record | None:
    """The record a backfill's ``--validate`` checks: that of the range's newest commit.

    Collected by this backfill, or already on the history branch (skipped as recorded);
    None for an empty range.
    """
    if filled.last is None:
        return None
    for collection in filled.collections:
        if collection.record.commit_sha == filled.last:
            return collection.record
    return record_for(project, filled.last)


def record_for(project: Project, rev: str | None) -> Record:
    """The record of ``rev`` (a commit-ish or a sha prefix); with None, see :func:`select_record`."""
    if rev is None:
        return select_record(project, None).record
    history = project.history()
    try:
        sha = gitinfo.git(project.root, "rev-parse", "--verify", f"{rev}^{{commit}}")
    except GitError:
        # Not a commit here; a sha prefix may still name a record (of a commit gone since).
        if not rev.strip() or any(c not in "0123456789abcdef" for c in rev.strip().lower()):
            raise UsageError(
                f"{rev!r} is not a commit, tag or branch of this repository, "
                f"nor the sha of a recorded commit{gitinfo.shallow_hint(project.root)}"
            ) from None
        sha = rev
    found = history.find(sha)
    if found is None:
        hint = history.unfetched_hint()
        where = f": {hint}" if hint is not None else ""
        raise InputError(f"no record for {rev!r} on branch {project.branch!r}{where}")
    return found


def difference(left: Record, right: Record) -> list[tuple[str, Any, Any, float | None]]:
    """The headline metrics that differ between two records: (path, a, b, b - a) rows.

    A path shown for one record only is looked up in the other as well: a code absent from
    a complete count map there reads 0 (see :mod:`plimsoll.code.lookup`), and a value left
    out of the other's table (a map too large to list) is still compared.
    """
    a, b = summary.flatten(left.metrics), summary.flatten(right.metrics)
    for path in set(a) ^ set(b):
        side, record = (b, right) if path in a else (a, left)
        value = lookup.resolve_metric(record.metrics, path)
        if value is None or isinstance(value, bool | int | float | str):
            side[path] = value
    return summary.difference(a, b)


@dataclass(frozen=True)
class TrendPoint:
    """One record's value of a metric."""

    timestamp: datetime
    commit_sha: str
    value: Any


def trend(
    project: Project,
    metric: str,
    limit: int | None = None,
    on_error: Callable[[HistoryEntry, str], None] | None = None,
) -> list[TrendPoint]:
    """The values of ``metric`` across history, oldest first (records without it are left out).

    Headline metrics come from the local trend index (each record parsed once, ever); a path
    into per-item detail (``per_file``, ``items``, ...) reads the records themselves.
    """
    history = project.history()
    points = []
    # What the records hold at ``metric`` when it is not a number, to say why none is.
    seen: list[Any] = []
    # Each record's metric paths, for a "did you mean" (a cheap view, flattened only if needed).
    known: list[Mapping[str, Any]] = []
    # Whether a record holds the metric itself, rather than an absent code read as 0.
    held = False
    if is_indexed_path(metric):
        index = TrendIndex(project.root / project.config.cache_dir / INDEX_FILE)
        try:
            indexed_records = index.records(history, on_error=on_error)
        finally:
            index.close()
        for indexed in indexed_records:
            known.append(indexed.metrics)
            value = indexed.metrics.get(metric, _ABSENT)
            held = held or value is not _ABSENT
            if value is _ABSENT and lookup.flat_counted_zero(indexed.metrics, metric):
                value = 0  # a code absent from a complete count map (see code.lookup)
            if is_number(value):
                points.append(TrendPoint(indexed.timestamp, indexed.commit_sha, value))
            elif value is not _ABSENT:
                seen.append(value)
        if not points and not seen and indexed_records:
            # The index keeps scalars only: a group of metrics is there as its leaves (in
            # the newest record that has them), a list only in the records themselves.
            group = _indexed_group(indexed_records, metric)
            if group:
                seen.append(group)
            else:
                latest = history.latest()
                value = resolve(latest.metrics, metric) if latest is not None else None
                if latest is not None and not isinstance(value, MetricMissing):
                    seen.append(value)
    else:
        for record in history.load_all(on_error=on_error):
            known.append(record.metrics)
            held = held or not isinstance(resolve(record.metrics, metric), MetricMissing)
            value = lookup.resolve_metric(record.metrics, metric)
            if is_number(value):
                points.append(TrendPoint(record.timestamp, record.commit_sha, value))
            elif not isinstance(value, MetricMissing):
                seen.append(value)
    if points and not held:
        # Every point is an absent code read as 0: right only for a code the tool can report.
        problem = names_for(project).code_problem(metric)
        if problem is not None:
            raise UsageError(f"metric {metric}: {problem}")
    if not points:
        _explain_no_points(project, metric, known, seen)
    points.sort(key=lambda p: p.timestamp)
    return points[-limit:] if limit else points


_ABSENT = object()


def _indexed_group(records: Sequence[Any], metric: str) -> dict[str, Any]:
    """The group of metrics at ``metric`` rebuilt from the newest indexed record holding it."""
    start = metric + "."
    for indexed in reversed(records):
        group: dict[str, Any] = {}
        for path, value in indexed.metrics.items():
            if not path.startswith(start):
                continue
            node = group
            *parents, leaf = path[len(start) :].split(".")
            for part in parents:
                child = node.setdefault(part, {})
                node = child if isinstance(child, dict) else {}
            node[leaf] = value
        if group:
            return group
    return {}


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a group of metrics"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bool):
        return "a yes/no value"
    return f"text ({value!r})" if isinstance(value, str) else type(value).__name__


def _explain_no_points(
    project: Project, metric: str, known: Sequence[Mapping[str, Any]], seen: Sequence[Any]
) -> None:
    """Raise the error that says why no record has a number at ``metric`` (none if only nulls).

    ``known`` holds each record's metrics (flat paths from the index, or nested); ``seen``
    the values found at ``metric``. A misspelt or non-numeric metric is a usage error
    (exit 2) rather than an empty chart, so a CI step drawing a trend does not pass quietly
    on a typo.
    """
    branch = project.branch
    if not known:
        hint = project.history().unfetched_hint()
        if hint is not None:
            raise InputError(f"no readable records on branch {branch!r} here: {hint}")
        raise InputError(f"no readable records on branch {branch!r} (run `plimsoll code collect`)")
    present = [v for v in seen if v is not None]
    if present:
        value = present[-1]
        hint = ""
        if isinstance(value, Mapping):
            leaves = scalar_leaves(value)
            numeric = [f"{metric}.{k}" for k in sorted(leaves) if is_number(leaves[k])]
            shown = ", ".join(numeric[:8])
            more = f" and {len(numeric) - 8} more" if len(numeric) > 8 else ""
            hint = f"; its numbers are {shown}{more}" if numeric else ""
        raise UsageError(f"metric {metric} is not a number: it holds {_kind(value)}{hint}")
    if seen:
        return  # the key is there, only ever null (a collector that measured nothing)
    paths = sorted({path for metrics in known for path in scalar_leaves(metrics)})
    near = difflib.get_close_matches(metric, paths, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(near)}?)" if near else ""
    raise UsageError(
        f"metric {metric} is in none of the {len(known)} records on branch {branch!r}{hint}"
    )


def retention_planner(
    project: Project, action: str, older_than: int | None = None, now: datetime | None = None
) -> retention.Planner:
    """The planner of ``prune``, ``compress`` or ``rotate`` with the configured settings.

    ``older_than`` (``--older-than N``, 0 included) overrides the configured age; a bad
    setting is reported here, before anything is read.
    """
    settings = project.config.retention
    when = now or datetime.now(UTC)
    planner: retention.Planner
    if action == "prune":
        planner = functools.partial(
            retention.plan_prune,
            now=when,
            keep_days=settings.keep_days,
            weekly_after_days=settings.weekly_after_days,
            monthly_after_days=settings.monthly_after_days,
            older_than_days=older_than,
        )
    elif action == "compress":
        days = settings.compress_after_days if older_than is None else older_than
        planner = functools.partial(retention.plan_compress, now=when, older_than_days=days)
    elif action == "rotate":
        max_age = settings.max_age_days if older_than is None else older_than
        if max_age is None:
            raise UsageError("rotate needs code.retention.max_age_days or --older-than N")
        planner = functools.partial(retention.plan_rotate, now=when, max_age_days=max_age)
    else:
        raise UsageError(f"unknown retention action {action!r}")
    planner([], unreadable={})  # settings checked now, not halfway through a commit
    return planner


def run_retention(
    project: Project,
    action: str,
    older_than: int | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> tuple[retention.Plan, retention.ApplyResult]:
    """Plan ``prune``, ``compress`` or ``rotate`` on the history branch and carry it out.

    The plan is made on the tip the commit is built on (again after a lost race with another
    writer), so what it reports is what was done.
    """
    planner = retention_planner(project, action, older_than, now)
    # Rotation goes by age alone; prune and compress must know the unreadable records.
    return retention.run(
        project.history(), planner, dry_run=dry_run, check_readable=action != "rotate"
    )


def check_collector_names(names: Sequence[str], option: str = "--collectors") -> None:
    """UsageError (exit 2) naming ``option`` when one of ``names`` is no registered collector."""
    found = plugins.discover(plugins.COLLECTORS)
    known = set(found.loaded) | {failure.name for failure in found.failures}
    unknown = [name for name in names if name not in known]
    if unknown:
        listed = ", ".join(sorted(found.loaded)) or "none"
        raise UsageError(f"{option}: unknown collector {unknown[0]!r} (known: {listed})")


def describe_collectors() -> list[dict[str, Any]]:
    """Every registered collector: name, description, metric keys, and whether it can run here."""
    found = plugins.discover(plugins.COLLECTORS)
    rows: list[dict[str, Any]] = []
    for name, cls in sorted(found.loaded.items()):
        problem = cls().unavailable()
        rows.append(
            {
                "name": name,
                "ready": problem is None,
                "problem": problem,
                "keys": list(cls.keys),
                "metrics": metric_names.describe_keys(cls),
                "description": cls.description,
            }
        )
    for failure in found.failures:
        rows.append(
            {
                "name": failure.name,
                "ready": False,
                "problem": failure.error,
                "keys": [],
                "metrics": [],
                "description": "",
            }
        )
    return rows
