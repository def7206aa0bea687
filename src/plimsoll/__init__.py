"""plimsoll: keeps a Python service and its PostgreSQL database within their safe limits."""

from __future__ import annotations

__version__ = "0.1.0"
