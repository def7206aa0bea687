"""One sampling process among a service's workers: an exclusive lock on a file, held while alive.

Under gunicorn, ``uvicorn --workers N`` or uwsgi every worker runs the same start-up code, so
every worker would start a performance monitor and write the same series into the store, tick
after tick. The monitor of a :class:`~plimsoll.runtime.service.RuntimeService` therefore takes
a :class:`SamplerLease` first: the worker that gets it samples, the others stand by and try
again each interval, so when the sampling worker exits (or is killed: the kernel drops the lock
with the process) another one takes over within an interval.

The lock is ``flock(LOCK_EX | LOCK_NB)`` on a file: it holds between processes of one host,
which is the reach of the metrics one sampler reads (a multiprocess directory is on one
host). A lease taken before a fork is not the child's: the child opens the file anew.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from plimsoll.runtime import multiprocess

__all__ = ["LOCK_NAME", "SamplerLease", "default_lock_path"]

LOCK_NAME = "plimsoll-monitor.lock"


def default_lock_path(project_root: Path) -> Path:
    """Where the workers of one service meet: their multiprocess directory when there is one
    (one sampler reads it for all of them), else the project's ``.plimsoll`` folder."""
    shared = multiprocess.directory()
    if shared is not None:
        return shared / LOCK_NAME
    return project_root / ".plimsoll" / LOCK_NAME


class SamplerLease:
    """An exclusive, non-blocking lock on ``path``, taken with :meth:`acquire`.

    The file is created when missing (its folder too) and never removed: removing it while
    another process waits on the old one would let two processes hold "the" lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._pid = 0

    @property
    def held(self) -> bool:
        """Whether this process holds the lease."""
        return self._fd is not None and self._pid == os.getpid()

    def acquire(self) -> bool:
        """Take the lease if no other process holds it; whether this process holds it now.

        Raises OSError when the lock file cannot be created or opened.
        """
        if self.held:
            return True
        if self._fd is not None:
            # Inherited through fork: it shares the parent's lock. Closed here (never
            # unlocked: that would free the parent's), or the lock would outlive the parent.
            os.close(self._fd)
            self._fd = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._pid = fd, os.getpid()
        # Who samples, for whoever looks at the file (not read by the lock itself).
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{self._pid}\n".encode(), 0)
        return True

    def release(self) -> None:
        """Give the lease up (nothing when this process does not hold it)."""
        if not self.held:
            return
        fd, self._fd = self._fd, None
        assert fd is not None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
