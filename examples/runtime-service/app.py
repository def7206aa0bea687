"""A small catalog service instrumented with plimsoll: a plain ASGI app, no web framework.

Routes:

- ``GET /items/{id}``: one item of the catalog as JSON (404 for an unknown id). ``?fail=1``
  makes the catalog lookup fail on purpose (HTTP 500), and so does a fraction of lookups given
  by the ``CATALOG_FAILURE_RATE`` environment variable (``0.2``: one in five), so the alert rule
  and the SLO have something to see;
- ``GET /metrics``: the Prometheus exposition (plimsoll's ASGI app over prometheus_client);
- ``GET /health/live`` and ``GET /health/ready``: liveness and readiness as
  ``application/health+json``; readiness runs the checks of ``[tool.plimsoll.runtime.health]``.

Every request is counted by route template and status. The performance monitor, started with
the app, samples those counters (and the machine and this process) into plimsoll's store, where
``plimsoll runtime watch`` evaluates the alert rules and ``plimsoll runtime slo`` the
objectives. ``lookup_item`` is a tracked feature: ``plimsoll runtime usage`` reports its calls,
failures and latency.

Run it in this folder: ``uvicorn app:app --port 8000``.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from plimsoll.runtime import usage
from plimsoll.runtime.instruments import Counter, Gauge, Histogram
from plimsoll.runtime.service import RuntimeService

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

HERE = Path(__file__).resolve().parent
# The [tool.plimsoll] settings next to this file: the same ones `plimsoll runtime ...` reads.
# RUNTIME gives the health and metrics apps, and runs the monitor and the usage tracker
# between its start() and stop() (the lifespan below).
RUNTIME = RuntimeService.from_config(start=HERE)

# --- instruments --------------------------------------------------------------------------------

REQUESTS = Counter("http_requests", "HTTP requests answered.", ["method", "route", "status"])
# The SLO's good events: requests answered without a server error (a 404 is the client's).
REQUESTS_OK = Counter(
    "http_requests_ok", "HTTP requests answered without a server error.", ["method", "route"]
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    # Few buckets: every bucket is one more series in /metrics and in the store.
    buckets=(0.005, 0.025, 0.1, 0.5, 2.5),
)
IN_FLIGHT = Gauge("http_requests_in_flight", "HTTP requests being answered.")

ITEMS_ROUTE = "/items/{id}"
# Series created at zero up front, as Prometheus advises: the first error is then an increase
# from 0 that a rate() sees, rather than a new series whose first value is its baseline.
for _status in (200, 404, 500):
    REQUESTS.labels("GET", ITEMS_ROUTE, _status)
REQUESTS_OK.labels("GET", ITEMS_ROUTE)

# --- the catalog: a tracked feature -------------------------------------------------------------

CATALOG = {
    1: {"id": 1, "name": "anchor", "stock": 12},
    2: {"id": 2, "name": "lifebuoy", "stock": 40},
    3: {"id": 3, "name": "sextant", "stock": 3},
}
FAILURE_RATE = float(os.environ.get("CATALOG_FAILURE_RATE", "0"))


class CatalogUnavailable(Exception):
    """The catalog could not be read (here: on purpose, to provoke errors)."""


@usage.track_usage("catalog.lookup")
def lookup_item(item_id: int, *, fail: bool = False) -> dict[str, Any] | None:
    """The item with ``item_id``, or None; raises CatalogUnavailable when told to fail."""
    if fail or random.random() < FAILURE_RATE:
        raise CatalogUnavailable("the catalog is unavailable")
    return CATALOG.get(item_id)


# --- handlers -----------------------------------------------------------------------------------


async def send_json(send: Send, status: int, data: Any) -> None:
    """Send one JSON response."""
    body = json.dumps(data).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def get_item(scope: Scope, receive: Receive, send: Send) -> None:
    """``GET /items/{id}``: the item, 404 when unknown, 500 when the catalog fails."""
    if scope["method"] != "GET":
        await send_json(send, 405, {"error": "use GET"})
        return
    item_id = scope["path"].removeprefix("/items/")
    query = parse_qs(scope.get("query_string", b"").decode())
    fail = query.get("fail", ["0"])[-1] not in ("0", "false", "")
    if not item_id.isdigit():
        await send_json(send, 404, {"error": "no such item"})
        return
    try:
        item = lookup_item(int(item_id), fail=fail)
    except CatalogUnavailable as exc:
        await send_json(send, 500, {"error": str(exc)})
        return
    if item is None:
        await send_json(send, 404, {"error": "no such item"})
    else:
        await send_json(send, 200, item)


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """Any other path."""
    await send_json(send, 404, {"error": "not found"})


METRICS = RUNTIME.metrics_asgi()
# Readiness runs the configured checks (results kept for their interval); liveness checks nothing.
HEALTH = RUNTIME.health_asgi()


def route(path: str) -> tuple[str, Handler]:
    """The route template a path matches (the metrics' label) and its handler."""
    if path.startswith("/items/"):
        return ITEMS_ROUTE, get_item
    if path == "/metrics":
        return path, METRICS
    if path in ("/health", "/health/live", "/health/ready"):
        return path, HEALTH
    return "<unmatched>", not_found


# --- lifespan: the monitor and the usage tracker ------------------------------------------------


async def lifespan(receive: Receive, send: Send) -> None:
    """Start the monitor and the usage tracker with the server, stop them with it.

    RuntimeService.start() samples the counters once at once (the baseline that rates and the
    SLO count from), then every ``runtime.monitor.interval_seconds``; stop() takes a last
    sample, flushes the usage events and closes the store.
    """
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                RUNTIME.start()
            except Exception as exc:  # the server reports it and does not start
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            RUNTIME.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


# --- the app ------------------------------------------------------------------------------------


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI app: every HTTP request counted and timed by route template and status."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    template, handler = route(scope["path"])
    method = scope["method"]
    status = 500  # what the client gets if the handler raises before answering

    async def send_and_see(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    started = time.perf_counter()
    with IN_FLIGHT.track_inprogress():
        try:
            await handler(scope, receive, send_and_see)
        finally:
            LATENCY.labels(method, template).observe(time.perf_counter() - started)
            REQUESTS.labels(method, template, status).inc()
            if status < 500:
                REQUESTS_OK.labels(method, template).inc()
