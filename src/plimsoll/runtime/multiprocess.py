"""prometheus_client's multiprocess mode: one exposition for a server with several worker processes.

A pre-fork server (gunicorn, uwsgi) or a worker pool runs the same code in several processes, and
a scrape of ``/metrics`` lands in one of them. In multiprocess mode every process writes its
values to memory-mapped files in one directory (``PROMETHEUS_MULTIPROC_DIR``), and the exposition
reads all the files and combines them: counters, histograms and summaries are summed, gauges
combined by their ``multiprocess_mode``.

The life cycle, with gunicorn (``docs/runtime/metrics.md`` has the whole ``gunicorn.conf.py``):

1. the master process, before any worker starts: :func:`setup` (sets the variable, empties the
   directory of the previous run's files);
2. each worker: declares and uses its instruments as usual; the ``/metrics`` app of
   :mod:`plimsoll.runtime.exposition` finds the variable and collects from the directory;
3. the master, when a worker exits: :func:`mark_process_dead` (:func:`child_exit` is the gunicorn
   hook), which drops the dead worker's ``live*`` gauges.

prometheus_client's limits apply: no custom collectors in the workers, no ``remove()`` of
labelled series, and gauges need a ``multiprocess_mode`` that fits (``livesum`` for "in
progress", ``max`` for a high-water mark).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Protocol

from prometheus_client import values
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.multiprocess import mark_process_dead as _prometheus_mark_process_dead
from prometheus_client.registry import CollectorRegistry

from plimsoll.core.errors import UsageError
from plimsoll.runtime import instruments

__all__ = [
    "ENV_VAR",
    "child_exit",
    "collector_registry",
    "directory",
    "is_enabled",
    "mark_process_dead",
    "setup",
]

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"
# The lower-case name prometheus_client still honours (deprecated).
_LEGACY_ENV_VAR = "prometheus_multiproc_dir"


def directory() -> Path | None:
    """The multiprocess directory from the environment, or ``None`` outside multiprocess mode."""
    value = os.environ.get(ENV_VAR) or os.environ.get(_LEGACY_ENV_VAR)
    return Path(value) if value else None


def is_enabled() -> bool:
    """Whether multiprocess mode is on (``PROMETHEUS_MULTIPROC_DIR`` is set)."""
    return directory() is not None


def setup(path: str | os.PathLike[str], *, clean: bool = True) -> Path:
    """Turn multiprocess mode on for this process and the processes it starts; return the directory.

    Creates the directory, removes the ``*.db`` files of a previous run when ``clean`` (only in the
    master, before any worker starts: a worker's files are its live values), and sets
    ``PROMETHEUS_MULTIPROC_DIR``. prometheus_client picks its value store when it is first
    imported, so if it was imported before the variable was set, its store is switched here:
    metrics created from now on write to the directory. Metrics created before keep in-process
    values that the exposition does not see; a ``RuntimeWarning`` names the plimsoll ones.
    """
    folder = Path(path).resolve()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"multiprocess directory {folder}: exists and is not a directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if clean:
            # Only prometheus_client's own files: the directory may be shared with other things.
            for stale in folder.glob("*.db"):
                stale.unlink()
    except OSError as exc:
        raise UsageError(f"multiprocess directory {folder}: {exc.strerror or exc}") from None
    os.environ[ENV_VAR] = str(folder)
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.get_value_class()
        early = sorted(family.name for family in instruments.all_declared())
        if early:
            warnings.warn(
                "metrics declared before multiprocess.setup() keep in-process values and are "
                f"missing from the multiprocess exposition: {', '.join(early)}",
                RuntimeWarning,
                stacklevel=2,
            )
    return folder


def _require_directory(path: str | os.PathLike[str] | None) -> Path:
    folder = Path(path) if path is not None else directory()
    if folder is None:
        raise UsageError(
            f"multiprocess mode is not set up: {ENV_VAR} is not set (call multiprocess.setup())"
        )
    if not folder.is_dir():
        raise UsageError(f"multiprocess directory {folder}: not a directory")
    return folder


def collector_registry(path: str | os.PathLike[str] | None = None) -> CollectorRegistry:
    """A new registry whose only collector reads every process's files (for one exposition).

    ``path`` defaults to ``PROMETHEUS_MULTIPROC_DIR``. Never register this collector in the
    registry the workers' metrics live in: their values would be counted twice.
    """
    folder = _require_directory(path)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(folder))
    return registry


def mark_process_dead(pid: int, path: str | os.PathLike[str] | None = None) -> None:
    """Forget the exited process ``pid``: its ``live*`` gauges (``livesum``, ``liveall``, ...) go.

    Its counters, histograms and summaries stay: their totals remain true after it exits.
    """
    folder = _require_directory(path)
    _prometheus_mark_process_dead(pid, str(folder))


class _Worker(Protocol):
    pid: int


def child_exit(server: object, worker: _Worker) -> None:
    """gunicorn's ``child_exit`` hook: ``from plimsoll.runtime.multiprocess import child_exit``
    in ``gunicorn.conf.py`` marks each exiting worker dead."""
    mark_process_dead(worker.pid)
