"""SIGTERM taken as Ctrl-C while a command changes a database.

A CI job that is cancelled gets SIGTERM. Left to Python's default, the process dies on the
spot while the server goes on with the statement it was sent. Raised as KeyboardInterrupt
instead, psycopg cancels the running statement, the migration's transaction is rolled back,
the migrator's lock is released, and the command ends with "interrupted" (exit 130).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
