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
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any, ClassVar, Generic, TypeVar

from plimsoll.runtime.asgi import Receive, Scope, Send, lifespan, route_path, send_response
from plimsoll.runtime.health import CONTENT_TYPE, HealthReport, HealthRunner

StartResponse = Callable[..., Any]

ALLOWED_METHODS = ("GET", "HEAD")
READINESS_PATHS = ("/health", "/health/ready")
LIVENESS_PATHS = ("/health/live",)
# Health must never be served from a cache between the probe and the process.
_CACHE_CONTROL = "no-store"

Ready = TypeVar("Ready")
Live = TypeVar("Live")


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
_ALLOW_HEADER = ("Allow", ", ".join(ALLOWED_METHODS))


def _liveness_body(runner: HealthRunner | None) -> bytes:
    report = runner.liveness() if runner is not None else HealthRunner([]).liveness()
    return report.body


class _Router(Generic[Ready, Live]):
    """What the ASGI and WSGI routers share: readiness and liveness apps and their paths."""

    _apps: ClassVar[tuple[Callable[[HealthRunner], Any], Callable[[HealthRunner], Any]]]

    def __init__(
        self,
        runner: HealthRunner,
        *,
        readiness_paths: Sequence[str] = READINESS_PATHS,
        liveness_paths: Sequence[str] = LIVENESS_PATHS,
    ) -> None:
        readiness_class, liveness_class = self._apps
        self.readiness: Ready = readiness_class(runner)
        self.liveness: Live = liveness_class(runner)
        self._routes: dict[str, Ready | Live] = {
            **{p: self.readiness for p in readiness_paths},
            **{p: self.liveness for p in liveness_paths},
        }

    def _route(self, path: str) -> Ready | Live | None:
        return self._routes.get(path.rstrip("/") or "/")


# --- ASGI ------------------------------------------------------------------------------------


async def _send(
    send: Send, status: int, body: bytes, head: bool, extra: Sequence[tuple[str, str]] = ()
) -> None:
    await send_response(send, status, (*_headers(body), *extra), b"" if head else body)


async def _is_http(scope: Scope, receive: Receive, send: Send) -> bool:
    """Whether the connection is an HTTP request; a lifespan one is answered here."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return False
    return bool(scope["type"] == "http")


class _EndpointASGI(ABC):
    """What the ASGI liveness and readiness share: GET and HEAD answered by ``_answer``."""

    @abstractmethod
    async def _answer(self) -> tuple[int, bytes]: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if not await _is_http(scope, receive, send):
            return
        if scope["method"] not in ALLOWED_METHODS:
            await _send(send, 405, _NOT_ALLOWED, False, [_ALLOW_HEADER])
            return
        status, body = await self._answer()
        await _send(send, status, body, scope["method"] == "HEAD")


class LivenessASGI(_EndpointASGI):
    """ASGI liveness: answers ``pass`` (200) while the process serves requests."""

    def __init__(self, runner: HealthRunner | None = None) -> None:
        self._body = _liveness_body(runner)

    async def _answer(self) -> tuple[int, bytes]:
        return 200, self._body


class ReadinessASGI(_EndpointASGI):
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

    async def _answer(self) -> tuple[int, bytes]:
        report = await self.report()
        return report.http_status, report.body


class HealthASGI(_Router[ReadinessASGI, LivenessASGI]):
    """An ASGI app serving readiness and liveness on their paths (404 on any other)."""

    _apps = (ReadinessASGI, LivenessASGI)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one ASGI connection by its path."""
        if not await _is_http(scope, receive, send):
            return
        app = self._route(route_path(scope))
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


class _EndpointWSGI(ABC):
    """What the WSGI liveness and readiness share: GET and HEAD answered by ``_answer``."""

    @abstractmethod
    def _answer(self) -> tuple[int, bytes]: ...

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request."""
        if environ.get("REQUEST_METHOD") not in ALLOWED_METHODS:
            return _respond(environ, start_response, 405, _NOT_ALLOWED, [_ALLOW_HEADER])
        status, body = self._answer()
        return _respond(environ, start_response, status, body)


class LivenessWSGI(_EndpointWSGI):
    """WSGI liveness: answers ``pass`` (200) while the process serves requests."""

    def __init__(self, runner: HealthRunner | None = None) -> None:
        self._body = _liveness_body(runner)

    def _answer(self) -> tuple[int, bytes]:
        return 200, self._body


class ReadinessWSGI(_EndpointWSGI):
    """WSGI readiness: the runner's aggregate, checks rerun only once their interval is over."""

    def __init__(self, runner: HealthRunner) -> None:
        self.runner = runner

    def _answer(self) -> tuple[int, bytes]:
        report = self.runner.peek() or self.runner.run()
        return report.http_status, report.body


class HealthWSGI(_Router[ReadinessWSGI, LivenessWSGI]):
    """A WSGI app serving readiness and liveness on their paths (404 on any other)."""

    _apps = (ReadinessWSGI, LivenessWSGI)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Route one WSGI request by its path (``PATH_INFO``)."""
        app = self._route(environ.get("PATH_INFO") or "/")
        if app is None:
            return _respond(environ, start_response, 404, _NOT_FOUND)
        return app(environ, start_response)
