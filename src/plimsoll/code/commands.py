"""One plain function per ``plimsoll code`` subcommand; the CLI is a thin layer over these."""

from __future__ import annotations

import difflib
import functools
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from plimsoll.code import gitinfo, retention, runner, sources
from plimsoll.code.collect import Collection, cache_path, collect_tree, project_base
from plimsoll.code.gitplumbing import Git, PushOutcome
from plimsoll.code.history import History, HistoryEntry, PushResult
from plimsoll.code.record import Record
from plimsoll.code.summary import is_number
from plimsoll.code.thresholds import ThresholdReport, evaluate_thresholds
from plimsoll.code.trendindex import INDEX_FILE, TrendIndex, is_indexed_path, scalar_leaves
from plimsoll.core import plugins
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import ConfigError, GitError, InputError, UsageError
from plimsoll.core.rules import MetricMissing, resolve


@dataclass(frozen=True)
class Project:
    """A repository and its configuration, as every code command needs them."""

    root: Path
    loaded: LoadedConfig

    @property
    def config(self) -> Any:
        """The ``code`` section of the configuration."""
        return self.loaded.config.code

    def history(self) -> History:
        """The history branch of this repository."""
        return History(self.root, branch=self.config.branch, remote=self.config.remote)

    @property
    def base(self) -> str:
        """The project's folder in the repository (its configuration file's): ``.`` at the top."""
        return project_base(self.root, self.loaded.source)


def open_project(loaded: LoadedConfig, start: Path | None = None) -> Project:
    """The git repository containing ``start`` (default: where the config was found).

    ConfigError (exit 2) naming ``code.branch`` when the history branch is checked out, here
    or in another worktree: records committed there would show as undone changes in its
    index and work tree, so nothing is read or written.
    """
    root = gitinfo.repository_root(start or loaded.root)
    project = Project(root, loaded)
    where = project.history().checked_out_in()
    if where is not None:
        source = loaded.source or "configuration"
        branch = project.config.branch
        worktree = "" if where.resolve() == root.resolve() else f" (in the worktree {where})"
        raise ConfigError(
            f"{source}: code.branch: {branch!r} is the checked-out branch{worktree}; the metrics "
            "history needs a branch of its own (the default is 'code-metrics')"
        )
    return project


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
    return collection


@dataclass(frozen=True)
class StoreResult:
    """Where ``store`` put records: the paths written, and the push when one was asked for."""

    paths: list[str]
    branch: str
    remote: str
    push: PushResult | None = None

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
    """Append records to the history branch, and push it when asked."""
    history = project.history()
    written = [history.append_blob(record) for record in records]
    paths = [path for path, _ in written]
    pushed = history.push(retries=project.config.push_retries) if push else None
    if pushed is not None and pushed.merges:
        # Merging the remote's records may have renamed ours (same name, other content):
        # report where each record really is now.
        where = history.locate([blob for _, blob in written])
        paths = [where.get(blob, path) for path, blob in written]
    return StoreResult(paths, history.branch, history.remote, pushed)


@contextmanager
def temporary_worktree(root: Path) -> Iterator[Path]:
    """A detached worktree of ``root`` in a temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="plimsoll-backfill-"))
    tree = folder / "tree"
    repo = Git(root)
    repo.run("worktree", "add", "--detach", "--quiet", str(tree), "HEAD")
    try:
        yield tree
    finally:
        repo.run_unchecked("worktree", "remove", "--force", str(tree))
        shutil.rmtree(folder, ignore_errors=True)
        repo.run_unchecked("worktree", "prune")


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
            f"--rev {spec!r}: not a revision range of this repository ({exc})"
        ) from None
    in_range = len(shas)
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
    return Backfill(collections, skipped, in_range, last)


@dataclass(frozen=True)
class Baseline:
    """The record deltas compare against (None: no record to compare with), and any warning."""

    record: Record | None
    warning: str | None = None

    def describe(self) -> str:
        """One line naming the baseline record, or saying there is none."""
        if self.record is None:
            return "no baseline record: delta rules are skipped"
        where = f" on {self.record.branch}" if self.record.branch else ""
        return (
            f"deltas compare with the record of {self.record.commit_sha[:7]}{where} "
            f"({self.record.timestamp:%Y-%m-%d %H:%M:%S} UTC)"
        )

    def to_json(self) -> dict[str, Any] | None:
        """The baseline record's identity as JSON, or None."""
        if self.record is None:
            return None
        return {
            "commit_sha": self.record.commit_sha,
            "branch": self.record.branch,
            "timestamp": self.record.timestamp.isoformat(),
        }


def find_baseline(project: Project, record: Record) -> Baseline:
    """The record deltas compare against: the newest record of the base branch's history.

    On the base branch itself, that is the newest record of an earlier commit; on another
    branch, the newest record at or before the merge base with the base branch. When
    ``code.base_branch`` names no branch here (nor on the remote), the warning says so and
    the commit's own first-parent history is used.
    """
    history = project.history()
    base = project.config.base_branch
    candidates = (base, f"{project.config.remote}/{base}")
    warning: str | None = None
    if not any(gitinfo.resolves(project.root, c) for c in candidates):
        source = project.loaded.source or "configuration"
        warning = (
            f"{source}: code.base_branch: no branch {base!r} here (nor {candidates[1]}); "
            "delta rules compare with the commit's own first-parent history"
        )
    by_sha7: dict[str, list[HistoryEntry]] = {}
    for entry in history.entries():
        by_sha7.setdefault(entry.sha7, []).append(entry)
    if not by_sha7:
        return Baseline(None, warning)
    start: str | None = None
    for candidate in candidates:
        found = gitinfo.merge_base(project.root, record.commit_sha, candidate)
        if found:
            start = found
            break
    if start is None or start == record.commit_sha:
        start = f"{record.commit_sha}~1"
    for sha in gitinfo.first_parent_history(project.root, start):
        for entry in reversed(by_sha7.get(sha[:7], [])):
            try:
                found_record = history.load(entry)
            except InputError:
                continue
            if found_record.commit_sha == sha:
                return Baseline(found_record, warning)
    return Baseline(None, warning)


def baseline(project: Project, record: Record) -> Record | None:
    """The record deltas compare against (see :func:`find_baseline`), or None."""
    return find_baseline(project, record).record


@dataclass(frozen=True)
class Validation:
    """A threshold report and, when a rule is a delta, the baseline it compared with."""

    report: ThresholdReport
    baseline: Baseline | None  # None: no delta rule, no baseline needed


def check(project: Project, record: Record) -> Validation:
    """Evaluate the configured thresholds on ``record`` (deltas against :func:`find_baseline`)."""
    specs = project.config.thresholds
    # Custom validators are import paths into the analysed project, as alembic's
    # prepend_sys_path makes env.py importable: put its root (and src/) first on sys.path.
    for folder in (project.root / "src", project.root):
        if folder.is_dir() and str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    found = find_baseline(project, record) if any(s.delta for s in specs) else None
    previous = found.record if found is not None else None
    report = evaluate_thresholds(
        specs,
        record.metrics,
        previous.metrics if previous is not None else None,
        collector_errors=record.collector_errors,
    )
    return Validation(report, found)


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
        raise InputError(
            f"no records on branch {project.config.branch!r} yet (run `plimsoll code collect`)"
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
        sha = rev
    found = history.find(sha)
    if found is None:
        raise InputError(f"no record for {rev!r} on branch {project.config.branch!r}")
    return found


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
    if is_indexed_path(metric):
        index = TrendIndex(project.root / project.config.cache_dir / INDEX_FILE)
        try:
            indexed_records = index.records(history, on_error=on_error)
        finally:
            index.close()
        for indexed in indexed_records:
            known.append(indexed.metrics)
            value = indexed.metrics.get(metric, _ABSENT)
            if is_number(value):
                points.append(TrendPoint(indexed.timestamp, indexed.commit_sha, value))
            elif value is not _ABSENT:
                seen.append(value)
        if not points and not seen and indexed_records:
            # The index keeps scalars only: a group of metrics or a list is in the records.
            latest = history.latest()
            value = resolve(latest.metrics, metric) if latest is not None else None
            if latest is not None and not isinstance(value, MetricMissing):
                seen.append(value)
    else:
        for record in history.load_all(on_error=on_error):
            known.append(record.metrics)
            value = resolve(record.metrics, metric)
            if is_number(value):
                points.append(TrendPoint(record.timestamp, record.commit_sha, value))
            elif not isinstance(value, MetricMissing):
                seen.append(value)
    if not points:
        _explain_no_points(project, metric, known, seen)
    points.sort(key=lambda p: p.timestamp)
    return points[-limit:] if limit else points


_ABSENT = object()


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
    branch = project.config.branch
    if not known:
        raise InputError(f"no readable records on branch {branch!r} (run `plimsoll code collect`)")
    present = [v for v in seen if v is not None]
    if present:
        value = present[-1]
        hint = ""
        if isinstance(value, Mapping):
            numeric = [f"{metric}.{k}" for k, v in value.items() if is_number(v)][:5]
            hint = f"; try {', '.join(numeric)}" if numeric else ""
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
                "description": "",
            }
        )
    return rows
