"""Mypy errors by code, and type coverage of function definitions.

Mypy runs once over what ``mypy <paths>`` checks (``code.paths``, in the project's folder),
so its ``mypy.ini``, ``setup.cfg`` or ``[tool.mypy]`` settings apply, and its own incremental
cache (``.mypy_cache`` unless the project sets ``cache_dir``) keeps a second run fast. Mypy
itself turns the paths into the files it checks (see :mod:`._mypy_driver`): a ``.pyi`` stub
is checked instead of the ``.py`` beside it, and the project's own ``exclude`` applies; then
plimsoll's excludes take out what they name. A file that does not parse would stop mypy
altogether: it is left out, listed in ``skipped_files``, and the rest is checked.

Type coverage follows mypy's own notion of a typed function, the one behind
``--check-untyped-defs`` and its ``--linecount-report``: a ``def`` (or ``async def``) is typed
when it has a return annotation, an annotation on any parameter, or a ``# type:`` signature
comment; otherwise mypy treats it as untyped and does not check its body. Like that report,
the count covers the files mypy checked (stubs instead of the modules they describe), with
module-level functions and methods (also in nested classes, under decorators and in ``if``
blocks) but not functions defined inside other functions, nor lambdas. It is computed from
the syntax tree of each file, cached by content hash.
"""

from __future__ import annotations

import ast
import json
import re
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from plimsoll.code.collectors import _codes, _tools
from plimsoll.code.collectors._mypy_messages import (
    MypyMessage,
    first_error_line,
    parse_mypy_json,
    parse_mypy_text,
)
from plimsoll.code.collectors.base import (
    SKIPPED_FILES,
    CodeSource,
    CollectContext,
    Collector,
    CollectorError,
    KeyKind,
    MetricKey,
    SourceFile,
)

__all__ = [
    "FunctionCounts",
    "MypyCollector",
    "MypyMessage",
    "count_functions",
    "parse_mypy_json",
    "parse_mypy_text",
    "summarize_messages",
    "supports_json",
    "type_coverage",
]

DRIVER = "plimsoll.code.collectors._mypy_driver"
# The first mypy release with `-O json`; older ones are read through their text output.
JSON_SINCE = (1, 11)


@dataclass(frozen=True)
class FunctionCounts:
    """Function definitions of one file, and how many of them mypy treats as typed."""

    typed: int
    total: int


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


def paths_with_files(paths: Iterable[str], files: Iterable[str]) -> list[str]:
    """The configured ``paths`` that hold at least one of ``files`` (all relative, posix).

    Mypy refuses a folder without Python files outright ("There are no .py[i] files"); one
    that plimsoll's excludes emptied has nothing to check either.
    """
    names = list(files)
    kept = []
    for path in paths:
        prefix = PurePosixPath(path).as_posix()
        if prefix in (".", ""):
            kept.append(path)
        elif any(name == prefix or name.startswith(prefix + "/") for name in names):
            kept.append(path)
    return kept


@dataclass(frozen=True)
class MypyRun:
    """What one mypy run checked and reported, and the files it had to leave out."""

    sources: tuple[str, ...]
    messages: tuple[MypyMessage, ...]
    skipped: dict[str, str]


class MypyCollector(Collector):
    """Mypy errors by code, total errors, notes, files checked and type coverage.

    ``by_code`` counts every error by its code (a complete count: a code absent from it was
    reported zero times).

    ``total_errors`` equals the N of mypy's "Found N errors" and ``files_checked`` its
    "checked N source files"; ``type_coverage`` is the percentage of function definitions
    mypy treats as typed (see the module docstring); ``skipped_files`` lists the files left
    out because they do not parse (path and reason).
    """

    name: ClassVar[str] = "mypy"
    key_info: ClassVar[dict[str, MetricKey]] = {
        "total_errors": MetricKey("errors, as mypy's `Found N errors` counts them"),
        "by_code": MetricKey(
            "errors per error code, complete: a code mypy can report that is absent was "
            "reported zero times (mypy.by_code.arg-type); an error without a code counts "
            "as misc",
            KeyKind.COUNTS,
            example="arg-type",
        ),
        "notes": MetricKey("notes mypy printed"),
        "files_with_errors": MetricKey("files with at least one error"),
        "files_checked": MetricKey("source files mypy checked"),
        "typed_functions": MetricKey("functions mypy treats as typed (any annotation)"),
        "total_functions": MetricKey("functions and methods in the files checked"),
        "type_coverage": MetricKey("typed_functions over total_functions, in percent"),
        "skipped_files": SKIPPED_FILES,
    }
    keys: ClassVar[tuple[str, ...]] = tuple(key_info)
    complete_counts: ClassVar[tuple[str, ...]] = ("by_code",)
    description: ClassVar[str] = "mypy errors and type coverage (the project's mypy configuration)"
    version: ClassVar[str] = "2"

    def unavailable(self) -> str | None:
        """Why mypy cannot run here, or None."""
        return _tools.missing_reason("mypy")

    def code_source(self, key: str, root: Path) -> CodeSource | None:
        """Mypy's error codes for ``by_code``."""
        return _codes.mypy_codes(root) if key == "by_code" else None

    def collect(self, context: CollectContext) -> dict[str, Any]:
        """Run mypy over what ``mypy <paths>`` checks, then count typed functions per file."""
        outcome = self._run_mypy(context)
        metrics = summarize_messages(outcome.messages, len(outcome.sources))
        metrics.update(type_coverage(self._function_counts(context, outcome.sources)))
        metrics["skipped_files"] = [
            {"path": path, "error": error} for path, error in sorted(outcome.skipped.items())
        ]
        return metrics

    def _run_mypy(self, context: CollectContext) -> MypyRun:
        # A file that cannot be read would stop mypy: it is left out and listed, as one
        # that does not parse.
        unreadable = context.unreadable()
        allowed = [p for p in (*context.paths, *context.stub_paths) if p not in unreadable]
        if not allowed:
            return MypyRun((), (), unreadable)
        use_json = supports_json(_tools.tool_version("mypy"))
        # The text fallback needs exactly one line per message, whatever the project configures.
        output = ["-O", "json"] if use_json else ["--no-pretty"]
        request = {
            # Error context lines ("In function ...") would count as notes; they add nothing.
            "flags": [*output, "--hide-error-context", "--no-error-summary"],
            "paths": paths_with_files(context.config.paths, allowed),
            "allowed": allowed,
        }
        with tempfile.TemporaryDirectory(prefix="plimsoll-mypy-") as tmp:
            result_file = Path(tmp) / "result.json"
            result = _tools.run_tool(
                DRIVER,
                [str(result_file), json.dumps(request)],
                cwd=context.root,
                timeout=_tools.timeout_for(context.config.collector_timeout_seconds),
                ok_codes=range(256),
                via_stdin=True,
            )
            try:
                data: dict[str, Any] = json.loads(result_file.read_text("utf-8"))
            except (OSError, json.JSONDecodeError):
                detail = _tools.one_line(result.stderr or result.stdout)
                raise CollectorError(
                    f"mypy failed (exit code {result.returncode}): {detail}"
                ) from None
        if data.get("usage_error"):
            raise CollectorError(f"mypy could not run: {_tools.one_line(data['usage_error'])}")
        text = "\n".join(data["messages"])
        messages = (parse_mypy_json if use_json else parse_mypy_text)(text)
        if data["blocked"]:
            blocking = next((m for m in messages if m.severity == "error"), None)
            if blocking is None:
                # A plain-text complaint (a duplicate module, say) names the problem first.
                detail = first_error_line(data["messages"]) or _tools.one_line(text)
                raise CollectorError(f"mypy could not run: {detail}")
            # Mypy stopped at this error without checking the rest, so its counts mean nothing.
            line = f":{blocking.line}" if blocking.line > 0 else ""
            raise CollectorError(
                f"mypy stopped at {blocking.path}{line}: {blocking.message}"
                f"{f' [{blocking.code}]' if blocking.code else ''}"
            )
        return MypyRun(tuple(data["sources"]), tuple(messages), {**unreadable, **data["skipped"]})

    def _function_counts(
        self, context: CollectContext, checked: Iterable[str]
    ) -> list[FunctionCounts]:
        # Not tied to the collector's version: a file's count only changes with its content.
        key = f"{self.name}:functions:1"
        known = {f.path: f for f in (*context.files, *context.stubs)}
        counts = []
        for path in checked:
            source = known.get(path) or SourceFile(path, "")
            cached = context.cache.get(key, source.sha) if source.sha else None
            if cached is None:
                try:
                    found = count_functions(context.read(source.path))
                except (SyntaxError, ValueError, OSError, RecursionError):
                    # Mypy cannot build a tree for such a file either; it has no functions to count.
                    found = FunctionCounts(0, 0)
                cached = {"typed": found.typed, "total": found.total}
                if source.sha:
                    context.cache.put(key, source.sha, cached)
            counts.append(FunctionCounts(int(cached["typed"]), int(cached["total"])))
        return counts
