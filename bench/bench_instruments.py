#!/usr/bin/env python3
"""Benchmark: the cost of plimsoll's instruments over prometheus_client's own calls.

Measured in one process, side by side (each pair timed alternately, best of ``--repeat`` runs of
``--number`` calls), in a fresh registry:

* ``Counter.inc()`` unlabelled;
* a labelled counter: the child kept in a variable (``child.inc()``), and looked up at each call
  (``counter.labels("GET").inc()``);
* ``Histogram.observe(0.2)``, unlabelled;
* a Timer as a context manager (``with histogram.time(): pass``) and as a decorator (a call of a
  function decorated with ``@histogram.time()``);
* a bare function call against the same function decorated by plimsoll's Timer (what timing a
  function costs in absolute terms), and the same for an ``async`` function awaited in a loop
  (prometheus_client's decorator does not time coroutines, so there is no peer for that one).

Target: every plimsoll call <= 1.10x prometheus_client's (the wrappers add nothing on the hot
path). With ``--multiprocess`` the same runs with prometheus_client in multiprocess mode (values
written to memory-mapped files in a temporary directory), where every call costs more for both.

Usage: ``.venv/bin/python bench/bench_instruments.py [--number 200000] [--repeat 7] [--multiprocess]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _benchlib import Verdicts, main_guard, say, table  # noqa: E402

TARGET = 1.10


def best_per_call(
    pairs: dict[str, tuple[Callable[[], object], Callable[[], object]]], number: int, repeat: int
) -> dict[str, tuple[float, float]]:
    """Seconds per call of each (plimsoll, peer) pair: the best of ``repeat`` runs, interleaved."""
    best: dict[str, list[float]] = {name: [float("inf"), float("inf")] for name in pairs}
    for _ in range(repeat):
        for name, (mine, theirs) in pairs.items():
            for side, func in enumerate((mine, theirs)):
                took = timeit.Timer(func).timeit(number) / number
                best[name][side] = min(best[name][side], took)
    return {name: (mine, theirs) for name, (mine, theirs) in best.items()}


def loop(call: Callable[[], object], inner: int = 100) -> Callable[[], None]:
    """``call`` run ``inner`` times per timeit iteration: timeit's own loop is then negligible."""

    def run() -> None:
        for _ in range(inner):
            call()

    return run


def build(registry: Any) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """The pairs to time: plimsoll's call, prometheus_client's same call."""
    import prometheus_client

    from plimsoll.runtime import instruments

    p_counter = instruments.Counter("p_counter", "C.", registry=registry)
    c_counter = prometheus_client.Counter("c_counter", "C.", registry=registry)
    p_labelled = instruments.Counter("p_labelled", "C.", ["method"], registry=registry)
    c_labelled = prometheus_client.Counter("c_labelled", "C.", ["method"], registry=registry)
    p_child, c_child = p_labelled.labels("GET"), c_labelled.labels("GET")
    p_hist = instruments.Histogram("p_hist", "H.", registry=registry)
    c_hist = prometheus_client.Histogram("c_hist", "H.", registry=registry)

    def p_ctx() -> None:
        with p_hist.time():
            pass

    def c_ctx() -> None:
        with c_hist.time():
            pass

    def work() -> int:
        return 1

    p_decorated = p_hist.time()(work)
    c_decorated = c_hist.time()(work)

    return {
        "Counter.inc()": (loop(p_counter.inc), loop(c_counter.inc)),
        "child.inc() (child kept)": (loop(p_child.inc), loop(c_child.inc)),
        'labels("GET").inc()': (
            loop(lambda: p_labelled.labels("GET").inc()),
            loop(lambda: c_labelled.labels("GET").inc()),
        ),
        "Histogram.observe()": (
            loop(lambda: p_hist.observe(0.2)),
            loop(lambda: c_hist.observe(0.2)),
        ),
        "with histogram.time()": (loop(p_ctx), loop(c_ctx)),
        "@histogram.time() call": (loop(p_decorated), loop(c_decorated)),
        "function: timed vs bare": (loop(p_decorated), loop(work)),
    }


def async_overhead(registry: Any, calls: int, repeat: int) -> tuple[float, float]:
    """Seconds per await of a bare ``async`` function and of the same decorated by a Timer."""
    from plimsoll.runtime import instruments

    hist = instruments.Histogram("p_async", "A.", registry=registry)

    async def work() -> int:
        return 1

    timed = hist.time()(work)

    async def drive(func: Callable[[], Any]) -> None:
        for _ in range(calls):
            await func()

    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for side, func in enumerate((timed, work)):
            took = timeit.Timer(lambda f=func: asyncio.run(drive(f))).timeit(1) / calls
            best[side] = min(best[side], took)
    return best[0], best[1]


def main() -> None:
    """Parse the options and run the benchmark (in multiprocess mode when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--number", type=int, default=200_000, help="calls per run (default 200000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=7, help="runs per call, best kept (default 7)"
    )
    parser.add_argument(
        "--multiprocess", action="store_true", help="prometheus_client in multiprocess mode"
    )
    args = parser.parse_args()

    mode = "in-process values"
    folder = None
    if args.multiprocess:
        # Before prometheus_client is imported: it picks its value store on import.
        folder = tempfile.mkdtemp(prefix="plimsoll-bench-mp-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        mode = f"multiprocess mode ({folder})"

    try:
        run(args.number, args.repeat, mode)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def run(calls: int, repeat: int, mode: str) -> None:
    """Time every pair, print the table and the verdicts."""
    from prometheus_client import CollectorRegistry

    say(f"timing {calls} calls x {repeat} runs per call, {mode}")
    registry = CollectorRegistry()
    number = max(1, calls // 100)  # each timeit iteration makes 100 calls
    results = best_per_call(build(registry), number, repeat)
    async_timed, async_bare = async_overhead(registry, max(1000, calls // 10), repeat)

    rows = []
    for name, (mine, theirs) in results.items():
        rows.append(
            (
                name,
                f"{mine / 100 * 1e9:.0f} ns",
                f"{theirs / 100 * 1e9:.0f} ns",
                f"{mine / theirs:.2f}x",
            )
        )
    rows.append(
        (
            "async function: timed vs bare",
            f"{async_timed * 1e9:.0f} ns",
            f"{async_bare * 1e9:.0f} ns",
            f"{async_timed / async_bare:.2f}x",
        )
    )
    print(f"\nprometheus_client {_prometheus_version()}, Python {sys.version.split()[0]}, {mode}\n")
    print(table(("call", "plimsoll", "peer (prometheus_client / bare)", "ratio"), rows))
    print()

    verdicts = Verdicts("bench_instruments")
    for name, (mine, theirs) in results.items():
        if name.startswith("function:"):
            continue
        ratio = mine / theirs
        verdicts.target(
            name, f"{ratio:.2f}x prometheus_client", f"<= {TARGET:.2f}x", ratio <= TARGET
        )
    timed, bare = results["function: timed vs bare"]
    print(
        f"info  a Timer-decorated call costs {(timed - bare) / 100 * 1e9:.0f} ns more than a bare "
        f"call (sync), {(async_timed - async_bare) * 1e9:.0f} ns more (async)"
    )
    verdicts.summary()


def _prometheus_version() -> str:
    from importlib.metadata import version

    return version("prometheus_client")


if __name__ == "__main__":
    main_guard(main)
