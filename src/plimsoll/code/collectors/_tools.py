"""Running the analysis tools installed beside plimsoll (``python -m <tool>``) as subprocesses.

Every built-in tool collector goes through :func:`run_tool`: same interpreter, the analysed
project's root as the working directory (so the tool reads that project's own settings), the
environment passed through, a timeout, and a one-line :class:`CollectorError` when the tool
cannot run. Long argument lists either go in chunks (tools whose results are per file) or
through :func:`run_tool`'s argument driver, which hands the list to the tool on stdin.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from plimsoll.code.collectors.base import CollectorError

# Linux allows about 2 MiB for argv plus the environment; staying far below it leaves room
# for a large environment and for other platforms' smaller limits.
ARGV_BUDGET = 100_000

# Runs ``python -m <module>`` with its arguments read as a JSON list from stdin, so an
# argument list of any length reaches tools whose analysis must see all files at once.
_DRIVER = (
    "import json, runpy, sys\n"
    "module = sys.argv[1]\n"
    "sys.argv = [module, *json.load(sys.stdin)]\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)


@dataclass(frozen=True)
class ToolResult:
    """What one tool run printed and how it exited."""

    returncode: int
    stdout: str
    stderr: str


def missing_reason(module: str, distribution: str | None = None) -> str | None:
    """Why ``python -m module`` cannot run in this interpreter, or None when it can."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    name = distribution or module
    return f"{name} is not installed in {sys.executable} (pip install {name})"


def tool_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``unknown``."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def argv_size(args: Sequence[str]) -> int:
    """Bytes the arguments take on a command line (each with its terminating NUL)."""
    return sum(len(os.fsencode(a)) + 1 for a in args)


def chunked(paths: Sequence[str], budget: int | None = None) -> Iterator[list[str]]:
    """Split ``paths`` into lists that fit in ``budget`` bytes of argv (one path at least)."""
    limit = ARGV_BUDGET if budget is None else budget
    chunk: list[str] = []
    size = 0
    for path in paths:
        cost = argv_size([path])
        if chunk and size + cost > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(path)
        size += cost
    if chunk:
        yield chunk


def one_line(text: str, limit: int = 300) -> str:
    """The most telling line of a tool's error output, shortened to ``limit`` characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no output"
    # A Python traceback ends with the exception; other tools print their complaint last too.
    line = lines[-1]
    return line if len(line) <= limit else line[: limit - 3] + "..."


def run_tool(
    module: str,
    args: Sequence[str],
    *,
    cwd: Path,
    timeout: float | None,
    ok_codes: Container[int] = (0,),
    via_stdin: bool | None = None,
) -> ToolResult:
    """Run ``python -m module args`` in ``cwd``; CollectorError unless it exits with ``ok_codes``.

    ``via_stdin`` forces (True) or forbids (False) passing the arguments on stdin; by default
    they go there only when they would not fit in :data:`ARGV_BUDGET`.
    """
    use_stdin = argv_size(args) > ARGV_BUDGET if via_stdin is None else via_stdin
    if use_stdin:
        command = [sys.executable, "-c", _DRIVER, module]
        stdin = json.dumps(list(args))
    else:
        command = [sys.executable, "-m", module, *args]
        stdin = ""
    try:
        completed = subprocess.run(
            command,
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            env=dict(os.environ),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CollectorError(f"{module} timed out after {exc.timeout:g}s") from None
    except OSError as exc:
        raise CollectorError(f"{module} could not start: {exc.strerror or exc}") from None
    result = ToolResult(completed.returncode, completed.stdout, completed.stderr)
    if result.returncode in ok_codes:
        return result
    if f"No module named {module}" in result.stderr:
        raise CollectorError(f"{module} is not installed in {sys.executable}")
    detail = one_line(result.stderr or result.stdout)
    raise CollectorError(f"{module} failed (exit code {result.returncode}): {detail}")


def timeout_for(seconds: float) -> float | None:
    """The subprocess timeout for a collector allowed ``seconds`` (None when unlimited)."""
    return seconds if seconds > 0 else None
