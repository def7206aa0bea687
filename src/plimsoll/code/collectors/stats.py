"""The ``stats`` collector: lines, docstring lines, functions and classes, per file and in total.

Line counts come from radon's raw analysis (``radon.raw.analyze``), so ``loc``, ``lloc``,
``sloc`` (code lines), ``comments`` (comment lines), ``multi`` (lines of multi-line strings),
``blank`` and ``single_comments`` equal what ``radon raw -j`` reports for the same file.
The rest comes from one ``ast`` parse: ``docstring_lines`` (physical lines of the module,
class and function docstrings), ``functions`` (every ``def`` and ``async def``, methods and
nested functions included), ``async_functions`` (the ``async def`` among them) and
``classes`` (every class, nested ones included).

A file on which radon's raw analysis would be pathologically slow (a literal spanning
thousands of lines) is skipped and reported instead of stalling the run.
"""

from __future__ import annotations

import ast
from typing import Any, ClassVar

from plimsoll.code.collectors._astutil import docstring_lines, parse_with_raw
from plimsoll.code.collectors.base import (
    SKIPPED_FILES,
    CollectContext,
    KeyKind,
    MetricKey,
    PerFileCollector,
)

# The order of the values in each per-file row of the summary (kept compact for record size).
COLUMNS: tuple[str, ...] = (
    "loc",
    "lloc",
    "sloc",
    "comments",
    "multi",
    "blank",
    "single_comments",
    "docstring_lines",
    "functions",
    "async_functions",
    "classes",
)


def file_stats(source: str, path: str = "<unknown>") -> dict[str, Any]:
    """The statistics of one file's source, one value per name in :data:`COLUMNS`.

    Raises SyntaxError when the source does not parse. Returns ``{"__skipped__": reason}``
    when radon's raw analysis would be pathologically slow on it.
    """
    parsed = parse_with_raw(source, path)
    if isinstance(parsed, str):
        return {"__skipped__": parsed}
    tree, raw = parsed
    functions = async_functions = classes = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            functions += 1
        elif isinstance(node, ast.AsyncFunctionDef):
            functions += 1
            async_functions += 1
        elif isinstance(node, ast.ClassDef):
            classes += 1
    return {
        "loc": raw.loc,
        "lloc": raw.lloc,
        "sloc": raw.sloc,
        "comments": raw.comments,
        "multi": raw.multi,
        "blank": raw.blank,
        "single_comments": raw.single_comments,
        "docstring_lines": docstring_lines(tree),
        "functions": functions,
        "async_functions": async_functions,
        "classes": classes,
    }


class StatsCollector(PerFileCollector):
    """Counts lines (radon raw), docstring lines, functions (async included) and classes.

    Result: ``file_count``; ``totals`` (each of :data:`COLUMNS` summed over the files);
    ``columns`` (the names of :data:`COLUMNS`); ``per_file`` (path -> list of values in
    ``columns`` order).
    """

    name: ClassVar[str] = "stats"
    key_info: ClassVar[dict[str, MetricKey]] = {
        "file_count": MetricKey("Python files analysed (skipped files not counted)"),
        "totals": MetricKey(
            "each column summed over the files: loc, lloc, sloc, comments, multi, blank and "
            "single_comments as radon raw counts them; docstring_lines (module, class and "
            "function docstrings); functions (async included); async_functions; classes",
            KeyKind.GROUP,
            COLUMNS,
        ),
        "columns": MetricKey("the names of the values in each per_file row", KeyKind.DETAIL),
        "per_file": MetricKey(
            "path -> the file's values in columns order (stats.per_file.<path>.<index>)",
            KeyKind.DETAIL,
        ),
        "skipped_files": SKIPPED_FILES,
    }
    keys: ClassVar[tuple[str, ...]] = tuple(key_info)
    description: ClassVar[str] = (
        "Lines (radon raw), docstring lines, functions and classes per file and in total"
    )
    version: ClassVar[str] = "1"

    def analyze_file(self, path: str, source: str, context: CollectContext) -> dict[str, Any]:
        """Statistics of one file; raises SyntaxError when it does not parse."""
        return file_stats(source, path)

    def summarize(
        self, per_file: dict[str, dict[str, Any]], context: CollectContext
    ) -> dict[str, Any]:
        """Totals over the files plus a compact per-file table."""
        totals = {column: 0 for column in COLUMNS}
        rows: dict[str, list[int]] = {}
        for path in sorted(per_file):
            result = per_file[path]
            row = [int(result[column]) for column in COLUMNS]
            for column, value in zip(COLUMNS, row, strict=True):
                totals[column] += value
            rows[path] = row
        return {
            "file_count": len(rows),
            "totals": totals,
            "columns": list(COLUMNS),
            "per_file": rows,
        }
