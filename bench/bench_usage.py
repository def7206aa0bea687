#!/usr/bin/env python3
"""Benchmark: what ``@track_usage`` costs a caller, against a bare call and a Counter.inc().

Measured in one process, side by side (each timed alternately, best of ``--repeat`` runs of
``--number`` calls):

* a bare call of a small function;
* the same function decorated with ``@track_usage`` on an enabled tracker (a real SQLite store in
  a temporary folder); the tracker's queue is sized for the whole run and its flusher is idle
  while the caller is timed, so the time is the caller's alone (the flusher's own cost, per
  event written, is printed afterwards as information);
* prometheus_client's ``Counter.inc()`` (the peer), and the same function decorated but with
  tracking off (what a disabled tracker costs).

Targets: the overhead of ``@track_usage`` (decorated minus bare) at most 2 µs per call, and at
most 4x a ``Counter.inc()``.

Usage: ``.venv/bin/python bench/bench_usage.py [--number 200000] [--repeat 7]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _benchlib import Verdicts, main_guard, say, table  # noqa: E402

MAX_OVERHEAD_NS = 2000.0
MAX_RATIO = 4.0
INNER = 100


def loop(call: Callable[[int], object]) -> Callable[[], None]:
    """``call`` run ``INNER`` times per timeit iteration: timeit's own loop is then negligible."""

    def run() -> None:
        for i in range(INNER):
            call(i)

    return run


def best(
    candidates: dict[str, Callable[[], None]], number: int, repeat: int, drain: Callable[[], None]
) -> dict[str, float]:
    """Nanoseconds per call of each candidate: the best of ``repeat`` interleaved runs."""
    out = dict.fromkeys(candidates, float("inf"))
    for _ in range(repeat):
        for name, func in candidates.items():
            took = timeit.Timer(func).timeit(number) / (number * INNER) * 1e9
            out[name] = min(out[name], took)
            drain()  # the queue is emptied between runs, outside the timing
    return out


def run(calls: int, repeat: int) -> None:
    """Time the candidates, print the table and the verdicts."""
    import prometheus_client

    from plimsoll.core.store import SqliteStore
    from plimsoll.runtime import storage, usage

    folder = Path(tempfile.mkdtemp(prefix="plimsoll-bench-usage-"))
    try:
        store = SqliteStore(folder / "state.db")
        number = max(1, calls // INNER)
        # Room for a whole run, no early wake-up: the caller never meets a full queue or the
        # flusher's transaction while it is timed.
        tracker = usage.UsageTracker(
            store,
            enabled=True,
            queue_size=number * INNER + 1,
            batch_size=number * INNER + 1,
            flush_interval=3600.0,
        )
        off = usage.UsageTracker(store)

        def work(i: int) -> int:
            return i

        tracked = usage.track_usage("bench.work", tracker=tracker)(work)
        untracked = usage.track_usage("bench.off", tracker=off)(work)
        registry = prometheus_client.CollectorRegistry()
        counter = prometheus_client.Counter("bench_calls", "Calls.", registry=registry)

        # The peer is timed the way it is called: one bound method, no wrapper of ours.
        def inc_loop() -> None:
            for _ in range(INNER):
                counter.inc()

        flush_seconds = [0.0]
        flushed = [0]

        def drain() -> None:
            started = time.perf_counter()
            while n := tracker.flush():
                flushed[0] += n
            flush_seconds[0] += time.perf_counter() - started

        say(f"timing {number * INNER} calls x {repeat} runs per candidate")
        results = best(
            {
                "bare call": loop(work),
                "@track_usage (on)": loop(tracked),
                "@track_usage (off)": loop(untracked),
                "Counter.inc()": inc_loop,
            },
            number,
            repeat,
            drain,
        )
        assert tracker.stop() and tracker.dropped == 0
        stored = storage.count_events(store)
        store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    bare, on, off_ns, inc_ns = (
        results["bare call"],
        results["@track_usage (on)"],
        results["@track_usage (off)"],
        results["Counter.inc()"],
    )
    overhead = on - bare
    print(f"\nPython {sys.version.split()[0]}, prometheus_client {_version()}\n")
    rows = [
        ("bare call", f"{bare:.0f} ns", "-", "-"),
        ("@track_usage (on)", f"{on:.0f} ns", f"{overhead:.0f} ns", f"{overhead / inc_ns:.2f}x"),
        ("@track_usage (off)", f"{off_ns:.0f} ns", f"{off_ns - bare:.0f} ns", "-"),
        ("Counter.inc() (peer)", f"{inc_ns:.0f} ns", "-", "1.00x"),
    ]
    print(table(("call", "per call", "over bare", "overhead / Counter.inc()"), rows))
    print()
    verdicts = Verdicts("bench_usage")
    verdicts.target(
        "@track_usage overhead over a bare call",
        f"{overhead:.0f} ns",
        f"<= {MAX_OVERHEAD_NS:.0f} ns",
        overhead <= MAX_OVERHEAD_NS,
    )
    verdicts.target(
        "@track_usage overhead vs prometheus_client Counter.inc()",
        f"{overhead / inc_ns:.2f}x",
        f"<= {MAX_RATIO:.1f}x",
        overhead / inc_ns <= MAX_RATIO,
    )
    print(
        f"info  the background flusher wrote {stored} events, "
        f"{flush_seconds[0] / max(flushed[0], 1) * 1e9:.0f} ns per event (off the caller's path)"
    )
    verdicts.summary()


def _version() -> str:
    from importlib.metadata import version

    return version("prometheus_client")


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=200_000, help="calls per run (200000)")
    parser.add_argument("--repeat", type=int, default=7, help="runs per candidate, best kept (7)")
    args = parser.parse_args()
    run(args.number, args.repeat)


if __name__ == "__main__":
    main_guard(main)
