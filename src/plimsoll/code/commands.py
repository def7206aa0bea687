"""One plain function per ``plimsoll code`` subcommand; the CLI is a thin layer over these."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plimsoll.code import gitinfo, retention, runner
from plimsoll.code.collect import Collection, cache_path, collect_tree
from plimsoll.code.gitplumbing import Git
from plimsoll.code.history import History, HistoryEntry
from plimsoll.code.record import Record
from plimsoll.code.thresholds import ThresholdReport, evaluate_thresholds
from plimsoll.code.trendindex import INDEX_FILE, TrendIndex, is_indexed_path
from plimsoll.core import plugins
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import GitError, InputError, UsageError
from plimsoll.core.rules import resolve


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


def open_project(loaded: LoadedConfig, start: Path | None = None) -> Project:
    """The git repository containing ``start`` (default: where the config was found)."""
    root = gitinfo.repository_root(start or loaded.root)
    return Project(root, loaded)


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
    cache = cache_path(project.root, project.config) if use_cache else None
    collection = collect_tree(
        project.root, project.config, info, names=names, cache=cache, on_done=on_done
    )
    return collection


def store(project: Project, records: Sequence[Record], push: bool = False) -> list[str]:
    """Append records to the history branch (and push it when asked); return the paths written."""
    history = project.history()
    paths = [history.append(record) for record in records]
    if push:
        history.push(retries=project.config.push_retries)
    return paths


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


def backfill(
    project: Project,
    spec: str,
    *,
    names: Sequence[str] | None = None,
    use_cache: bool = True,
    skip_recorded: bool = True,
    on_commit: Callable[[int, int, str], None] | None = None,
    on_done: Callable[[runner.CollectorOutcome], None] | None = None,
) -> list[Collection]:
    """Collect each commit of ``spec`` (``A..B``) in a temporary worktree, like ``wily build``.

    A record's timestamp is its commit's committer date, so history orders by commit time.
    Commits that already have a record are skipped unless ``skip_recorded`` is false.
    """
    try:
        shas = gitinfo.rev_range(project.root, spec)
    except GitError as exc:
        raise UsageError(
            f"--rev {spec!r}: not a revision range of this repository ({exc})"
        ) from None
    if skip_recorded:
        recorded = {entry.sha7 for entry in project.history().entries()}
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
                )
            )
    return collections


def baseline(project: Project, record: Record) -> Record | None:
    """The record deltas compare against: the newest record of the base branch's history.

    On the base branch itself, that is the newest record of an earlier commit; on another
    branch, the newest record at or before the merge base with the base branch.
    """
    history = project.history()
    by_sha7: dict[str, list[HistoryEntry]] = {}
    for entry in history.entries():
        by_sha7.setdefault(entry.sha7, []).append(entry)
    if not by_sha7:
        return None
    base = project.config.base_branch
    start: str | None = None
    for candidate in (base, f"{project.config.remote}/{base}"):
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
                return found_record
    return None


def validate(project: Project, record: Record) -> ThresholdReport:
    """Evaluate the configured thresholds on ``record`` (deltas against :func:`baseline`)."""
    specs = project.config.thresholds
    # Custom validators are import paths into the analysed project, as alembic's
    # prepend_sys_path makes env.py importable: put its root (and src/) first on sys.path.
    for folder in (project.root / "src", project.root):
        if folder.is_dir() and str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    previous = baseline(project, record) if any(s.delta for s in specs) else None
    return evaluate_thresholds(
        specs,
        record.metrics,
        previous.metrics if previous is not None else None,
        collector_errors=record.collector_errors,
    )


def record_for(project: Project, rev: str | None) -> Record:
    """The record of ``rev`` (a commit-ish or a sha prefix), or the latest when None."""
    history = project.history()
    if rev is None:
        latest = history.latest()
        if latest is None:
            raise InputError(
                f"no records on branch {project.config.branch!r} yet (run `plimsoll code collect`)"
            )
        return latest
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
    if is_indexed_path(metric):
        index = TrendIndex(project.root / project.config.cache_dir / INDEX_FILE)
        try:
            for indexed in index.records(history, on_error=on_error):
                value = indexed.metrics.get(metric)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    points.append(TrendPoint(indexed.timestamp, indexed.commit_sha, value))
        finally:
            index.close()
    else:
        for record in history.load_all(on_error=on_error):
            value = resolve(record.metrics, metric)
            if isinstance(value, int | float) and not isinstance(value, bool):
                points.append(TrendPoint(record.timestamp, record.commit_sha, value))
    points.sort(key=lambda p: p.timestamp)
    return points[-limit:] if limit else points


def plan_retention(
    project: Project, action: str, older_than: int | None = None, now: datetime | None = None
) -> retention.Plan:
    """Plan ``prune``, ``compress`` or ``rotate`` over the history branch."""
    settings = project.config.retention
    entries = project.history().entries()
    now = now or datetime.now(UTC)
    if action == "prune":
        return retention.plan_prune(
            entries,
            now,
            keep_days=settings.keep_days,
            weekly_after_days=settings.weekly_after_days,
            monthly_after_days=settings.monthly_after_days,
            older_than_days=older_than,
        )
    if action == "compress":
        return retention.plan_compress(entries, now, older_than or settings.compress_after_days)
    if action == "rotate":
        max_age = older_than or settings.max_age_days
        if max_age is None:
            raise UsageError("rotate needs code.retention.max_age_days or --older-than N")
        return retention.plan_rotate(entries, now, max_age)
    raise UsageError(f"unknown retention action {action!r}")


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
