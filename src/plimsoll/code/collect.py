"""One collection: analyse a work tree with the configured collectors and turn it into a record."""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from plimsoll import __version__
from plimsoll.code import gitinfo, runner, sources
from plimsoll.code.collectors.base import CollectContext
from plimsoll.code.record import Record
from plimsoll.core.config import CodeConfig

CACHE_FILE = "files.sqlite"


@dataclass(frozen=True)
class Collection:
    """The result of collecting one work tree: the record and the runner's outcomes."""

    record: Record
    run: runner.RunResult
    files: int


def cache_path(root: Path, config: CodeConfig) -> Path:
    """Where per-file results are cached for the repository at ``root``."""
    return (root / config.cache_dir / CACHE_FILE).resolve()


def project_base(repository: Path, config_file: Path | None) -> str:
    """The folder of ``config_file`` relative to the repository's top, in posix form.

    ``code.paths`` are relative to that folder, and the tools run there so they read the
    settings beside it (a project in a monorepo keeps its own ``pyproject.toml``). Without a
    configuration file, or with one outside the repository, it is the top itself (``.``).
    """
    if config_file is None:
        return "."
    try:
        relative = config_file.resolve().parent.relative_to(repository.resolve())
    except ValueError:
        return "."
    return relative.as_posix() or "."


def collect_tree(
    tree: Path,
    config: CodeConfig,
    info: gitinfo.CommitInfo,
    *,
    names: Sequence[str] | None = None,
    cache: Path | None = None,
    timestamp: datetime | None = None,
    on_done: Callable[[runner.CollectorOutcome], None] | None = None,
    base: str = ".",
) -> Collection:
    """Run the collectors over the work tree at ``tree`` and build the record for ``info``.

    ``base`` is the project's folder inside the tree (:func:`project_base`): the configured
    paths are found from there, the tools run there, and per-file keys are relative to it.
    """
    chosen = list(names or config.collectors)
    collectors, load_errors = runner.load_collectors(chosen)
    project = tree / base
    found = sources.discover_files(project, config.paths, config.exclude)
    context = CollectContext(
        project,
        sources.source_files(project, found.sources),
        config,
        stubs=sources.source_files(project, found.stubs),
    )
    for name, error in load_errors.items():
        if on_done is not None:
            on_done(runner.CollectorOutcome(name, None, error, 0.0))
    run = runner.run(
        collectors,
        context,
        timeout=config.collector_timeout_seconds,
        jobs=config.jobs,
        cache_path=cache,
        on_done=on_done,
    )
    errors = {**load_errors, **run.errors}
    record = Record(
        timestamp=timestamp or datetime.now(UTC),
        commit_sha=info.sha,
        commit_message=info.message,
        branch=info.branch,
        package_version=gitinfo.package_version(project),
        python_version=platform.python_version(),
        collection_duration_seconds=round(run.duration, 3),
        metrics=run.metrics,
        collector_durations=run.durations,
        collector_errors=errors,
        worktree_dirty=info.dirty,
        detached_head=info.detached,
        plimsoll_version=__version__,
    )
    return Collection(record, run, len(context.files))
