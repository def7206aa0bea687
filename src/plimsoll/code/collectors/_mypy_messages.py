"""Mypy's diagnostics as printed with ``-O json`` (mypy 1.11+) or as one-line text (older).

Kept apart from the collector so that the mypy driver, which runs in mypy's own process,
reads them without importing plimsoll's configuration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

# The code mypy gives the errors of a file it cannot parse; they stop the whole run.
SYNTAX = "syntax"
_UNDECODABLE = re.compile(r"^(?P<path>.+?): error: (?P<message>Cannot decode file: .*)$")
_TEXT_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?:\d+:)? (?P<severity>error|note|warning): "
    r"(?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?$"
)


@dataclass(frozen=True)
class MypyMessage:
    """One diagnostic from mypy's output."""

    path: str
    line: int
    severity: str
    code: str | None
    message: str


def parse_mypy_json(text: str) -> list[MypyMessage]:
    """Parse the one-object-per-line output of ``mypy -O json`` (other lines are ignored)."""
    messages = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        messages.append(
            MypyMessage(
                path=str(data.get("file", "")),
                line=int(data.get("line") or 0),
                severity=str(data.get("severity", "error")),
                code=data.get("code"),
                message=str(data.get("message", "")),
            )
        )
    return messages


def parse_mypy_text(text: str) -> list[MypyMessage]:
    """Parse mypy's one-line-per-message text output (``file:line: error: message  [code]``)."""
    messages = []
    for line in text.splitlines():
        match = _TEXT_LINE.match(line.rstrip())
        if match:
            messages.append(
                MypyMessage(
                    path=match["path"],
                    line=int(match["line"]),
                    severity=match["severity"],
                    code=match["code"],
                    message=match["message"],
                )
            )
    return messages


def parse_any(text: str) -> list[MypyMessage]:
    """Messages of either output form (JSON lines first, text lines when there are none)."""
    return parse_mypy_json(text) or parse_mypy_text(text)


def parse_failures(lines: Iterable[str]) -> dict[str, tuple[int, str]]:
    """Files mypy could not parse or decode, by path as printed: (line, message) of the first.

    A syntax error comes as a message with the ``syntax`` code; a file that is not valid in
    its encoding as a plain ``<path>: error: Cannot decode file: ...`` line.
    """
    lines = list(lines)
    found: dict[str, tuple[int, str]] = {}
    for message in parse_any("\n".join(lines)):
        if message.severity == "error" and message.code == SYNTAX and message.path:
            found.setdefault(message.path, (message.line, message.message))
    for line in lines:
        match = _UNDECODABLE.match(line.strip())
        if match:
            found.setdefault(match["path"], (0, match["message"]))
    return found


def first_error_line(lines: Iterable[str]) -> str | None:
    """The first line of mypy's output that states an error, or None."""
    return next((line.strip() for line in lines if ": error:" in line), None)
