#!/usr/bin/env python3
"""Benchmark: the readiness endpoint at 200 requests per second on loopback, against a bare ASGI app.

Two uvicorn servers run side by side, each in its own process, with the same uvicorn settings:

* **health**: plimsoll's ``HealthASGI`` with a real :class:`HealthRunner`: the system check (CPU,
  memory, disk, open files, threads) and a service check making a real HTTP request to the bare
  server's ``/dependency`` (and a database check with ``--database-url``), all kept for their
  interval (``--interval``, default 5 s, so the checks also rerun under load during the run);
* **bare** (the floor): a minimal ASGI app answering a constant ``{"status":"pass"}`` with the
  same content type: what serving any JSON over uvicorn costs on this machine.

The client (this process) sends ``--rate`` requests per second to each, interleaved, on
schedule (open loop: a send is never skipped, a late one is counted) over one keep-alive
connection per server, for ``--seconds`` after a one-second warm-up, and measures each
request's latency from send to the last byte of the body. It prints p50/p90/p99/max for both,
the ratio of the p99s, and how many times the checks really ran (the bare server counts the
service check's requests): with a 5 s interval over 10 s, 2 or 3 runs, not 2,000.

Target: **health p99 <= 10 ms** (checks cached for their interval). The ratio against the
floor is printed for information. A missed target prints MISS and never fails; exit code 3
only when something could not run.

Usage: ``.venv/bin/python bench/bench_health.py [--rate 200] [--seconds 10] [--interval 5]
[--database-url postgresql://...]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _benchlib import CannotRun, Verdicts, main_guard, say, table  # noqa: E402

TARGET_P99_MS = 10.0
BARE_BODY = b'{"status":"pass"}'


# --- the servers (run in child processes: ``bench_health.py --serve health|bare``) -------------


def _bare_app() -> Any:
    dependency_calls = 0

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal dependency_calls
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = BARE_BODY
        if scope["path"] == "/dependency":
            dependency_calls += 1
        elif scope["path"] == "/count":
            body = str(dependency_calls).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/health+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def _health_app(bare_port: int, interval: float, database_url: str | None) -> Any:
    from plimsoll.runtime.checks.service import ServiceHealthCheck
    from plimsoll.runtime.checks.system import SystemHealthCheck
    from plimsoll.runtime.endpoints import HealthASGI
    from plimsoll.runtime.health import HealthCheck, HealthRunner

    checks: list[HealthCheck] = [
        SystemHealthCheck(interval_seconds=interval),
        ServiceHealthCheck(
            url=f"http://127.0.0.1:{bare_port}/dependency",
            component="dependency",
            interval_seconds=interval,
        ),
    ]
    if database_url:
        from plimsoll.runtime.checks.database import DatabaseHealthCheck

        checks.append(DatabaseHealthCheck(url=database_url, interval_seconds=interval))
    return HealthASGI(HealthRunner(checks, service_id="bench"))


def serve(kind: str, port: int, bare_port: int, interval: float, database_url: str | None) -> None:
    """Run one server until terminated."""
    import uvicorn

    app = _bare_app() if kind == "bare" else _health_app(bare_port, interval, database_url)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


# --- the client --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(kind: str, port: int, args: argparse.Namespace, bare_port: int) -> Iterator[None]:
    cmd = [
        sys.executable,
        __file__,
        "--serve",
        kind,
        "--port",
        str(port),
        "--bare-port",
        str(bare_port),
        "--interval",
        str(args.interval),
    ]
    if args.database_url:
        cmd += ["--database-url", args.database_url]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read() if proc.stderr else ""
                    raise CannotRun(f"the {kind} server did not start:\n{err}") from None
                time.sleep(0.05)
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def _dependency_calls(bare_port: int) -> int:
    # A connection of its own each time: uvicorn closes idle keep-alive connections after 5 s.
    conn = http.client.HTTPConnection("127.0.0.1", bare_port, timeout=10)
    try:
        return int(_get(conn, "/count")[1])
    finally:
        conn.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def load(
    ports: dict[str, int], rate: float, seconds: float, warmup: float
) -> tuple[dict[str, list[float]], dict[str, int], int]:
    """Send ``rate`` req/s to each server, interleaved, on schedule; latencies in ms per server."""
    conns = {
        name: http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for name, port in ports.items()
    }
    latencies: dict[str, list[float]] = {name: [] for name in ports}
    statuses: dict[str, int] = {}
    late = 0
    step = 1.0 / rate
    names = list(ports)
    start = time.perf_counter()
    total = int((seconds + warmup) * rate)
    try:
        for i in range(total):
            for j, name in enumerate(names):
                due = start + i * step + j * step / len(names)
                now = time.perf_counter()
                if now < due:
                    time.sleep(due - now)
                elif now - due > step:
                    late += 1
                sent = time.perf_counter()
                status, body = _get(conns[name], "/health")
                took = (time.perf_counter() - sent) * 1000.0
                if not body:
                    raise CannotRun(f"{name}: empty response")
                if i >= warmup * rate:
                    latencies[name].append(took)
                    statuses[f"{name} {status}"] = statuses.get(f"{name} {status}", 0) + 1
    finally:
        for conn in conns.values():
            conn.close()
    return latencies, statuses, late


def bench(args: argparse.Namespace) -> None:
    verdicts = Verdicts("health endpoint")
    bare_port, health_port = _free_port(), _free_port()
    say(f"starting the bare server (:{bare_port}) and the health server (:{health_port})")
    with (
        _server("bare", bare_port, args, bare_port),
        _server("health", health_port, args, bare_port),
    ):
        probe = http.client.HTTPConnection("127.0.0.1", health_port, timeout=30)
        status, body = _get(probe, "/health")
        probe.close()
        doc = json.loads(body)
        say(f"health answers {status}: {doc['status']}, checks {', '.join(doc.get('checks', {}))}")
        before = _dependency_calls(bare_port)
        say(f"{args.rate:g} req/s to each for {args.seconds:g} s (after {args.warmup:g} s warm-up)")
        latencies, statuses, late = load(
            {"health": health_port, "bare": bare_port}, args.rate, args.seconds, args.warmup
        )
        runs = _dependency_calls(bare_port) - before

    rows = []
    for name, values in latencies.items():
        rows.append(
            [
                name,
                len(values),
                _percentile(values, 50),
                _percentile(values, 90),
                _percentile(values, 99),
                max(values),
            ]
        )
    print(table(["server", "requests", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows))
    print(f"responses: {', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}")
    print(f"sends later than one step behind schedule: {late}")
    print(
        f"the checks ran {runs} times during the load (+warm-up) at a {args.interval:g} s "
        f"interval, for {len(latencies['health'])} health requests"
    )
    health_p99 = _percentile(latencies["health"], 99)
    bare_p99 = _percentile(latencies["bare"], 99)
    ratio = health_p99 / bare_p99 if bare_p99 else float("inf")
    print(f"ratio health/bare p99: {ratio:.2f}x ({health_p99:.2f} ms vs {bare_p99:.2f} ms)")
    verdicts.target(
        f"health p99 at {args.rate:g} req/s",
        f"{health_p99:.2f} ms (bare ASGI floor {bare_p99:.2f} ms, {ratio:.2f}x)",
        f"<= {TARGET_P99_MS:g} ms",
        health_p99 <= TARGET_P99_MS,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second to each")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--interval", type=float, default=5.0, help="the checks' interval (s)")
    parser.add_argument("--database-url", default=os.environ.get("PLIMSOLL_BENCH_DATABASE_URL"))
    parser.add_argument("--serve", choices=["health", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bare-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.bare_port, args.interval, args.database_url)
        return
    main_guard(lambda: bench(args))


if __name__ == "__main__":
    main()
