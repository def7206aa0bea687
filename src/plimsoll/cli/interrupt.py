"""SIGTERM taken as Ctrl-C for every command, and the signal that interrupted it remembered.

A CI job that is cancelled gets SIGTERM. Left to Python's default, the process dies on the
spot while the server goes on with the statement it was sent, a scratch database or a
temporary worktree stays behind, and collector processes go on running. Raised as
KeyboardInterrupt instead, the cleanup Ctrl-C already runs happens: psycopg cancels the
running statement, transactions roll back, ``finally`` blocks drop what they made, the
collectors' process groups are killed. The command then ends with "plimsoll: interrupted"
and 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as a shell reports it.

Code that cleans up on an interrupt may say what it did with ``exc.add_note(...)`` on the
KeyboardInterrupt it re-raises; the "interrupted" line shows those notes.

Commands that run until told to stop (``runtime watch``, ``runtime monitor``) install their
own handlers for both signals; those replace these for as long as they run.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# The signals taken as an interrupt, and the first one received (None: none yet).
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: int | None = None
# Exit status of a command interrupted without a signal we saw (KeyboardInterrupt raised).
_DEFAULT_STATUS = 128 + signal.SIGINT


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    """The handler: remember the first signal, and interrupt what the main thread is doing."""
    global _received
    if _received is None:
        _received = signum
    raise KeyboardInterrupt


def install() -> None:
    """For the rest of the process, SIGINT and SIGTERM raise KeyboardInterrupt (main thread).

    A signal the parent set to be ignored stays ignored (a job started in the background by
    a non-interactive shell ignores SIGINT, and must go on doing so).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _interrupt)


def restore_defaults() -> None:
    """SIGINT and SIGTERM back to ending the process, for its last moments (flush, exit handlers).

    An interrupt there has nothing left to cancel, and must not surface as a traceback.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _SIGNALS:
        if signal.getsignal(signum) is _interrupt:
            signal.signal(signum, signal.SIG_DFL)


def received() -> int | None:
    """The first interrupting signal this process received through these handlers, if any."""
    return _received


def exit_status() -> int:
    """The exit status of an interrupted command: 128 + the signal (130 without one seen)."""
    return _DEFAULT_STATUS if _received is None else 128 + _received


def describe(exc: BaseException | None) -> str:
    """The one line an interrupted command ends with, with what its cleanup said it did."""
    notes = [str(note) for note in getattr(exc, "__notes__", ()) if str(note).strip()]
    return "interrupted: " + "; ".join(notes) if notes else "interrupted"


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (main thread only; else a no-op).

    Every command already runs so (see :func:`install`); this stays for code that runs
    outside ``plimsoll``'s entry point, and restores the previous handler afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
