"""Rendering shared by every command: text through rich, JSON on stdout, quiet off a terminal."""

from __future__ import annotations

import json
import os
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
    """A console on stderr for messages and progress."""
    return Console(stderr=True, no_color="NO_COLOR" in os.environ, highlight=False)


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
