"""The ``complexity`` collector: cyclomatic and cognitive complexity and nesting depth per function.

Cyclomatic complexity comes from radon (``radon.complexity.cc_visit_ast`` on the file's one
parse): the functions and methods are exactly the ``function`` and ``method`` blocks that
``radon cc -j`` lists (default options: closures are not listed separately, their decisions
are not added to the enclosing function; methods of classes nested in classes are not
listed), with the same complexity and the same A-F rank (``radon.complexity.cc_rank``).
Class blocks are not counted as functions. ``average`` is the plain mean over functions.

Cognitive complexity follows the SonarSource specification, adapted to Python's ``ast``:

* Structural increments, +1 plus the current nesting level: ``if`` (not ``elif``), the
  conditional expression ``a if c else b``, ``for`` / ``async for``, ``while``, each
  ``except`` clause, ``match`` (once, however many cases).
* Hybrid increments, +1 without a nesting penalty: ``elif``, and the ``else`` of an ``if``,
  a loop or a ``try``.
* Fundamental increments, +1: each sequence of like boolean operators (``a and b and c``
  is one; ``a and b or c`` is two; a parenthesised run of the same operator continues the
  sequence), and each recursive call (a call to the function's own name; for a method, to
  ``self.<name>``, ``cls.<name>`` or ``<Class>.<name>``).
* Nesting: the bodies of ``if`` / ``elif`` / ``else``, loops, ``except`` clauses and
  ``match`` cases, the branches of a conditional expression, and the bodies of nested
  functions and lambdas are one level deeper. Conditions are at the level of their
  statement. ``try`` / ``finally`` / ``with`` add no increment and no nesting.
* Shorthand adds nothing: comprehensions, ``with``, ``return`` / ``break`` / ``continue``.
  Nested functions count towards the function that contains them.

Nesting depth is the largest number of compound statements around any statement of the
function (see :mod:`plimsoll.code.collectors._astutil`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from radon.complexity import cc_rank, cc_visit_ast
from radon.visitors import Function

from plimsoll.code.collectors._astutil import (
    cognitive_complexity,
    functions_by_position,
    nesting_depth,
    parse,
)
from plimsoll.code.collectors.base import (
    SKIPPED_FILES,
    CollectContext,
    KeyKind,
    MetricKey,
    PerFileCollector,
)

RANKS: tuple[str, ...] = ("A", "B", "C", "D", "E", "F")


def file_complexity(source: str, path: str = "<unknown>") -> dict[str, Any]:
    """Per-function complexity of one file: ``{"functions": [...]}`` in radon's block order.

    Each function is ``{"name", "line", "kind", "cc", "rank", "cognitive", "nesting"}``
    where ``name`` is radon's full name (``Class.method`` for methods) and ``kind`` is
    ``function`` or ``method``. Raises SyntaxError when the source does not parse.
    """
    tree = parse(source, path)
    nodes = functions_by_position(tree)
    functions: list[dict[str, Any]] = []
    for block in cc_visit_ast(tree):
        if not isinstance(block, Function):
            continue
        node = nodes[(block.lineno, block.col_offset)]
        class_name = block.classname if block.is_method else None
        functions.append(
            {
                "name": block.fullname,
                "line": block.lineno,
                "kind": "method" if block.is_method else "function",
                "cc": block.complexity,
                "rank": cc_rank(block.complexity),
                "cognitive": cognitive_complexity(node, class_name),
                "nesting": nesting_depth(node),
            }
        )
    return {"functions": functions}


class ComplexityCollector(PerFileCollector):
    """Cyclomatic complexity (radon), cognitive complexity and nesting depth of each function.

    Result: ``function_count``; ``average`` / ``max`` cyclomatic complexity; ``ranks``
    (count per A-F rank); ``cognitive_average`` / ``cognitive_max``; ``max_nesting``;
    ``top`` (the :attr:`top_n` most complex functions, each ``{"file", "line", "name",
    "cc", "rank", "cognitive", "nesting"}``, by cyclomatic then cognitive complexity).
    """

    name: ClassVar[str] = "complexity"
    key_info: ClassVar[dict[str, MetricKey]] = {
        "function_count": MetricKey(
            "functions and methods (async included): radon's function and method blocks; "
            "class blocks are not counted"
        ),
        "average": MetricKey(
            "mean cyclomatic complexity of the functions and methods (radon's function and "
            "method blocks); `radon cc -a` averages its class blocks too, so its figure is "
            "not this one"
        ),
        "max": MetricKey("highest cyclomatic complexity of a function or method"),
        "ranks": MetricKey(
            "functions and methods per radon rank A-F (class blocks, which `radon cc` also "
            "ranks, are not counted)",
            KeyKind.GROUP,
            RANKS,
        ),
        "cognitive_average": MetricKey(
            "mean cognitive complexity (SonarSource's, on Python's ast) of the functions"
        ),
        "cognitive_max": MetricKey("highest cognitive complexity of a function or method"),
        "max_nesting": MetricKey("deepest nesting of compound statements in any function"),
        "top": MetricKey(
            "the most complex functions, each {file, line, name, cc, rank, cognitive, nesting}",
            KeyKind.DETAIL,
        ),
        "skipped_files": SKIPPED_FILES,
    }
    keys: ClassVar[tuple[str, ...]] = tuple(key_info)
    description: ClassVar[str] = (
        "Cyclomatic complexity (radon) with A-F ranks, cognitive complexity and nesting depth"
    )
    version: ClassVar[str] = "1"
    top_n: ClassVar[int] = 10

    def analyze_file(self, path: str, source: str, context: CollectContext) -> dict[str, Any]:
        """Per-function complexity of one file; raises SyntaxError when it does not parse."""
        return file_complexity(source, path)

    def summarize(
        self, per_file: dict[str, dict[str, Any]], context: CollectContext
    ) -> dict[str, Any]:
        """Averages, maxima, rank counts and the most complex functions over all files."""
        rows = [
            {"file": path, **function}
            for path in sorted(per_file)
            for function in per_file[path]["functions"]
        ]
        ranks = {rank: 0 for rank in RANKS}
        for row in rows:
            ranks[row["rank"]] += 1
        count = len(rows)
        cc_values = [int(row["cc"]) for row in rows]
        cognitive_values = [int(row["cognitive"]) for row in rows]
        top = sorted(rows, key=lambda r: (-r["cc"], -r["cognitive"], r["file"], r["line"]))
        return {
            "function_count": count,
            "average": sum(cc_values) / count if count else 0.0,
            "max": max(cc_values, default=0),
            "ranks": ranks,
            "cognitive_average": sum(cognitive_values) / count if count else 0.0,
            "cognitive_max": max(cognitive_values, default=0),
            "max_nesting": max((int(row["nesting"]) for row in rows), default=0),
            "top": [
                {
                    key: row[key]
                    for key in ("file", "line", "name", "cc", "rank", "cognitive", "nesting")
                }
                for row in top[: self.top_n]
            ],
        }
