"""Waiting for a PostgreSQL session advisory lock, with a message and a time limit.

``pg_advisory_lock`` waits without end; the migrator and ``db build --apply`` must say that
they wait and give up after ``db.migrator_lock_timeout_seconds``, so they poll
``pg_try_advisory_lock`` instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

# How long to sleep between two tries of a busy lock: short next to any migration or build.
POLL_SECONDS = 0.2


def take_advisory_lock(
    conn: psycopg.Connection[Any],
    key: int,
    timeout_seconds: float,
    *,
    on_wait: Callable[[], None],
    timed_out: Callable[[float], Exception],
) -> float:
    """Take the session advisory lock ``key`` on ``conn``; the seconds spent waiting.

    ``on_wait`` is called once, when the lock is first found busy; after ``timeout_seconds``
    of waiting, ``timed_out(seconds waited)`` is raised. The lock is released with the
    session (or ``pg_advisory_unlock``).
    """
    started = time.monotonic()
    said = False
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row and row[0]:
            return time.monotonic() - started
        waited = time.monotonic() - started
        if waited >= timeout_seconds:
            raise timed_out(waited)
        if not said:
            on_wait()
            said = True
        time.sleep(min(POLL_SECONDS, max(timeout_seconds - waited, 0.0)))
