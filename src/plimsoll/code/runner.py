"""Runs collectors in parallel, each in its own process with a timeout.

A process per collector gives a real timeout (the process group is killed, tool
subprocesses included) and isolates crashes: a collector that fails, hangs or is missing
is recorded with its error while the others go on.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sqlite3
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from plimsoll.code.cache import SqliteFileCache
from plimsoll.code.collectors.base import (
    CollectContext,
    Collector,
    CollectorError,
    NullCache,
)
from plimsoll.core import log, plugins
from plimsoll.core.errors import ConfigError

_log = log.get_logger("code.runner")

# The signals the CLI takes as an interrupt (see plimsoll.cli.interrupt).
_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


@dataclass(frozen=True)
class CollectorOutcome:
    """One collector's result: metrics, or the error that stopped it, and how long it took."""

    name: str
    metrics: dict[str, Any] | None
    error: str | None
    duration: float


@dataclass(frozen=True)
class RunResult:
    """All collectors' outcomes of one run."""

    outcomes: tuple[CollectorOutcome, ...]
    duration: float

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """Metrics of the collectors that succeeded, by name."""
        return {o.name: o.metrics for o in self.outcomes if o.metrics is not None}

    @property
    def errors(self) -> dict[str, str]:
        """Errors of the collectors that failed, by name."""
        return {o.name: o.error for o in self.outcomes if o.error is not None}

    @property
    def durations(self) -> dict[str, float]:
        """Seconds each collector took, by name."""
        return {o.name: round(o.duration, 3) for o in self.outcomes}


# How much of an offending value a message shows (a huge set must not flood the record).
_SHOWN_CHARS = 60


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _not_json(metrics: dict[str, Any]) -> list[str]:
    """Every place in ``metrics`` that strict JSON cannot hold, as ``path = value``, in order.

    The record is written with ``allow_nan=False`` and read back as it was written, so a
    NaN, an infinity, a set, an arbitrary object or a non-string key would either make the
    whole record unwritable or come back changed: each is named by its key path (``a.b[2]``).
    Walked with a stack rather than recursion, so a deeply nested result cannot crash this.
    """
    found: list[str] = []
    stack: list[tuple[str, Any]] = [(key, metrics[key]) for key in reversed(list(metrics))]
    while stack:
        path, value = stack.pop()
        if value is None or isinstance(value, (bool, int, str)):
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                found.append(f"{path} = {_shown(value)}")
            continue
        if isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
            continue
        if isinstance(value, dict):
            items: list[tuple[str, Any]] = []
            for key, item in value.items():
                if isinstance(key, str):
                    items.append((f"{path}.{key}", item))
                else:
                    found.append(
                        f"{path} has key {_shown(key)} ({type(key).__name__}, not a string)"
                    )
            stack.extend(reversed(items))
            continue
        found.append(f"{path} = {_shown(value)} ({type(value).__name__})")
    return found


def check_result(result: Any) -> str | None:
    """Why a collector's result cannot go into the record as it is, or None when it can.

    A collector returns a dict of its keys holding JSON values; anything else is that
    collector's error (as if it had raised), so the other collectors' results still stand.
    """
    if not isinstance(result, dict):
        return f"returned {type(result).__name__}, expected a dict of its keys"
    bad = [k for k in result if not isinstance(k, str)]
    if bad:
        return f"returned key {_shown(bad[0])} ({type(bad[0]).__name__}), expected string keys"
    problems = _not_json(result)
    if not problems:
        return None
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"returned a value that is not JSON: {problems[0]}{more}"


def undeclared_keys(collector: Collector, metrics: Mapping[str, Any]) -> list[str]:
    """The top-level keys in ``metrics`` that ``collector`` does not declare in ``keys``."""
    declared = set(collector.keys) | set(collector.key_info)
    return [key for key in metrics if key not in declared]


# (collector, undeclared keys) already warned about: a backfill (``--rev``) collects many
# commits in one process, and one warning per collector is enough.
_warned: set[tuple[str, tuple[str, ...]]] = set()


def _warn_undeclared(collector: Collector, name: str, metrics: Mapping[str, Any]) -> None:
    """Warn, once per process, about top-level keys the collector does not declare.

    They are kept in the record, so nothing measured is lost, but no threshold can be checked
    against them by name until the collector declares them.
    """
    extra = tuple(undeclared_keys(collector, metrics))
    if not extra or (name, extra) in _warned:
        return
    _warned.add((name, extra))
    _log.warning(
        "collector %s returned keys it does not declare in its keys: %s (kept in the "
        "record; declare them so thresholds and `plimsoll code collectors` know them)",
        name,
        ", ".join(extra),
        extra={"collector": name, "keys": list(extra)},
    )


@dataclass
class _Running:
    name: str
    collector: Collector
    process: multiprocessing.process.BaseProcess
    conn: Connection
    started: float
    result: CollectorOutcome | None = field(default=None)


def load_collectors(names: Sequence[str]) -> tuple[dict[str, Collector], dict[str, str]]:
    """Instantiate the named collectors from the entry points; unknown or broken ones as errors."""
    found = plugins.discover(plugins.COLLECTORS)
    unknown = [
        n for n in names if n not in found.loaded and n not in {f.name for f in found.failures}
    ]
    if unknown:
        known = ", ".join(sorted(found.loaded)) or "none"
        raise ConfigError(f"code.collectors: unknown collector {unknown[0]!r} (known: {known})")
    collectors: dict[str, Collector] = {}
    errors: dict[str, str] = {
        f.name: f"failed to load: {f.error}" for f in found.failures if f.name in names
    }
    for name in names:
        if name in errors:
            continue
        try:
            collectors[name] = found.loaded[name]()
        except Exception as exc:  # noqa: BLE001 - a plugin's constructor must never be fatal
            errors[name] = f"failed to start: {type(exc).__name__}: {exc}"
    return collectors, errors


def _child(
    collector: Collector, context: CollectContext, cache_path: Path | None, conn: Connection
) -> None:
    """Runs in the collector's process: collect, send the result, exit."""
    # The parent's handlers (SIGTERM raising KeyboardInterrupt) are not this process's: the
    # parent stops it by killing its process group, and an interrupt here would only print
    # a traceback. Blocked across the fork (see _start), the signals are let in only now.
    for signum in _INTERRUPTS:
        signal.signal(signum, signal.SIG_DFL)
    os.setpgid(0, 0)  # own process group, so a timeout kills the tools it started too
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _INTERRUPTS)
    started = time.perf_counter()
    cache: Any = NullCache()
    try:
        if cache_path is not None:
            try:
                cache = SqliteFileCache(cache_path)
            except sqlite3.Error:
                cache = NullCache()  # the cache is only a cache: analyse without it
        context = replace(context, cache=cache)
        metrics = collector.collect(context)
        # Checked here, before it is pickled: a value that cannot cross the pipe (a lambda)
        # is named by its key path like any other value JSON cannot hold.
        problem = check_result(metrics)
        if problem is not None:
            conn.send(("error", problem, time.perf_counter() - started))
        else:
            conn.send(("ok", metrics, time.perf_counter() - started))
    except CollectorError as exc:
        conn.send(("error", str(exc), time.perf_counter() - started))
    except Exception as exc:  # noqa: BLE001 - reported as this collector's error
        where = traceback.extract_tb(exc.__traceback__)[-1]
        message = f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"
        conn.send(("error", message, time.perf_counter() - started))
    finally:
        conn.close()


def _kill(process: multiprocessing.process.BaseProcess) -> None:
    """Kill the collector's process group (its tools included) and reap the process."""
    pid = process.pid
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.join(5)


def _start(
    mp: Any,
    running: list[_Running],
    name: str,
    collector: Collector,
    context: CollectContext,
    cache_path: Path | None,
) -> None:
    """Start one collector's process, in a process group of its own, and add it to ``running``.

    Added before an interrupt can be let in, so an interrupt never leaves a process untracked.
    """
    parent, child = mp.Pipe(duplex=False)
    process = mp.Process(
        target=_child,
        args=(collector, context, cache_path, child),
        name=f"plimsoll-{name}",
        daemon=False,
    )
    # An interrupt between the fork and the child's own handlers would run the parent's
    # handler in the child: blocked until each side has its handlers in place.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)
    try:
        process.start()
        assert process.pid is not None
        try:
            # Also from here (the child does it too), so the group exists before the parent
            # may need to kill it, whichever process runs first.
            os.setpgid(process.pid, process.pid)
        except OSError:
            pass  # the child has set it already, or has ended
        running.append(_Running(name, collector, process, parent, time.perf_counter()))
    finally:
        child.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _stop_all(running: list[_Running], exc: BaseException) -> None:
    """On an interrupt: kill every collector still running, with the tools it started."""
    for item in running:
        _kill(item.process)
        item.conn.close()
    if running:
        names = ", ".join(item.name for item in running)
        exc.add_note(f"stopped the collectors still running ({names}) and the tools they started")
    running.clear()


def run(
    collectors: Mapping[str, Collector],
    context: CollectContext,
    *,
    timeout: float = 600.0,
    jobs: int | None = None,
    cache_path: Path | None = None,
    on_done: Callable[[CollectorOutcome], None] | None = None,
) -> RunResult:
    """Run ``collectors`` over ``context`` in parallel processes; never raises for one collector."""
    started = time.perf_counter()
    if cache_path is not None:
        # Create the cache file (schema, WAL mode) once here, so the collector processes
        # never race each other to set it up.
        SqliteFileCache(cache_path).close()
    mp = multiprocessing.get_context("fork")
    pending = list(collectors.items())
    limit = max(1, jobs or len(pending) or 1)
    running: list[_Running] = []
    outcomes: list[CollectorOutcome] = []

    def finish(outcome: CollectorOutcome) -> None:
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)

    for name, collector in list(pending):
        reason = collector.unavailable()
        if reason:
            pending.remove((name, collector))
            finish(CollectorOutcome(name, None, reason, 0.0))

    try:
        _run_all(
            pending,
            running,
            limit,
            timeout,
            finish,
            lambda name, collector: _start(mp, running, name, collector, context, cache_path),
        )
    except BaseException as exc:  # an interrupt (Ctrl-C, SIGTERM) or a failure of our own
        _stop_all(running, exc)
        raise
    order = {name: i for i, name in enumerate(collectors)}
    outcomes.sort(key=lambda o: order.get(o.name, len(order)))
    return RunResult(tuple(outcomes), time.perf_counter() - started)


def _run_all(
    pending: list[tuple[str, Collector]],
    running: list[_Running],
    limit: int,
    timeout: float,
    finish: Callable[[CollectorOutcome], None],
    start: Callable[[str, Collector], None],
) -> None:
    """Start collectors ``limit`` at a time and gather their outcomes until all are done."""
    while pending or running:
        while pending and len(running) < limit:
            name, collector = pending.pop(0)
            start(name, collector)
        now = time.perf_counter()
        next_deadline = min(r.started + timeout for r in running)
        ready = wait([r.conn for r in running], timeout=max(0.0, next_deadline - now))
        for item in list(running):
            elapsed = time.perf_counter() - item.started
            if item.conn in ready:
                try:
                    status, payload, took = item.conn.recv()
                except (EOFError, OSError):
                    item.process.join(5)
                    code = item.process.exitcode
                    status, payload, took = "error", f"process died (exit code {code})", elapsed
                item.process.join(30)
                if item.process.is_alive():
                    _kill(item.process)
                item.conn.close()
                running.remove(item)
                if status == "ok":
                    # The child has checked the result (check_result) before sending it.
                    _warn_undeclared(item.collector, item.name, payload)
                    finish(CollectorOutcome(item.name, payload, None, took))
                else:
                    finish(CollectorOutcome(item.name, None, payload, took))
            elif elapsed >= timeout:
                _kill(item.process)
                item.conn.close()
                running.remove(item)
                finish(
                    CollectorOutcome(item.name, None, f"timed out after {timeout:g}s", elapsed),
                )
