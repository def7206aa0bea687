"""A webhook receiver for trying alerts locally: prints every notification plimsoll posts.

``python receiver.py [PORT]`` listens on 127.0.0.1 (port 9000 by default), the address the
example's ``ALERT_WEBHOOK_URL`` defaults to. In production the webhook is your chat, paging or
ticketing system; plimsoll posts the same JSON there (``title``, ``body``, ``severity``,
``fields``, ``tags``).
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    """Prints each POSTed notification and answers 204."""

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        """Print the notification's title, severity and body."""
        length = int(self.headers.get("Content-Length") or 0)
        try:
            note = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self.send_response(400)
            self.end_headers()
            return
        print(f"--- {note.get('title')} (severity {note.get('severity')})", flush=True)
        print(note.get("body", ""), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        """Quiet: the notifications are the output."""


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    print(f"receiving alerts on http://127.0.0.1:{port}/alerts (Ctrl-C to stop)", flush=True)
    try:
        ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()
    except KeyboardInterrupt:
        pass
