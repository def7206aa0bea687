#!/usr/bin/env python3
"""Benchmark: one alert evaluation cycle over 1,000 rules reading the store.

A SQLite state store (a file, WAL, as in production) holds five minutes of samples at a 10 s
interval for 100 metrics with 10 series each (30,000 points). 1,000 rules (ten per metric:
thresholds on the last value, averages and maxima over windows, rates, and a few absent-data
rules, some with label matchers, some with ``for``) are evaluated by the real
:class:`~plimsoll.runtime.alerts.engine.AlertEngine`: read every series, evaluate the
conditions with ``core.rules``, move the lifecycle, plan grouping and queue notifications in
the outbox, all in one transaction. Ten cycles run, the samples moving on between them so alerts
go pending, fire and resolve.

Target: **<= 200 ms per cycle** (median and p95 printed). The floor printed beside it is the bare
reading of the same samples through ``plimsoll.runtime.storage.series`` (what any evaluator must
pay); their ratio says what evaluation adds. A missed target prints MISS and never fails.

Usage: ``.venv/bin/python bench/bench_alerts.py [--cycles 10]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from plimsoll.core.store import SqliteStore  # noqa: E402
from plimsoll.runtime import storage  # noqa: E402
from plimsoll.runtime.alerts.config import AlertsConfig  # noqa: E402
from plimsoll.runtime.alerts.engine import AlertEngine  # noqa: E402
from plimsoll.runtime.alerts.samples import StoreSamples  # noqa: E402

TARGET_MS = 200.0
METRICS = 100
SERIES = 10
STEP = 10.0
T0 = 1_700_000_000.0


def rules() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for m in range(METRICS):
        metric = f"bench_metric_{m}_total" if m % 4 == 0 else f"bench_metric_{m}"
        for r in range(10):
            name = f"R{m}_{r}"
            if m % 4 == 0 and r < 5:
                out.append(
                    {
                        "name": name,
                        "metric": metric,
                        "function": "rate",
                        "window": "2m",
                        "op": ">",
                        "value": 0.5 + r,
                    }
                )
            elif r == 9 and m % 10 == 0:
                out.append(
                    {
                        "name": name,
                        "metric": metric,
                        "function": "absent",
                        "window": "1m",
                        "matchers": [f"host=h{r}"],
                    }
                )
            else:
                agg = ("last", "avg", "max", "min")[r % 4]
                rule: dict[str, object] = {
                    "name": name,
                    "metric": metric,
                    "aggregate": agg,
                    "window": "3m",
                    "op": ">",
                    "value": 40 + 5 * r,
                }
                if r % 3 == 0:
                    rule["matchers"] = ["host=~h[0-4]"]
                if r % 2 == 0:
                    rule["for"] = "30s"
                out.append(rule)
    return out  # fmt: skip


def fill(store: SqliteStore, start: float, end: float, phase: int) -> None:
    batch = []
    t = start
    while t <= end:
        for m in range(METRICS):
            metric = f"bench_metric_{m}_total" if m % 4 == 0 else f"bench_metric_{m}"
            for s in range(SERIES):
                if m % 4 == 0:
                    value = (t - T0) * (s + 1) * 0.3
                else:
                    value = (m * 7 + s * 13 + phase * 11 + int(t / STEP)) % 100
                batch.append(storage.Sample(metric, float(value), t, {"host": f"h{s}"}))
        t += STEP
    storage.add_samples(store, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args()
    config = AlertsConfig.model_validate(
        {"rules": rules(), "group_wait": "0s", "group_interval": "0s", "channels": []}
    )
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "state.db")
        fill(store, T0, T0 + 300, 0)
        engine = AlertEngine(config, store, StoreSamples(store))
        metrics = sorted({r.metric for r in config.rules})
        times, floor, transitions = [], [], 0
        now = T0 + 300
        for cycle in range(args.cycles):
            started = time.perf_counter()
            for metric in metrics:
                storage.series(store, metric, now - 180, now)
            floor.append((time.perf_counter() - started) * 1000)
            result = engine.cycle(now)
            times.append(result.seconds * 1000)
            transitions += len(result.transitions)
            fill(store, now + STEP, now + 3 * STEP, cycle + 1)
            now += 3 * STEP
        store.close()
    median = statistics.median(times)
    p95 = sorted(times)[max(int(len(times) * 0.95) - 1, 0)]
    floor_median = statistics.median(floor)
    print(f"rules: {len(config.rules)}  series: {METRICS * SERIES}  cycles: {args.cycles}"
          f"  transitions: {transitions}")  # fmt: skip
    print(f"cycle        median {median:8.1f} ms   p95 {p95:8.1f} ms   max {max(times):8.1f} ms")
    print(f"read floor   median {floor_median:8.1f} ms")
    print(f"ratio cycle/read floor: {median / floor_median:.2f}x")
    print(f"ratio cycle/target: {median / TARGET_MS:.2f} (target <= {TARGET_MS:.0f} ms)")
    print("PASS" if p95 <= TARGET_MS else f"MISS: p95 {p95:.1f} ms > {TARGET_MS:.0f} ms")


if __name__ == "__main__":
    main()
