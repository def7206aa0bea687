"""The ``debt`` collector: debt markers in comments and structural debt, with fix-time estimates.

Markers: the words of ``DebtConfig.markers`` (TODO, FIXME, HACK, XXX, BUG, OPTIMIZE,
REFACTOR by default) found in comments only. Comments come from ``tokenize``, so a marker
in an identifier (``todo_list``), a string or a docstring is never counted. A marker must
be a whole word in upper case as configured (``# TODO: x`` counts, ``# todos`` and
``# mastodon`` do not). Every occurrence is one item. Severity: FIXME and BUG are high,
HACK and XXX medium, the others low. Fix time: ``minutes_per_marker``.

Structural debt (from one ``ast`` parse of the file):

* ``long_function``: a function or method longer than ``long_function_lines`` physical
  lines (``def`` line to last line; nested functions count towards their enclosing one
  and are not reported separately). Fix time ``minutes_per_long_function``.
* ``large_class``: a class longer than ``large_class_lines`` lines or with more than
  ``large_class_methods`` methods defined directly in its body (one item when either
  holds). Fix time ``minutes_per_large_class``.
* ``deep_nesting``: a function whose nesting depth (see
  :mod:`plimsoll.code.collectors._astutil`) exceeds ``max_nesting``. Fix time
  ``minutes_per_deep_nesting``.
* ``high_complexity``: a function or method whose radon cyclomatic complexity (as
  ``radon cc -j``) exceeds ``high_complexity``. Fix time ``minutes_per_complexity_point``
  for each point above the limit.

Structural severity is high when the value is more than twice its limit, medium otherwise.
``items`` is capped at :attr:`DebtCollector.max_items` (most severe first); every count and
total is exact regardless. ``items_per_kloc`` is items per thousand physical lines.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from typing import Any, ClassVar

from radon.complexity import cc_visit_ast
from radon.visitors import Function

from plimsoll.code.collectors._astutil import nesting_depth, outer_functions, parse
from plimsoll.code.collectors.base import (
    SKIPPED_FILES,
    CollectContext,
    KeyKind,
    MetricKey,
    PerFileCollector,
)
from plimsoll.core.config import DebtConfig

KINDS: tuple[str, ...] = (
    "marker",
    "long_function",
    "large_class",
    "deep_nesting",
    "high_complexity",
)
SEVERITIES: tuple[str, ...] = ("high", "medium", "low")
MARKER_SEVERITY: dict[str, str] = {
    "FIXME": "high",
    "BUG": "high",
    "HACK": "medium",
    "XXX": "medium",
}


def marker_pattern(markers: list[str]) -> re.Pattern[str] | None:
    """A regex matching any of ``markers`` as a whole word, or None when there are none."""
    words = [m for m in markers if m]
    if not words:
        return None
    # Longest first so that a marker that prefixes another cannot shadow it.
    alternatives = "|".join(re.escape(m) for m in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)({alternatives})(?!\w)")


def comments(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every comment in ``source``; raises SyntaxError when it cannot tokenize."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                yield token.start[0], token.string
    except tokenize.TokenError as exc:
        raise SyntaxError(f"cannot tokenize: {exc.args[0] if exc.args else exc}") from exc


def _severity(value: float, limit: float) -> str:
    return "high" if value > 2 * limit else "medium"


def _item(
    line: int, kind: str, name: str, severity: str, minutes: float, message: str
) -> dict[str, Any]:
    return {
        "line": line,
        "kind": kind,
        "name": name,
        "severity": severity,
        "minutes": minutes,
        "message": message,
    }


def marker_items(source: str, config: DebtConfig) -> list[dict[str, Any]]:
    """One item per marker occurrence in the comments of ``source``."""
    pattern = marker_pattern(config.markers)
    if pattern is None:
        return []
    items = []
    for line, text in comments(source):
        for match in pattern.finditer(text):
            marker = match.group(1)
            items.append(
                _item(
                    line,
                    "marker",
                    marker,
                    MARKER_SEVERITY.get(marker, "low"),
                    config.minutes_per_marker,
                    text.lstrip("#").strip()[:200],
                )
            )
    return items


def _class_items(tree: ast.Module, config: DebtConfig) -> list[dict[str, Any]]:
    items = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                qualname = f"{prefix}{child.name}"
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                methods = sum(
                    isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef) for s in child.body
                )
                too_long = lines > config.large_class_lines
                too_many = methods > config.large_class_methods
                if too_long or too_many:
                    ratio = max(
                        lines / config.large_class_lines if config.large_class_lines else 0.0,
                        methods / config.large_class_methods if config.large_class_methods else 0.0,
                    )
                    items.append(
                        _item(
                            child.lineno,
                            "large_class",
                            qualname,
                            "high" if ratio > 2 else "medium",
                            config.minutes_per_large_class,
                            f"class {qualname}: {lines} lines (limit {config.large_class_lines}),"
                            f" {methods} methods (limit {config.large_class_methods})",
                        )
                    )
                visit(child, f"{qualname}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, f"{prefix}{child.name}.<locals>.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return items


def structural_items(tree: ast.Module, config: DebtConfig) -> list[dict[str, Any]]:
    """Long functions, large classes, deep nesting and high complexity found in ``tree``."""
    items: list[dict[str, Any]] = []
    for function in outer_functions(tree):
        lines = function.lines
        if lines > config.long_function_lines:
            items.append(
                _item(
                    function.node.lineno,
                    "long_function",
                    function.qualname,
                    _severity(lines, config.long_function_lines),
                    config.minutes_per_long_function,
                    f"{function.qualname} is {lines} lines (limit {config.long_function_lines})",
                )
            )
        depth = nesting_depth(function.node)
        if depth > config.max_nesting:
            items.append(
                _item(
                    function.node.lineno,
                    "deep_nesting",
                    function.qualname,
                    _severity(depth, config.max_nesting),
                    config.minutes_per_deep_nesting,
                    f"{function.qualname} nests {depth} deep (limit {config.max_nesting})",
                )
            )
    items.extend(_class_items(tree, config))
    for block in cc_visit_ast(tree):
        if isinstance(block, Function) and block.complexity > config.high_complexity:
            over = block.complexity - config.high_complexity
            items.append(
                _item(
                    block.lineno,
                    "high_complexity",
                    block.fullname,
                    _severity(block.complexity, config.high_complexity),
                    over * config.minutes_per_complexity_point,
                    f"{block.fullname} has cyclomatic complexity {block.complexity}"
                    f" (limit {config.high_complexity})",
                )
            )
    return items


def file_debt(source: str, config: DebtConfig, path: str = "<unknown>") -> dict[str, Any]:
    """``{"lines", "items"}`` of one file, items by line; SyntaxError when it does not parse."""
    tree = parse(source, path)
    items = marker_items(source, config) + structural_items(tree, config)
    items.sort(key=lambda item: (item["line"], KINDS.index(item["kind"]), item["name"]))
    return {"lines": len(source.splitlines()), "items": items}


class DebtCollector(PerFileCollector):
    """Debt markers in comments and structural debt, each with severity and estimated fix time.

    Result: ``item_count``; ``by_kind`` (count per kind in :data:`KINDS`); ``by_marker``
    (count per configured marker); ``by_severity``; ``total_minutes``; ``total_hours``;
    ``lines`` (physical lines analysed); ``items_per_kloc``; ``items`` (each ``{"file",
    "line", "kind", "name", "severity", "minutes", "message"}``, most severe and costly
    first, at most :attr:`max_items`); ``items_truncated`` (how many were left out).
    """

    name: ClassVar[str] = "debt"
    key_info: ClassVar[dict[str, MetricKey]] = {
        "item_count": MetricKey("debt items found (markers and structural debt)"),
        "by_kind": MetricKey("items per kind", KeyKind.GROUP, KINDS),
        # The markers are code.debt.markers: the configuration decides the members.
        "by_marker": MetricKey(
            "marker items per configured marker (code.debt.markers)",
            KeyKind.GROUP,
            example="TODO",
        ),
        "by_severity": MetricKey("items per severity", KeyKind.GROUP, SEVERITIES),
        "total_minutes": MetricKey("estimated minutes to fix every item"),
        "total_hours": MetricKey("total_minutes in hours, to 2 decimals"),
        "lines": MetricKey("physical lines analysed"),
        "items_per_kloc": MetricKey("items per 1,000 lines analysed"),
        "items": MetricKey(
            "the items, most severe and costly first, each {file, line, kind, name, severity, "
            "minutes, message}",
            KeyKind.DETAIL,
        ),
        "items_truncated": MetricKey("items left out of items (beyond its cap)"),
        "skipped_files": SKIPPED_FILES,
    }
    keys: ClassVar[tuple[str, ...]] = tuple(key_info)
    description: ClassVar[str] = (
        "TODO/FIXME-style markers in comments, long functions, large classes, deep nesting"
        " and high complexity, with estimated fix times"
    )
    version: ClassVar[str] = "1"
    max_items: ClassVar[int] = 500

    def relevant_config(self, context: CollectContext) -> Any:
        """The debt settings: markers, limits and fix times all shape the per-file items."""
        return context.config.debt.model_dump(mode="json")

    def analyze_file(self, path: str, source: str, context: CollectContext) -> dict[str, Any]:
        """Debt items of one file; raises SyntaxError when it does not parse."""
        return file_debt(source, context.config.debt, path)

    def summarize(
        self, per_file: dict[str, dict[str, Any]], context: CollectContext
    ) -> dict[str, Any]:
        """Exact counts and totals over all files, plus the (capped) list of items."""
        items = [
            {"file": path, **item} for path in sorted(per_file) for item in per_file[path]["items"]
        ]
        by_kind = {kind: 0 for kind in KINDS}
        by_marker = {marker: 0 for marker in context.config.debt.markers}
        by_severity = {severity: 0 for severity in SEVERITIES}
        total_minutes = 0.0
        for item in items:
            by_kind[item["kind"]] += 1
            by_severity[item["severity"]] += 1
            if item["kind"] == "marker":
                by_marker[item["name"]] = by_marker.get(item["name"], 0) + 1
            total_minutes += float(item["minutes"])
        lines = sum(int(result["lines"]) for result in per_file.values())
        items.sort(
            key=lambda i: (SEVERITIES.index(i["severity"]), -i["minutes"], i["file"], i["line"])
        )
        kept = items[: self.max_items]
        return {
            "item_count": len(items),
            "by_kind": by_kind,
            "by_marker": by_marker,
            "by_severity": by_severity,
            "total_minutes": total_minutes,
            "total_hours": round(total_minutes / 60, 2),
            "lines": lines,
            "items_per_kloc": round(len(items) * 1000 / lines, 3) if lines else 0.0,
            "items": kept,
            "items_truncated": len(items) - len(kept),
        }
