"""Liveness and readiness endpoints as ASGI and WSGI apps, answering ``application/health+json``.

* **liveness**: the process answers, so ``{"status": "pass"}`` (HTTP 200); nothing is checked,
  so an orchestrator restarts the process only when it is really stuck.
* **readiness**: the aggregate of the runner's checks (HTTP 200 for pass and warn, 503 for
  fail). Results are kept for each check's interval, so a probe or a load balancer polling
  hundreds of times a second runs every check at most once per interval; while checks run,
  the requests arriving meanwhile wait for that one run instead of starting their own.

Each app answers ``GET`` and ``HEAD`` (405 otherwise) on any path, to be mounted where the
framework routes it (Starlette's ``Mount``, Werkzeug's ``DispatcherMiddleware``). The routers
:class:`HealthASGI` and :class:`HealthWSGI` serve both on their own paths (``/health`` and
``/health/ready`` for readiness, ``/health/live`` for liveness, 404 elsewhere)::

    runner = HealthRunner([SystemHealthCheck(), DatabaseHealthCheck(url=DATABASE_URL)])
    app.mount("/health", ReadinessASGI(runner))          # FastAPI / Starlette
    uvicorn.run(HealthASGI(runner), port=8081)           # or a separate health port
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from http import HTTPStatus
from typing import Any

from plimsoll.runtime.health import CONTENT_TYPE, HealthReport, HealthRunner

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
StartResponse = Callable[..., Any]

ALLOWED_METHODS = ("GET", "HEAD")
READINESS_PATHS = ("/health", "/health/ready")
LIVENESS_PATHS = ("/health/live",)
# Health must never be served from a cache between the probe and the process.
_CACHE_CONTROL = "no-store"


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def _headers(body: bytes, content_type: str = CONTENT_TYPE) -> list[tuple[str, str]]:
    return [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", _CACHE_CONTROL),
    ]


_NOT_ALLOWED = _json({"status": "fail", "output": "method not allowed (use GET or HEAD)"})
_NOT_FOUND = _json({"status": "fail", "output": "not found"})


# --- ASGI ------------------------------------------------------------------------------------


async def _lifespan(receive: Receive, send: Send) -> None:
    # Nothing to set up: acknowledge the server's lifespan events so it does not warn.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _send(
    send: Send, status: int, body: bytes, head: bool, extra: Sequence[tuple[str, str]] = ()
) -> None:
    headers = [(k.lower().encode(), v.encode()) for k, v in (*_headers(body), *extra)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _not_allowed(send: Send) -> None:
    await _send(send, 405, _NOT_ALLOWED, False, [("Allow", ", ".join(ALLOWED_METHODS))])


class LivenessASGI:
    """ASGI liveness: answers ``pass`` (200) while the process serves requests."""

    def __init__(self, runner: HealthRunner | None = None) -> None:
        report = runner.liveness() if runner is not None else HealthRunner([]).liveness()
        self._body = report.body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] not in ALLOWED_METHODS:
            await _not_allowed(send)
            return
        await _send(send, 200, self._body, scope["method"] == "HEAD")


class ReadinessASGI:
    """ASGI readiness: the runner's aggregate, checks rerun only once their interval is over."""

    def __init__(self, runner: HealthRunner) -> None:
        self.runner = runner
        self._pending: tuple[asyncio.AbstractEventLoop, asyncio.Future[HealthReport]] | None = None

    async def report(self) -> HealthReport:
        """The current report: the kept one, or the result of the one run in progress."""
        report = self.runner.peek()
        if report is not None:
            return report
        loop = asyncio.get_running_loop()
        pending = self._pending
        if pending is None or pending[0] is not loop or pending[1].done():
            # Checks block (sockets, psutil): a worker thread runs them, one run for everyone.
            pending = (loop, loop.run_in_executor(None, self.runner.run))
            self._pending = pending
        # Shielded: a client hanging up must not cancel the run the others wait for.
        return await asyncio.shield(pending[1])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] not in ALLOWED_METHODS:
            await _not_allowed(send)
            return
        report = await self.report()
        await _send(send, report.http_status, report.body, scope["method"] == "HEAD")


class HealthASGI:
    """An ASGI app serving readiness and liveness on their paths (404 on any other)."""

    def __init__(
        self,
        runner: HealthRunner,
        *,
        readiness_paths: Sequence[str] = READINESS_PATHS,
        liveness_paths: Sequence[str] = LIVENESS_PATHS,
    ) -> None:
        self.readiness = ReadinessASGI(runner)
        self.liveness = LivenessASGI(runner)
        self._routes: dict[str, LivenessASGI | ReadinessASGI] = {
            **{p: self.readiness for p in readiness_paths},
            **{p: self.liveness for p in liveness_paths},
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one ASGI connection by its path."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope.get("path", "/")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        app = self._routes.get(path.rstrip("/") or "/")
        if app is None:
            await _send(send, 404, _NOT_FOUND, scope.get("method") == "HEAD")
            return
        await app(scope, receive, send)


# --- WSGI ------------------------------------------------------------------------------------


def _status_line(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def _respond(
    environ: dict[str, Any],
    start_response: StartResponse,
    code: int,
    body: bytes,
    extra: Sequence[tuple[str, str]] = (),
) -> Iterable[bytes]:
    start_response(_status_line(code), [*_headers(body), *extra])
    return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


def _wsgi_not_allowed(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    return _respond(
        environ, start_response, 405, _NOT_ALLOWED, [("Allow", ", ".join(ALLOWED_METHODS))]
    )


class LivenessWSGI:
    """WSGI liveness: answers ``pass`` (200) while the process serves requests."""

    def __init__(self, runner: HealthRunner | None = None) -> None:
        report = runner.liveness() if runner is not None else HealthRunner([]).liveness()
        self._body = report.body

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request."""
        if environ.get("REQUEST_METHOD") not in ALLOWED_METHODS:
            return _wsgi_not_allowed(environ, start_response)
        return _respond(environ, start_response, 200, self._body)


class ReadinessWSGI:
    """WSGI readiness: the runner's aggregate, checks rerun only once their interval is over."""

    def __init__(self, runner: HealthRunner) -> None:
        self.runner = runner

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request."""
        if environ.get("REQUEST_METHOD") not in ALLOWED_METHODS:
            return _wsgi_not_allowed(environ, start_response)
        report = self.runner.peek() or self.runner.run()
        return _respond(environ, start_response, report.http_status, report.body)


class HealthWSGI:
    """A WSGI app serving readiness and liveness on their paths (404 on any other)."""

    def __init__(
        self,
        runner: HealthRunner,
        *,
        readiness_paths: Sequence[str] = READINESS_PATHS,
        liveness_paths: Sequence[str] = LIVENESS_PATHS,
    ) -> None:
        self.readiness = ReadinessWSGI(runner)
        self.liveness = LivenessWSGI(runner)
        self._routes: dict[str, LivenessWSGI | ReadinessWSGI] = {
            **{p: self.readiness for p in readiness_paths},
            **{p: self.liveness for p in liveness_paths},
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Route one WSGI request by its path (``PATH_INFO``)."""
        path = environ.get("PATH_INFO") or "/"
        app = self._routes.get(path.rstrip("/") or "/")
        if app is None:
            return _respond(environ, start_response, 404, _NOT_FOUND)
        return app(environ, start_response)
