"""Ruff violations: ``ruff check --output-format json --exit-zero`` over the project's files.

Stub files (``.pyi``) are checked too, as ``ruff check <folder>`` checks them.

Ruff runs in the project's root, so its own ``pyproject.toml``/``ruff.toml`` selection, ignores
and excludes apply (``--force-exclude`` makes its excludes hold for files named on the command
line too). Ruff's results are per file, so long file lists are checked in chunks with the
same totals.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from plimsoll.code.collectors import _codes, _tools
from plimsoll.code.collectors.base import (
    CodeSource,
    CollectContext,
    Collector,
    CollectorError,
    KeyKind,
    MetricKey,
)


@dataclass(frozen=True)
class RuffSummary:
    """Counts from ruff's JSON output."""

    by_code: dict[str, int] = field(default_factory=dict)
    fixable: int = 0
    unsafe_fixable: int = 0
    files: frozenset[str] = frozenset()

    @property
    def total(self) -> int:
        """All violations, as ruff's ``Found N errors`` counts them."""
        return sum(self.by_code.values())

    def merge(self, other: RuffSummary) -> RuffSummary:
        """The counts of two disjoint runs together."""
        return RuffSummary(
            dict(Counter(self.by_code) + Counter(other.by_code)),
            self.fixable + other.fixable,
            self.unsafe_fixable + other.unsafe_fixable,
            self.files | other.files,
        )


def parse_ruff_json(text: str, root: Path) -> RuffSummary:
    """Count the violations of one ``ruff check --output-format json`` run below ``root``."""
    try:
        entries = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise CollectorError(
            f"ruff printed no valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    if not isinstance(entries, list):
        raise CollectorError("ruff printed JSON that is not a list of violations")
    by_code: Counter[str] = Counter()
    fixable = unsafe = 0
    files: set[str] = set()
    for entry in entries:
        # Syntax errors come without a rule code; ruff still counts them among its errors.
        code = entry.get("code") or entry.get("name") or "unknown"
        by_code[code] += 1
        fix = entry.get("fix")
        if isinstance(fix, dict):
            # What `ruff check --fix` applies by default; unsafe fixes need --unsafe-fixes.
            applicability = fix.get("applicability")
            if applicability == "safe":
                fixable += 1
            elif applicability == "unsafe":
                unsafe += 1
        filename = entry.get("filename")
        if filename:
            files.add(_relative(filename, root))
    return RuffSummary(dict(by_code), fixable, unsafe, frozenset(files))


def _relative(filename: str, root: Path) -> str:
    path = Path(filename)
    if not path.is_absolute():
        return os.path.normpath(filename)
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return os.path.relpath(path, root)


def summary_metrics(summary: RuffSummary) -> dict[str, Any]:
    """The collector's metrics from a summary."""
    by_code = dict(sorted(summary.by_code.items(), key=lambda item: (-item[1], item[0])))
    return {
        "total": summary.total,
        "by_code": by_code,
        "fixable": summary.fixable,
        "unsafe_fixable": summary.unsafe_fixable,
        "files_with_violations": len(summary.files),
    }


class RuffCollector(Collector):
    """Ruff violations by rule code, total, fixable count and files with violations.

    ``by_code`` counts every violation by rule code (a complete count: a code absent from
    it was reported zero times);
    ``fixable`` counts the violations ``ruff check --fix`` fixes (safe fixes);
    ``unsafe_fixable`` those that need ``--unsafe-fixes``.
    """

    name: ClassVar[str] = "ruff"
    key_info: ClassVar[dict[str, MetricKey]] = {
        "total": MetricKey("violations, as ruff's `Found N errors` counts them"),
        "by_code": MetricKey(
            "violations per rule code, complete: a code ruff can report that is absent "
            "was reported zero times (ruff.by_code.F401); syntax errors count as "
            "invalid-syntax",
            KeyKind.COUNTS,
            example="F401",
        ),
        "fixable": MetricKey("violations `ruff check --fix` fixes (safe fixes)"),
        "unsafe_fixable": MetricKey("violations only --unsafe-fixes fixes"),
        "files_with_violations": MetricKey("files with at least one violation"),
    }
    keys: ClassVar[tuple[str, ...]] = tuple(key_info)
    complete_counts: ClassVar[tuple[str, ...]] = ("by_code",)
    description: ClassVar[str] = "ruff check violations (the project's ruff configuration)"

    def unavailable(self) -> str | None:
        """Why ruff cannot run here, or None."""
        return _tools.missing_reason("ruff")

    def code_source(self, key: str, root: Path) -> CodeSource | None:
        """Ruff's rule codes for ``by_code``."""
        return _codes.ruff_codes(root) if key == "by_code" else None

    def collect(self, context: CollectContext) -> dict[str, Any]:
        """Run ruff over the files in chunks and count its violations."""
        summary = RuffSummary()
        root = context.root.resolve()
        timeout = _tools.timeout_for(context.config.collector_timeout_seconds)
        for chunk in _tools.chunked([*context.paths, *context.stub_paths]):
            result = _tools.run_tool(
                "ruff",
                [
                    "check",
                    "--output-format",
                    "json",
                    "--exit-zero",
                    "--force-exclude",
                    "--no-fix",
                    *chunk,
                ],
                cwd=context.root,
                timeout=timeout,
            )
            summary = summary.merge(parse_ruff_json(result.stdout, root))
        return summary_metrics(summary)
