"""Local HTTP and SMTP servers that record what they receive, as pytest fixtures.

- ``http_recorder``: a real threaded HTTP server on 127.0.0.1 (random port). It records every
  request and answers from a script (``recorder.script(500, 500, 200)``), else emulates the
  GitHub issue-comments API (list, create, edit), else answers 200 with ``{"ok": true}``.
- ``smtp_recorder``: a real aiosmtpd server on 127.0.0.1 that records every message and
  accepts the login ``plimsoll`` / ``secret`` (plain connections allowed).
- ``smtp_recorder_factory``: the same with STARTTLS or implicit TLS, using ``tls_certificate``
  (a self-signed certificate for 127.0.0.1 made with the ``openssl`` command).
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

# --- HTTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request the HTTP recorder received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Decode the body as JSON."""
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str) -> str | None:
        """Return a header by case-insensitive name."""
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass(frozen=True)
class Response:
    """A scripted response: status, body (bytes, str, or JSON-able), headers, optional delay."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0

    def encoded(self) -> tuple[bytes, str]:
        """Return the body bytes and their content type."""
        if self.body is None:
            return b"", "text/plain"
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode("utf-8"), "application/json"


_ISSUE_COMMENTS = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_COMMENT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")


class HttpRecorder:
    """A threaded HTTP server on 127.0.0.1 recording requests and answering from a script."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._scripts: list[tuple[str | None, list[Response]]] = []
        self.default = Response(200, {"ok": True})
        # GitHub emulation: comments by (owner/repo, issue number), ids unique across all.
        self.github_comments: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._next_comment_id = 1000
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """Return the port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Return the base URL, ``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Return a copy of the requests received so far, in order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Return the requests whose path starts with ``path`` (and of ``method``, if given)."""
        return [
            r
            for r in self.requests
            if r.path.startswith(path) and (method is None or r.method == method.upper())
        ]

    def script(self, *responses: int | Response, path: str | None = None) -> None:
        """Answer the next requests (to paths starting with ``path``, if given) in this order.

        Integers are statuses. Once a script is used up, later requests fall back to the
        GitHub emulation or the default response.
        """
        queue = [r if isinstance(r, Response) else Response(r, {"status": r}) for r in responses]
        with self._lock:
            self._scripts.append((path, queue))

    def clear(self) -> None:
        """Forget the recorded requests and any unused script."""
        with self._lock:
            self._requests.clear()
            self._scripts.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Wait until at least ``count`` requests arrived; return them (for background senders)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.requests
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"expected {count} requests, got {len(self.requests)}")

    def close(self) -> None:
        """Stop the server and wait for its thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- internals ------------------------------------------------------------------------

    def _scripted(self, path: str) -> Response | None:
        with self._lock:
            for prefix, queue in self._scripts:
                if queue and (prefix is None or path.startswith(prefix)):
                    return queue.pop(0)
        return None

    def _github(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> Response | None:
        match = _ISSUE_COMMENTS.match(path)
        with self._lock:
            if match:
                key = (match.group(1), int(match.group(2)))
                comments = self.github_comments.setdefault(key, [])
                if method == "GET":
                    per_page = int(query.get("per_page", ["30"])[0])
                    page = int(query.get("page", ["1"])[0])
                    return Response(200, comments[(page - 1) * per_page : page * per_page])
                if method == "POST":
                    self._next_comment_id += 1
                    comment = {"id": self._next_comment_id, "body": json.loads(body)["body"]}
                    comments.append(comment)
                    return Response(201, comment)
            match = _COMMENT.match(path)
            if match and method == "PATCH":
                comment_id = int(match.group(2))
                for (repo, _), comments in self.github_comments.items():
                    for comment in comments:
                        if repo == match.group(1) and comment["id"] == comment_id:
                            comment["body"] = json.loads(body)["body"]
                            return Response(200, comment)
                return Response(404, {"message": "Not Found"})
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        request = RecordedRequest(
            handler.command, parts.path, query, dict(handler.headers.items()), body
        )
        with self._lock:
            self._requests.append(request)
        response = (
            self._scripted(parts.path)
            or self._github(handler.command, parts.path, query, body)
            or self.default
        )
        if response.delay_seconds:
            time.sleep(response.delay_seconds)
        payload, content_type = response.encoded()
        handler.send_response(response.status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the http.server naming
                recorder._handle(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Stay quiet: the recorder keeps what matters."""

        return Handler


@pytest.fixture
def http_recorder() -> Iterator[HttpRecorder]:
    """A running :class:`HttpRecorder`, stopped after the test."""
    recorder = HttpRecorder()
    try:
        yield recorder
    finally:
        recorder.close()


# --- SMTP -------------------------------------------------------------------------------------

SMTP_USER = "plimsoll"
SMTP_PASSWORD = "secret"


@dataclass(frozen=True)
class RecordedEmail:
    """One message the SMTP recorder accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None
    tls: bool

    @property
    def message(self) -> EmailMessage:
        """Return the parsed message."""
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def text(self) -> str:
        """Return the plain-text body."""
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())


def _as_bytes(data: bytes | str | None) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8")
    return data or b""


def _is_tls(server: SMTP) -> bool:
    # STARTTLS and implicit TLS both leave an SSL object on the live transport.
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class _Handler:
    def __init__(self, recorder: SmtpRecorder) -> None:
        self.recorder = recorder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        self.recorder._record(
            RecordedEmail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                data=_as_bytes(envelope.original_content or envelope.content),
                login=login.decode() if isinstance(login, bytes) else login,
                tls=_is_tls(server),
            )
        )
        return "250 OK"


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpRecorder:
    """A real aiosmtpd server on 127.0.0.1 that records the messages it accepts."""

    def __init__(self, *, tls_context: ssl.SSLContext | None = None, implicit_tls: bool = False):
        self._lock = threading.Lock()
        self._messages: list[RecordedEmail] = []
        self.host = "127.0.0.1"
        kwargs: dict[str, Any] = {
            "authenticator": _authenticator,
            "auth_require_tls": False,
        }
        if tls_context is not None and implicit_tls:
            kwargs["ssl_context"] = tls_context
        elif tls_context is not None:
            kwargs["tls_context"] = tls_context
        self.controller = Controller(
            _Handler(self), hostname=self.host, port=_free_port(), **kwargs
        )
        self.controller.start()
        self.port = int(self.controller.port)

    @property
    def messages(self) -> list[RecordedEmail]:
        """Return a copy of the accepted messages, in order."""
        with self._lock:
            return list(self._messages)

    def _record(self, message: RecordedEmail) -> None:
        with self._lock:
            self._messages.append(message)

    def close(self) -> None:
        """Stop the server."""
        self.controller.stop()


@pytest.fixture
def smtp_recorder() -> Iterator[SmtpRecorder]:
    """A running plain :class:`SmtpRecorder` (login optional), stopped after the test."""
    recorder = SmtpRecorder()
    try:
        yield recorder
    finally:
        recorder.close()


@dataclass(frozen=True)
class TlsCertificate:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """Return a server-side TLS context using this certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> TlsCertificate:
    """A self-signed certificate for 127.0.0.1 (skips when ``openssl`` is not installed)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return TlsCertificate(cert, key)


@pytest.fixture
def smtp_recorder_factory(
    tls_certificate: TlsCertificate,
) -> Iterator[Callable[..., SmtpRecorder]]:
    """Make SMTP recorders: ``factory(starttls=True)`` or ``factory(implicit_tls=True)``."""
    made: list[SmtpRecorder] = []

    def make(*, starttls: bool = False, implicit_tls: bool = False) -> SmtpRecorder:
        context = tls_certificate.server_context() if (starttls or implicit_tls) else None
        recorder = SmtpRecorder(tls_context=context, implicit_tls=implicit_tls)
        made.append(recorder)
        return recorder

    try:
        yield make
    finally:
        for recorder in made:
            recorder.close()
