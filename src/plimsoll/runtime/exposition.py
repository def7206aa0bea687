"""``/metrics``: prometheus_client's exposition served as an ASGI app, a WSGI app or a small server.

The body is prometheus_client's own output (``generate_latest`` in the text format, or
OpenMetrics when the scraper asks for it in ``Accept``, chosen by prometheus_client's
``choose_encoder``), gzipped when the scraper accepts it, limited to some metrics with
``?name[]=...``. Which registry is exposed is decided at each scrape (:func:`resolve_registry`): the
one given, else in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set) every process's files
through prometheus_client's ``MultiProcessCollector``, else plimsoll's default registry.

- Starlette/FastAPI: ``app.add_route("/metrics", make_asgi_app())`` (or ``app.mount``);
- Flask and other WSGI apps: werkzeug's ``DispatcherMiddleware(app.wsgi_app, {"/metrics":
  make_wsgi_app()})``;
- Django or anything else: ``body, content_type = render(accept=...)`` in a view;
- a worker without a web server: :func:`start_http_server`.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.exposition import CONTENT_TYPE_LATEST, choose_encoder, gzip_accepted
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from plimsoll.core.log import get_logger
from plimsoll.runtime import instruments, multiprocess
from plimsoll.runtime.asgi import Receive, Scope, Send, lifespan, route_path, send_response

__all__ = [
    "CONTENT_TYPE_LATEST",
    "MetricsASGIApp",
    "MetricsServer",
    "MetricsWSGIApp",
    "Response",
    "make_asgi_app",
    "make_wsgi_app",
    "render",
    "resolve_registry",
    "start_http_server",
]

_log = get_logger("runtime.exposition")

_ALLOW = "GET, HEAD, OPTIONS"


def resolve_registry(registry: CollectorRegistry | None = None) -> CollectorRegistry:
    """The registry one scrape exposes: ``registry``; else, in multiprocess mode, a fresh one
    collecting every process's files; else plimsoll's default registry."""
    if registry is not None:
        return registry
    if multiprocess.is_enabled():
        return multiprocess.collector_registry()
    return instruments.get_default_registry()


def render(
    registry: CollectorRegistry | None = None,
    *,
    accept: str | None = None,
    names: Sequence[str] | None = None,
) -> tuple[bytes, str]:
    """The exposition body and its content type, negotiated from an ``Accept`` header.

    ``names`` limits the output to the metrics with one of those names, as a family
    (``http_requests``) or a sample name (``http_requests_total``), like ``?name[]=``.
    """
    encoder, content_type = choose_encoder(accept or "")
    target: Collector = resolve_registry(registry)
    if names:
        target = _Only(target, names)
    return encoder(target), content_type


class _Only(Collector):
    """The metric families of a registry that have one of ``names`` (a family or a sample name).

    prometheus_client's ``restricted_registry`` finds metrics by the names their collectors
    describe, and the multiprocess collector describes none: it would expose nothing.
    """

    def __init__(self, registry: Collector, names: Iterable[str]) -> None:
        self._registry = registry
        self._names = frozenset(names)

    def collect(self) -> Iterable[Metric]:
        """The wanted families, whole."""
        names = self._names
        for metric in self._registry.collect():
            if metric.name in names or any(sample.name in names for sample in metric.samples):
                yield metric


@dataclass(frozen=True)
class Response:
    """One HTTP answer of the metrics apps, independent of ASGI or WSGI."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


class _MetricsApp:
    """What the ASGI and WSGI apps share: the registry, the path, and the answer to one request."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        path: str | None = None,
        disable_compression: bool = False,
    ) -> None:
        self.registry = registry
        self.path = (path.rstrip("/") or "/") if path is not None else None
        self.disable_compression = disable_compression

    def respond(
        self,
        method: str,
        path: str,
        *,
        accept: str = "",
        accept_encoding: str = "",
        query: str = "",
    ) -> Response:
        """Answer one request: 200 with the exposition for GET/HEAD, 404 off ``path``, 405 else."""
        if self.path is not None and (path.rstrip("/") or "/") != self.path:
            return _text(404, "Not Found", f"not found: {path} (metrics are at {self.path})")
        if method == "OPTIONS":
            return Response(200, "OK", (("Allow", _ALLOW), ("Content-Length", "0")), b"")
        if method not in ("GET", "HEAD"):
            return _text(405, "Method Not Allowed", f"{method} not allowed", (("Allow", _ALLOW),))
        names = parse_qs(query).get("name[]")
        try:
            body, content_type = render(self.registry, accept=accept, names=names)
        except Exception as exc:  # a collector failed: say so to the scraper, keep serving
            _log.exception("metrics exposition failed", extra={"event": "metrics_failed"})
            return _text(500, "Internal Server Error", f"metrics collection failed: {exc}")
        headers = [("Content-Type", content_type), ("Vary", "Accept, Accept-Encoding")]
        if not self.disable_compression and gzip_accepted(accept_encoding):
            body = gzip.compress(body)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        return Response(200, "OK", tuple(headers), b"" if method == "HEAD" else body)


def _text(status: int, reason: str, text: str, extra: Iterable[tuple[str, str]] = ()) -> Response:
    body = (text + "\n").encode("utf-8")
    headers = (
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        *extra,
    )
    return Response(status, reason, headers, body)


class MetricsASGIApp(_MetricsApp):
    """The ``/metrics`` ASGI app (an instance, so Starlette's ``add_route`` treats it as ASGI).

    Also answers ASGI lifespan events, so it can be served on its own (``uvicorn module:app``).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        kind = scope["type"]
        if kind == "lifespan":
            await lifespan(receive, send)
            return
        if kind != "http":
            # A websocket: closing before accepting makes the server answer 403.
            await send({"type": "websocket.close", "code": 1000})
            return
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers") or ():
            name = raw_name.decode("latin-1").lower()
            if name in ("accept", "accept-encoding"):
                value = raw_value.decode("latin-1")
                headers[name] = f"{headers[name]},{value}" if name in headers else value
        # Collection is synchronous, as in prometheus_client's ASGI app: a scrape every few
        # seconds costs milliseconds, less than a thread hop would on most registries.
        response = self.respond(
            scope["method"],
            route_path(scope),
            accept=headers.get("accept", ""),
            accept_encoding=headers.get("accept-encoding", ""),
            query=(scope.get("query_string") or b"").decode("latin-1"),
        )
        await send_response(send, response.status, response.headers, response.body)


class MetricsWSGIApp(_MetricsApp):
    """The ``/metrics`` WSGI app (Flask through DispatcherMiddleware, gunicorn, wsgiref)."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """Serve one WSGI request."""
        response = self.respond(
            environ.get("REQUEST_METHOD", "GET"),
            environ.get("PATH_INFO") or "/",
            accept=environ.get("HTTP_ACCEPT", ""),
            accept_encoding=environ.get("HTTP_ACCEPT_ENCODING", ""),
            query=environ.get("QUERY_STRING", ""),
        )
        start_response(f"{response.status} {response.reason}", list(response.headers))
        return [response.body]


def make_asgi_app(
    registry: CollectorRegistry | None = None,
    *,
    path: str | None = None,
    disable_compression: bool = False,
) -> MetricsASGIApp:
    """An ASGI app serving the exposition of ``registry`` (resolved at each scrape when ``None``).

    ``path`` answers only there (404 elsewhere): set it when the app is the whole server, leave
    it out when a router already sends it ``/metrics``.
    """
    return MetricsASGIApp(registry, path=path, disable_compression=disable_compression)


def make_wsgi_app(
    registry: CollectorRegistry | None = None,
    *,
    path: str | None = None,
    disable_compression: bool = False,
) -> MetricsWSGIApp:
    """A WSGI app serving the exposition of ``registry`` (resolved at each scrape when ``None``).

    ``path`` as in :func:`make_asgi_app`.
    """
    return MetricsWSGIApp(registry, path=path, disable_compression=disable_compression)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request, so a slow scrape does not hold the next."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """No access log line on stderr for every scrape."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return


class MetricsServer:
    """A running ``/metrics`` HTTP server on a daemon thread (from :func:`start_http_server`)."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The port the server listens on (the one chosen by the system when 0 was asked)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The metrics URL: ``http://host:port/metrics``."""
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_http_server(
    port: int,
    addr: str = "127.0.0.1",
    registry: CollectorRegistry | None = None,
    *,
    path: str | None = "/metrics",
) -> MetricsServer:
    """Serve the exposition over HTTP from a daemon thread (for a worker with no web server).

    Binds ``127.0.0.1`` unless told otherwise: pass ``addr="0.0.0.0"`` for a Prometheus on another
    host. ``port=0`` lets the system choose (read it from ``.port``).
    """
    app = make_wsgi_app(registry, path=path)
    server = make_server(addr, port, app, _ThreadingWSGIServer, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="plimsoll-metrics", daemon=True)
    thread.start()
    return MetricsServer(server, thread)
