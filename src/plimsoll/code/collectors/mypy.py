"""Mypy errors by code, and type coverage of function definitions.

Mypy runs once over all files in the project's root (``-O json``), so its ``mypy.ini``,
``setup.cfg`` or ``[tool.mypy]`` settings apply, and its own incremental cache (``.mypy_cache``
in the root unless the project sets ``cache_dir``) keeps a second run fast.

Type coverage follows mypy's own notion of a typed function, the one behind
``--check-untyped-defs`` and its ``--linecount-report``: a ``def`` (or ``async def``) is typed
when it has a return annotation, an annotation on any parameter, or a ``# type:`` signature
comment; otherwise mypy treats it as untyped and does not check its body. Like that report,
the count covers module-level functions and methods (also in nested classes, under
decorators and in ``if`` blocks) but not functions defined inside other functions, nor
lambdas. It is computed from the syntax tree of each file, cached by content hash.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from plimsoll.code.collectors import _tools
from plimsoll.code.collectors.base import CollectContext, Collector, CollectorError

# Mypy exits 2 when it could not check the project (a blocking error or a usage error).
BLOCKED = 2
# The first mypy release with `-O json`; older ones are read through their text output.
JSON_SINCE = (1, 11)
_TEXT_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?:\d+:)? (?P<severity>error|note|warning): "
    r"(?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?$"
)


@dataclass(frozen=True)
class MypyMessage:
    """One diagnostic from mypy's JSON output."""

    path: str
    line: int
    severity: str
    code: str | None
    message: str


@dataclass(frozen=True)
class FunctionCounts:
    """Function definitions of one file, and how many of them mypy treats as typed."""

    typed: int
    total: int


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


def supports_json(version: str) -> bool:
    """Whether mypy ``version`` has ``-O json`` (unknown versions are assumed recent)."""
    parts = re.findall(r"\d+", version)[:2]
    if len(parts) < 2:
        return True
    return (int(parts[0]), int(parts[1])) >= JSON_SINCE


def summarize_messages(messages: Iterable[MypyMessage], files_checked: int) -> dict[str, Any]:
    """Errors by code, total errors and notes, and the files with errors."""
    by_code: Counter[str] = Counter()
    notes = 0
    files_with_errors: set[str] = set()
    for message in messages:
        if message.severity == "error":
            by_code[message.code or "misc"] += 1
            files_with_errors.add(message.path)
        elif message.severity == "note":
            notes += 1
    return {
        "total_errors": sum(by_code.values()),
        "by_code": dict(sorted(by_code.items(), key=lambda item: (-item[1], item[0]))),
        "notes": notes,
        "files_with_errors": len(files_with_errors),
        "files_checked": files_checked,
    }


def count_functions(source: str) -> FunctionCounts:
    """Count the functions of ``source``, and those mypy treats as typed (see the module)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(source, type_comments=True)
    typed = total = 0
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                total += 1
                typed += _is_typed(child)
                # Mypy's counter stops at a function: definitions inside it are not counted.
                continue
            if isinstance(child, ast.stmt | ast.excepthandler | ast.match_case):
                pending.append(child)
    return FunctionCounts(typed, total)


def _is_typed(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    if node.type_comment or node.returns is not None:
        return True
    arguments = node.args
    params = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    params += [p for p in (arguments.vararg, arguments.kwarg) if p is not None]
    return any(p.annotation is not None or p.type_comment for p in params)


def type_coverage(counts: Iterable[FunctionCounts]) -> dict[str, Any]:
    """Typed functions, all functions and their percentage (None when there are no functions)."""
    typed = total = 0
    for item in counts:
        typed += item.typed
        total += item.total
    return {
        "typed_functions": typed,
        "total_functions": total,
        "type_coverage": round(100.0 * typed / total, 2) if total else None,
    }


class MypyCollector(Collector):
    """Mypy errors by code, total errors, notes, files checked and type coverage.

    ``total_errors`` equals the N of mypy's "Found N errors"; ``type_coverage`` is the
    percentage of function definitions mypy treats as typed (see the module docstring).
    """

    name: ClassVar[str] = "mypy"
    keys: ClassVar[tuple[str, ...]] = (
        "total_errors",
        "by_code",
        "notes",
        "files_with_errors",
        "files_checked",
        "typed_functions",
        "total_functions",
        "type_coverage",
    )
    description: ClassVar[str] = "mypy errors and type coverage (the project's mypy configuration)"
    version: ClassVar[str] = "1"

    def unavailable(self) -> str | None:
        """Why mypy cannot run here, or None."""
        return _tools.missing_reason("mypy")

    def collect(self, context: CollectContext) -> dict[str, Any]:
        """Run mypy over all files, then count typed functions per file."""
        metrics = summarize_messages(self._run_mypy(context), len(set(context.paths)))
        metrics.update(type_coverage(self._function_counts(context)))
        return metrics

    def _run_mypy(self, context: CollectContext) -> list[MypyMessage]:
        if not context.files:
            return []
        use_json = supports_json(_tools.tool_version("mypy"))
        # The text fallback needs exactly one line per message, whatever the project configures.
        output = ["-O", "json"] if use_json else ["--no-pretty"]
        result = _tools.run_tool(
            "mypy",
            # Error context lines ("In function ...") would count as notes; they add nothing.
            [*output, "--hide-error-context", "--no-error-summary", *context.paths],
            cwd=context.root,
            timeout=_tools.timeout_for(context.config.collector_timeout_seconds),
            ok_codes=(0, 1, BLOCKED),
        )
        messages = (parse_mypy_json if use_json else parse_mypy_text)(result.stdout)
        if result.returncode == BLOCKED:
            blocking = next((m for m in messages if m.severity == "error"), None)
            if blocking is None:
                raise CollectorError(
                    f"mypy could not run: {_tools.one_line(result.stderr or result.stdout)}"
                )
            # Mypy stopped at this error without checking the rest, so its counts mean nothing.
            raise CollectorError(
                f"mypy stopped at {blocking.path}:{blocking.line}: {blocking.message}"
                f"{f' [{blocking.code}]' if blocking.code else ''}"
            )
        return messages

    def _function_counts(self, context: CollectContext) -> list[FunctionCounts]:
        key = f"{self.name}:functions:{self.version}"
        counts = []
        for source in context.files:
            cached = context.cache.get(key, source.sha)
            if cached is None:
                try:
                    found = count_functions(context.read(source.path))
                except (SyntaxError, ValueError, OSError, RecursionError):
                    # Mypy cannot build a tree for such a file either; it has no functions to count.
                    found = FunctionCounts(0, 0)
                cached = {"typed": found.typed, "total": found.total}
                context.cache.put(key, source.sha, cached)
            counts.append(FunctionCounts(int(cached["typed"]), int(cached["total"])))
        return counts
