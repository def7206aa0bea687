"""``/metrics`` over real HTTP: the ASGI app under uvicorn, the WSGI app under wsgiref, each in a
thread; what they serve is read back with prometheus_client's own parsers.

``serve_asgi``, ``serve_wsgi`` and ``fetch`` are used by the multiprocess tests too.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import prometheus_client
import pytest
import uvicorn
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from plimsoll.runtime import exposition, instruments
from plimsoll.runtime.instruments import Counter, Gauge, Histogram, Summary

# --- servers and a client (shared with test_multiprocess) -------------------------------------


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn (lifespan on) from a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", http="h11", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serve a WSGI app with wsgiref from a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass(frozen=True)
class Fetched:
    """One HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as UTF-8."""
        return self.body.decode("utf-8")


def fetch(url: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> Fetched:
    """A real HTTP request with urllib (errors returned, not raised)."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Fetched(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as exc:
        return Fetched(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample prometheus_client's text parser reads: (name, sorted labels) -> value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def registry() -> CollectorRegistry:
    """A registry holding one of each instrument with known values."""
    reg = CollectorRegistry()
    requests = Counter("http_requests", "Requests served.", ["method", "code"], registry=reg)
    requests.labels("GET", 200).inc(7)
    requests.labels("POST", 500).inc(2)
    Gauge("queue_depth", "Jobs waiting.", registry=reg).set(12.5)
    latency = Histogram("latency_seconds", "Latency.", buckets=(0.1, 1.0), registry=reg)
    for value in (0.05, 0.5, 0.7, 3.0):
        latency.observe(value)
    Summary("payload_bytes", "Payload sizes.", registry=reg).observe(1024)
    return reg


@pytest.fixture(params=["asgi", "wsgi"])
def served(request: pytest.FixtureRequest, registry: CollectorRegistry) -> Iterator[str]:
    """The registry's ``/metrics`` under uvicorn (ASGI) and under wsgiref (WSGI)."""
    if request.param == "asgi":
        with serve_asgi(exposition.make_asgi_app(registry, path="/metrics")) as url:
            yield url
    else:
        with serve_wsgi(exposition.make_wsgi_app(registry, path="/metrics")) as url:
            yield url


# --- tests ----------------------------------------------------------------------------------------


def test_scrape_parses_to_the_registry_values(served: str, registry: CollectorRegistry) -> None:
    got = fetch(served + "/metrics")
    assert got.status == 200
    assert got.headers["content-type"] == CONTENT_TYPE_PLAIN_0_0_4
    parsed = samples(got.text)
    assert parsed[("http_requests_total", (("code", "200"), ("method", "GET")))] == 7
    assert parsed[("http_requests_total", (("code", "500"), ("method", "POST")))] == 2
    assert parsed[("queue_depth", ())] == 12.5
    assert parsed[("latency_seconds_bucket", (("le", "0.1"),))] == 1
    assert parsed[("latency_seconds_bucket", (("le", "1.0"),))] == 3
    assert parsed[("latency_seconds_bucket", (("le", "+Inf"),))] == 4
    assert parsed[("latency_seconds_count", ())] == 4
    assert parsed[("latency_seconds_sum", ())] == pytest.approx(4.25)
    assert parsed[("payload_bytes_count", ())] == 1
    assert parsed[("payload_bytes_sum", ())] == 1024
    # Every parsed sample is what prometheus_client reports from the registry itself.
    for (name, labels), value in parsed.items():
        assert registry.get_sample_value(name, dict(labels)) == pytest.approx(value)


def test_openmetrics_when_the_scraper_asks(served: str) -> None:
    got = fetch(
        served + "/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0; charset=utf-8"},
    )
    assert got.status == 200
    assert got.headers["content-type"].startswith("application/openmetrics-text")
    assert got.text.endswith("# EOF\n")
    families = {family.name: family for family in openmetrics_families(got.text)}
    assert families["http_requests"].type == "counter"
    total = [s for s in families["http_requests"].samples if s.name == "http_requests_total"]
    assert sorted(s.value for s in total) == [2, 7]


def test_gzip_when_accepted(served: str) -> None:
    plain = fetch(served + "/metrics")
    zipped = fetch(served + "/metrics", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) == len(zipped.body)
    assert samples(gzip.decompress(zipped.body).decode()) == samples(plain.text)
    assert "content-encoding" not in plain.headers


def test_name_filter_limits_the_output(served: str) -> None:
    got = fetch(served + "/metrics?name[]=queue_depth")
    assert samples(got.text) == {("queue_depth", ()): 12.5}


def test_other_paths_and_methods(served: str) -> None:
    assert fetch(served + "/other").status == 404
    posted = fetch(served + "/metrics", method="POST")
    assert posted.status == 405
    assert posted.headers["allow"] == "GET, HEAD, OPTIONS"
    head = fetch(served + "/metrics", method="HEAD")
    assert head.status == 200
    assert head.body == b""
    full = fetch(served + "/metrics")
    assert int(head.headers["content-length"]) == len(full.body)
    assert fetch(served + "/metrics/").status == 200


def test_values_are_read_at_each_scrape(served: str, registry: CollectorRegistry) -> None:
    before = samples(fetch(served + "/metrics").text)[("queue_depth", ())]
    Gauge("queue_depth", "Jobs waiting.", registry=registry).set(3)
    after = samples(fetch(served + "/metrics").text)[("queue_depth", ())]
    assert (before, after) == (12.5, 3)


def test_default_registry_is_resolved_at_each_scrape() -> None:
    fresh = CollectorRegistry()
    app = exposition.make_wsgi_app()  # no registry: the default, looked up per scrape
    previous = instruments.set_default_registry(fresh)
    try:
        Counter("declared_after_the_app", "Late.", registry=None).inc(5)
        with serve_wsgi(app) as url:
            parsed = samples(fetch(url + "/anything").text)
    finally:
        instruments.set_default_registry(previous)
    assert parsed[("declared_after_the_app_total", ())] == 5
    assert instruments.get_default_registry() is prometheus_client.REGISTRY


class _Broken:
    def collect(self) -> Any:
        raise RuntimeError("disk on fire")


def test_a_failing_collector_is_a_500_and_the_server_keeps_serving() -> None:
    reg = CollectorRegistry()
    reg.register(_Broken())  # type: ignore[arg-type]
    with serve_asgi(exposition.make_asgi_app(reg)) as url:
        first = fetch(url + "/metrics")
        second = fetch(url + "/metrics")
    assert first.status == second.status == 500
    assert first.text == "metrics collection failed: disk on fire\n"


def test_render_is_prometheus_clients_output(registry: CollectorRegistry) -> None:
    body, content_type = exposition.render(registry)
    assert content_type == CONTENT_TYPE_PLAIN_0_0_4
    assert body == generate_latest(registry)
    body, content_type = exposition.render(registry, names=["queue_depth"])
    assert samples(body.decode()) == {("queue_depth", ()): 12.5}


def test_start_http_server_for_a_worker(registry: CollectorRegistry) -> None:
    server = exposition.start_http_server(0, registry=registry)
    try:
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        parsed = samples(fetch(server.url).text)
        assert parsed[("queue_depth", ())] == 12.5
        assert fetch(f"http://127.0.0.1:{server.port}/").status == 404
    finally:
        server.close()
    with pytest.raises(OSError):
        fetch(server.url)


def test_asgi_app_mounted_under_a_root_path(registry: CollectorRegistry) -> None:
    app = exposition.make_asgi_app(registry, path="/metrics")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/metrics",
        "root_path": "/api",
        "query_string": b"",
        "headers": [(b"accept", b"text/plain")],
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200
    assert samples(sent[1]["body"].decode())[("queue_depth", ())] == 12.5
