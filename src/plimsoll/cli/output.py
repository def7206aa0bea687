"""Rendering shared by every command: text through rich, JSON on stdout, quiet off a terminal."""

from __future__ import annotations

import io
import json
import os
import select
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


class Format(StrEnum):
    """Output formats of commands that print a result."""

    TEXT = "text"
    JSON = "json"


class ReportFormat(StrEnum):
    """Output formats of commands whose result is a report."""

    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


# The --format of the running command (see plimsoll.cli.options.remember_format).
requested_format: str = "text"
# Whether a JSON document went to stdout already (a result that carries its own error).
_json_printed = False


def print_error_json(kind: str, message: str, exit_code: int) -> None:
    """Report an error on stdout as JSON, when the command was asked for JSON.

    The one-line message still goes to stderr; this is for the program reading stdout, which
    would otherwise get nothing at all. Nothing is added after a JSON result already printed
    (one that reports its own error): stdout holds one JSON document.
    """
    if requested_format == "json" and not _json_printed:
        print_json({"error": {"kind": kind, "message": message, "exit_code": exit_code}})


# Output piped to a file or a program is not folded to a terminal's width: a table cell cut in
# the middle of a file name cannot be grepped. COLUMNS, when set, still wins.
_PIPE_WIDTH = 512


def layout_width(console: Console) -> int:
    """The width a command lays its output out for (a table, or one block per row).

    On a terminal (or with COLUMNS) that is the console's width. Off a terminal it is 80: a
    table that would not fit there is printed one block per row, which reads and greps better
    than a very wide table; one that fits is printed whole, never folded.
    """
    if "COLUMNS" not in os.environ and not sys.stdout.isatty():
        return min(console.width, 80)
    return console.width


def console() -> Console:
    """A console on stdout; no colour when NO_COLOR is set or stdout is not a terminal.

    Off a terminal (and without COLUMNS) lines are as wide as their content needs, up to
    512 columns, instead of rich's default of 80.
    """
    width = None
    if "COLUMNS" not in os.environ and not sys.stdout.isatty():
        width = _PIPE_WIDTH
    return Console(no_color="NO_COLOR" in os.environ, soft_wrap=False, highlight=False, width=width)


def err_console() -> Console:
    """A console on stderr for messages and progress.

    Lines are never folded (soft wrap): an error line stays one line on a terminal, in a CI
    log and in a file, whatever the width, so it can be read and grepped whole.
    """
    return Console(stderr=True, no_color="NO_COLOR" in os.environ, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout: indented for a terminal, compact for a pipe.

    Only compact output goes through the json module's C encoder; indenting a large report
    (thousands of findings) costs ten times more, for a reader that is a program.
    """
    global _json_printed
    _json_printed = True
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(data, indent=indent, sort_keys=False, default=str) + "\n")


def interactive() -> bool:
    """Whether progress should be shown: stderr is a terminal and CI is not set."""
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in ("1", "true", "yes")


@contextmanager
def progress(enabled: bool = True) -> Iterator[Progress | None]:
    """A rich progress display on stderr, or None when not interactive."""
    if not (enabled and interactive()):
        yield None
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
    )
    with bar:
        yield bar


def fmt_value(value: Any) -> str:
    """A metric value as a short string."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 1e6 else f"{value:.3g}"
    if value is None:
        return "-"
    return str(value)


class _GuardedFile(io.RawIOBase):
    """A file descriptor (1 or 2) as a raw stream whose writes never raise: a failure is remembered.

    Python reports a failed write to stdout wherever its buffer happens to be flushed: in the
    middle of a command (as an internal error), or at exit, where it is lost (a full disk then
    leaves a truncated file and exit 0). Remembered here, the failure is reported once, when
    the command is over, whatever the command did; the rest of the output is dropped.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self.failure: OSError | None = None

    def writable(self) -> bool:
        """Always: this is an output stream."""
        return True

    def fileno(self) -> int:
        """The file descriptor written to."""
        return self._fd

    def isatty(self) -> bool:
        """Whether the descriptor is a terminal (colour, widths and progress depend on it)."""
        return os.isatty(self._fd)

    def write(self, data: Any) -> int:
        """Write what the descriptor takes; after a failure, take everything and drop it."""
        size = memoryview(data).nbytes
        while self.failure is None:
            try:
                return os.write(self._fd, data)
            except BlockingIOError:  # stdout left non-blocking by another program: wait
                select.select([], [self._fd], [])
            except OSError as exc:
                self.failure = exc
        return size


# The guarded stream under sys.stdout, and the streams replaced (kept referenced, so that they
# are never collected: closing one would close its descriptor).
_stdout_file: _GuardedFile | None = None
_replaced: list[Any] = []


def _guarded(stream: Any) -> tuple[io.TextIOWrapper, _GuardedFile] | None:
    """A text stream like ``stream`` over a :class:`_GuardedFile` on its descriptor, or None."""
    if stream is None:
        return None
    try:
        fd = stream.fileno()
        stream.flush()
    except (AttributeError, OSError, ValueError):  # a test's captured stream: leave it
        return None
    raw = _GuardedFile(fd)
    # Unbuffered (python -u, PYTHONUNBUFFERED=1, as CI images set) stays unbuffered: what a
    # hook or a Python migration prints reaches the log when printed, in order with stderr.
    unbuffered = getattr(stream, "write_through", False)
    text = io.TextIOWrapper(
        io.BufferedWriter(raw, buffer_size=1 << 16),
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=stream.line_buffering or unbuffered,
        write_through=unbuffered,
    )
    _replaced.append(stream)
    return text, raw


def guard_streams() -> None:
    """Route ``sys.stdout`` and ``sys.stderr`` through streams that remember a failed write.

    A failure on stdout is reported by :func:`stdout_failure` once the command is over. One
    on stderr has nowhere to be reported: the message is dropped, and the command goes on
    (``plimsoll ... 2>&1 | head -1`` must not turn into an error of its own). Nothing changes
    where a stream is not a real file descriptor (a test's captured stream).
    """
    global _stdout_file
    if _stdout_file is not None:
        return
    err = _guarded(sys.stderr)
    if err is not None:
        sys.stderr = err[0]
    out = _guarded(sys.stdout)
    if out is not None:
        sys.stdout, _stdout_file = out


def stdout_failure() -> OSError | None:
    """Flush stdout; the first error writing it, if any (a closed pipe included).

    Call it before deciding the exit code: output that could not be written is a failure
    of the command, whatever its own result was.
    """
    try:
        sys.stdout.flush()
    except OSError as exc:  # stdout not guarded: the error is raised here
        return exc
    except ValueError:  # closed by the command itself: nothing more was written
        pass
    return _stdout_file.failure if _stdout_file is not None else None
