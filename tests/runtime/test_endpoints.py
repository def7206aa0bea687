"""Liveness and readiness served for real: the ASGI apps by uvicorn, the WSGI apps by wsgiref."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import uvicorn

from plimsoll.runtime.checks.database import DatabaseHealthCheck
from plimsoll.runtime.checks.service import ServiceHealthCheck
from plimsoll.runtime.checks.system import SystemHealthCheck
from plimsoll.runtime.endpoints import (
    HealthASGI,
    HealthWSGI,
    LivenessASGI,
    ReadinessASGI,
    ReadinessWSGI,
)
from plimsoll.runtime.health import CheckResult, HealthCheck, HealthRunner, Status
from tests.runtime.health_schema import validate
from tests.support.postgres import PgDatabase
from tests.support.servers import HttpRecorder

CONTENT_TYPE = "application/health+json"


class Switch(HealthCheck):
    """A check whose status the test sets, counting its runs."""

    name = "switch"

    def __init__(self, **common: Any) -> None:
        super().__init__(**common)
        self.status = Status.PASS
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def check(self) -> CheckResult:
        self.calls += 1
        self.entered.set()
        self.gate.wait(10)
        return self.result(self.status, self.calls)


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """``app`` served by a real uvicorn server in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """No access log on stderr."""


@contextmanager
def serve_wsgi(app: Callable[..., Any]) -> Iterator[str]:
    """``app`` served by wsgiref's server in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One HTTP request: status, headers (lower-case names) and body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, parts.path or "/")
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


SERVERS = {
    "asgi": (serve_asgi, HealthASGI, ReadinessASGI),
    "wsgi": (serve_wsgi, HealthWSGI, ReadinessWSGI),
}


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_readiness_and_liveness_over_http(kind: str) -> None:
    serve, router, _ = SERVERS[kind]
    check = Switch(component="queue", interval_seconds=0)
    runner = HealthRunner([check], service_id="orders")
    with serve(router(runner)) as base:
        status, headers, body = fetch(f"{base}/health")
        assert status == 200
        assert headers["content-type"] == CONTENT_TYPE
        assert headers["cache-control"] == "no-store"
        doc = json.loads(body)
        validate(doc)
        assert doc["status"] == "pass" and doc["serviceId"] == "orders"
        assert list(doc["checks"]) == ["queue:status"]

        check.status = Status.WARN
        status, _, body = fetch(f"{base}/health/ready")
        assert status == 200 and json.loads(body)["status"] == "warn"

        check.status = Status.FAIL
        status, headers, body = fetch(f"{base}/health")
        assert status == 503 and headers["content-type"] == CONTENT_TYPE
        failed = json.loads(body)
        validate(failed)
        assert failed["status"] == "fail" and failed["output"] == "fail: queue:status"

        # Liveness runs nothing: the process answers.
        calls = check.calls
        status, headers, body = fetch(f"{base}/health/live")
        assert status == 200 and headers["content-type"] == CONTENT_TYPE
        assert json.loads(body) == {"status": "pass", "serviceId": "orders"}
        assert check.calls == calls

        status, headers, body = fetch(f"{base}/health", "HEAD")
        assert status == 503 and body == b"" and int(headers["content-length"]) > 0
        status, headers, _ = fetch(f"{base}/health", "POST")
        assert status == 405 and headers["allow"] == "GET, HEAD"
        status, _, _ = fetch(f"{base}/elsewhere")
        assert status == 404


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_checks_are_cached_for_their_interval(kind: str) -> None:
    serve, _, readiness = SERVERS[kind]
    check = Switch(interval_seconds=60)
    with serve(readiness(HealthRunner([check]))) as base:
        bodies = {fetch(f"{base}/any/path")[2] for _ in range(30)}
    assert check.calls == 1
    assert (
        len(bodies) == 1
        and json.loads(bodies.pop())["checks"]["switch:status"][0]["observedValue"] == 1
    )


def test_asgi_requests_during_a_run_wait_for_that_run() -> None:
    check = Switch(interval_seconds=60)
    check.gate.clear()
    results: list[int] = []

    def probe(base: str) -> None:
        results.append(fetch(f"{base}/health")[0])

    with serve_asgi(HealthASGI(HealthRunner([check]))) as base:
        threads = [threading.Thread(target=probe, args=(base,)) for _ in range(5)]
        for thread in threads:
            thread.start()
        assert check.entered.wait(10)
        # The loop keeps serving while the checks run in a worker thread.
        assert fetch(f"{base}/health/live")[0] == 200
        check.gate.set()
        for thread in threads:
            thread.join(10)
    assert results == [200] * 5
    assert check.calls == 1


def test_a_standalone_liveness_app() -> None:
    with serve_asgi(LivenessASGI()) as base:
        status, headers, body = fetch(f"{base}/")
    assert (status, headers["content-type"], json.loads(body)) == (
        200,
        CONTENT_TYPE,
        {"status": "pass"},
    )


def test_readiness_with_the_real_checks(
    pg_database: PgDatabase, http_recorder: HttpRecorder
) -> None:
    runner = HealthRunner(
        [
            SystemHealthCheck(resources=["memory", "threads"]),
            DatabaseHealthCheck(url=pg_database.dsn, component="orders-db"),
            ServiceHealthCheck(url=f"{http_recorder.url}/ping", component="payments"),
        ]
    )
    with serve_asgi(HealthASGI(runner)) as base:
        status, headers, body = fetch(f"{base}/health")
        doc = json.loads(body)
        validate(doc)
        assert status == 200, doc
        assert set(doc["checks"]) == {
            "system:memoryUtilization",
            "system:threads",
            "orders-db:responseTime",
            "payments:responseTime",
        }
        assert doc["checks"]["orders-db:responseTime"][0]["componentType"] == "datastore"
        assert http_recorder.requests_to("/ping", "GET")
        http_recorder.script(500, path="/ping")
        with serve_wsgi(HealthWSGI(HealthRunner(runner.checks))) as wsgi_base:
            status, headers, body = fetch(f"{wsgi_base}/health")
        assert status == 503 and headers["content-type"] == CONTENT_TYPE
        payments = json.loads(body)["checks"]["payments:responseTime"][0]
        assert (payments["status"], payments["output"]) == ("fail", "HTTP 500 (expected 200)")
