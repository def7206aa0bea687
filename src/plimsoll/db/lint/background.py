"""Work done in a forked child while this process does something else (the second core).

A lint of a large schema has two independent halves once the files are parsed: the statement
rules over every statement, and building the catalog then running the schema rules over it.
The child inherits the parsed trees (copy-on-write, nothing is serialised on the way in),
computes its half and sends the result back pickled through a pipe. Where ``fork`` is not
available, or the child fails for any reason, the work is done again in this process, so the
result (or the error) is always this process's own.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """``work()`` started in a forked child (when ``fork`` is true and possible)."""

    def __init__(self, work: Callable[[], T], *, fork: bool = True) -> None:
        self._work = work
        self._pid: int | None = None
        self._read = -1
        if fork and hasattr(os, "fork"):
            self._start()

    def _start(self) -> None:
        # Buffered output would be written twice (by both processes) if not flushed first.
        sys.stdout.flush()
        sys.stderr.flush()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, and leave without running any cleanup
            status = 1
            try:
                os.close(read)
                data = pickle.dumps(self._work(), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as out:
                    out.write(data)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._read = pid, read

    @property
    def forked(self) -> bool:
        """Whether the work runs in a child process."""
        return self._pid is not None

    def result(self) -> T:
        """The work's result: the child's, or computed here when there is no (healthy) child."""
        if self._pid is None:
            return self._work()
        with os.fdopen(self._read, "rb") as source:
            data = source.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if status != 0 or not data:
            return self._work()
        result: T = pickle.loads(data)  # noqa: S301 - our own child's output, through our pipe
        return result
