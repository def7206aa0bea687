"""The ASGI plumbing the runtime's apps share (health endpoints, ``/metrics``).

The ASGI type aliases, the answer to the server's lifespan events, the request path under a
mount point, and sending one whole response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

__all__ = ["Message", "Receive", "Scope", "Send", "lifespan", "route_path", "send_response"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge the server's lifespan events (nothing to set up), so it does not warn."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def route_path(scope: Scope) -> str:
    """The request path below the app's mount point (``/`` when empty)."""
    # Mounted apps see the full path with the mount point in root_path (Starlette >= 0.33).
    path: str = scope.get("path") or "/"
    root: str = scope.get("root_path") or ""
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


async def send_response(
    send: Send, status: int, headers: Iterable[tuple[str, str]], body: bytes
) -> None:
    """Send one response: its start (status, headers lower-cased) and its whole body."""
    raw = [(name.lower().encode(), value.encode("latin-1")) for name, value in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
