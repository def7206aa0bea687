"""The ``maintainability`` collector: radon's Maintainability Index (MI) per file and overall.

Each file's MI is what ``radon mi -j`` reports (``radon.metrics.mi_visit(source, multi=True)``:
multi-line strings count as comments), computed from one parse of the file: the Halstead
volume, total cyclomatic complexity, logical lines and comment percentage are the same
inputs ``mi_visit`` derives, passed to ``radon.metrics.mi_compute``. The rank is
``radon.metrics.mi_rank`` (A above 19, B above 9, C otherwise).

``average`` is the plain mean of the files' MI (every file weighs the same, as in radon's
own listing); ``weighted_average`` weighs each file by its source lines of code (radon's
``sloc``) so a large hard-to-maintain module moves it more than a small one.

A file on which radon's raw analysis would be pathologically slow (a literal spanning
thousands of lines) is skipped and reported instead of stalling the run.
"""

from __future__ import annotations

from typing import Any, ClassVar

from radon.metrics import h_visit_ast, mi_compute, mi_rank
from radon.visitors import ComplexityVisitor

from plimsoll.code.collectors._astutil import parse_with_raw
from plimsoll.code.collectors.base import (
    SKIPPED_FILES,
    CollectContext,
    KeyKind,
    MetricKey,
    PerFileCollector,
)

RANKS: tuple[str, ...] = ("A", "B", "C")


def file_maintainability(source: str, path: str = "<unknown>") -> dict[str, Any]:
    """``{"mi", "rank", "sloc"}`` of one file, ``mi`` and ``rank`` as ``radon mi -j`` reports.

    Raises SyntaxError when the source does not parse. Returns ``{"__skipped__": reason}``
    when radon's raw analysis would be pathologically slow on it.
    """
    parsed = parse_with_raw(source, path)
    if isinstance(parsed, str):
        return {"__skipped__": parsed}
    tree, raw = parsed
    # The same parameters as radon.metrics.mi_parameters(source, count_multi=True),
    # computed from the tree parsed above instead of parsing again.
    comment_lines = raw.comments + raw.multi
    comments_percent = comment_lines / float(raw.sloc) * 100 if raw.sloc != 0 else 0
    volume = h_visit_ast(tree).total.volume
    complexity = ComplexityVisitor.from_ast(tree).total_complexity
    mi = mi_compute(volume, complexity, raw.lloc, comments_percent)
    return {"mi": mi, "rank": mi_rank(mi), "sloc": raw.sloc}


class MaintainabilityCollector(PerFileCollector):
    """Radon's Maintainability Index per file, its rank, averages, minimum and the worst files.

    Result: ``file_count``; ``average`` (unweighted mean MI); ``weighted_average`` (weighted
    by sloc); ``min``; ``ranks`` (count per A/B/C); ``worst`` (the :attr:`worst_n` lowest,
    each ``{"file", "mi", "rank"}``); ``per_file`` (path -> ``{"mi", "rank"}``, as
    ``radon mi -j`` prints it). With no files analysed the averages and ``min`` are None.
    """

    name: ClassVar[str] = "maintainability"
    key_info: ClassVar[dict[str, MetricKey]] = {
        "file_count": MetricKey("Python files analysed (skipped files not counted)"),
        "average": MetricKey("mean Maintainability Index (radon mi) over the files"),
        "weighted_average": MetricKey("mean Maintainability Index weighted by each file's sloc"),
        "min": MetricKey("lowest Maintainability Index of a file"),
        "ranks": MetricKey("files per radon mi rank A-C", KeyKind.GROUP, RANKS),
        "worst": MetricKey("the lowest-scoring files, each {file, mi, rank}", KeyKind.DETAIL),
        "per_file": MetricKey(
            "path -> {mi, rank}, as radon mi -j prints it (maintainability.per_file.<path>.mi)",
            KeyKind.DETAIL,
        ),
        "skipped_files": SKIPPED_FILES,
    }
    keys: ClassVar[tuple[str, ...]] = tuple(key_info)
    description: ClassVar[str] = "Maintainability Index (radon mi) per file, averages and ranks"
    version: ClassVar[str] = "1"
    worst_n: ClassVar[int] = 10

    def analyze_file(self, path: str, source: str, context: CollectContext) -> dict[str, Any]:
        """MI of one file; raises SyntaxError when it does not parse."""
        return file_maintainability(source, path)

    def summarize(
        self, per_file: dict[str, dict[str, Any]], context: CollectContext
    ) -> dict[str, Any]:
        """Averages, minimum, rank counts and the worst files."""
        paths = sorted(per_file)
        values = [float(per_file[path]["mi"]) for path in paths]
        weights = [int(per_file[path]["sloc"]) for path in paths]
        ranks = {rank: 0 for rank in RANKS}
        for path in paths:
            ranks[per_file[path]["rank"]] += 1
        count = len(paths)
        total_weight = sum(weights)
        weighted: float | None
        if total_weight:
            weighted = sum(v * w for v, w in zip(values, weights, strict=True)) / total_weight
        elif count:
            # No code lines at all (only empty or comment files): every file weighs the same.
            weighted = sum(values) / count
        else:
            weighted = None
        worst = sorted(paths, key=lambda p: (per_file[p]["mi"], p))[: self.worst_n]
        return {
            "file_count": count,
            "average": sum(values) / count if count else None,
            "weighted_average": weighted,
            "min": min(values, default=None),
            "ranks": ranks,
            "worst": [
                {"file": p, "mi": per_file[p]["mi"], "rank": per_file[p]["rank"]} for p in worst
            ],
            "per_file": {p: {"mi": per_file[p]["mi"], "rank": per_file[p]["rank"]} for p in paths},
        }
