"""Pylint score and message counts from one whole-project run with ``--output-format=json2``.

Pylint runs in the project's root, so its ``pyproject.toml``/``.pylintrc``/``setup.cfg``
settings apply (disabled messages, ``evaluation``, plugins). The score is the one pylint
puts in its json2 ``statistics``. The number of statements, which json2 leaves out, comes
from the same run's text report (``--reports=y``: "N statements analysed.").

Results are not cached per module: a module's messages depend on the modules it imports
(inference across files) and on the whole set (``duplicate-code``, ``cyclic-import``), so
summing cached per-module results would not equal what pylint reports on the project.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from plimsoll.code.collectors import _tools
from plimsoll.code.collectors.base import CollectContext, Collector, CollectorError

MESSAGE_TYPES = ("fatal", "error", "warning", "refactor", "convention", "info")
TOP_SYMBOLS = 20
# Pylint's exit status is a bit field; 32 means it could not run (usage or configuration error).
USAGE_ERROR = 32
_STATEMENTS = re.compile(r"^(\d+) statements analysed\.$", re.MULTILINE)


@dataclass(frozen=True)
class PylintReport:
    """What one pylint run reported."""

    score: float | None
    counts: dict[str, int]
    symbols: dict[str, int]
    modules: int
    statements: int | None


def parse_json2(text: str) -> PylintReport:
    """Read pylint's json2 output (``messages`` and ``statistics``)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CollectorError(
            f"pylint wrote no valid json2 output: {exc.msg} at line {exc.lineno}"
        ) from None
    stats = data.get("statistics", {})
    counts_raw = stats.get("messageTypeCount", {})
    counts = {kind: int(counts_raw.get(kind, 0)) for kind in MESSAGE_TYPES}
    raw_score = stats.get("score")
    # A project-defined `evaluation` that fails makes pylint report a message instead of a number.
    score = float(raw_score) if isinstance(raw_score, int | float) else None
    symbols = Counter(
        str(m.get("symbol") or m.get("messageId") or "unknown") for m in data.get("messages", [])
    )
    return PylintReport(
        score=score,
        counts=counts,
        symbols=dict(symbols),
        modules=int(stats.get("modulesLinted", 0)),
        statements=None,
    )


def parse_statements(text: str) -> int | None:
    """The statement count from pylint's text report, or None when it printed no report."""
    match = _STATEMENTS.search(text)
    return int(match.group(1)) if match else None


def report_metrics(report: PylintReport) -> dict[str, Any]:
    """The collector's metrics from a parsed report."""
    top = sorted(report.symbols.items(), key=lambda item: (-item[1], item[0]))[:TOP_SYMBOLS]
    return {
        "score": report.score,
        "by_type": report.counts,
        "total": sum(report.counts.values()),
        "top_symbols": dict(top),
        "statements": report.statements,
        "modules": report.modules,
    }


class PylintCollector(Collector):
    """Pylint's score, message counts by type, the most frequent symbols and statements analysed.

    ``score`` is json2's ``statistics.score`` (None when the project's ``evaluation`` fails);
    ``top_symbols`` holds the 20 most frequent message symbols.
    """

    name: ClassVar[str] = "pylint"
    keys: ClassVar[tuple[str, ...]] = (
        "score",
        "by_type",
        "total",
        "top_symbols",
        "statements",
        "modules",
    )
    description: ClassVar[str] = "pylint score and messages (the project's pylint configuration)"

    def unavailable(self) -> str | None:
        """Why pylint cannot run here, or None."""
        return _tools.missing_reason("pylint")

    def collect(self, context: CollectContext) -> dict[str, Any]:
        """Run pylint once over all files and read its json2 and text reports."""
        if not context.files:
            return report_metrics(PylintReport(None, dict.fromkeys(MESSAGE_TYPES, 0), {}, 0, 0))
        with tempfile.TemporaryDirectory(prefix="plimsoll-pylint-") as tmp:
            json_path = Path(tmp) / "pylint.json"
            args = [
                f"--output-format=json2:{json_path},text",
                "--reports=y",
                # Keeps pylint from writing its run history into the user's cache directory.
                "--persistent=n",
                *context.paths,
            ]
            result = _tools.run_tool(
                "pylint",
                args,
                cwd=context.root,
                timeout=_tools.timeout_for(context.config.collector_timeout_seconds),
                ok_codes=range(USAGE_ERROR),
            )
            try:
                text = json_path.read_text("utf-8")
            except OSError:
                raise CollectorError(
                    f"pylint wrote no report: {_tools.one_line(result.stderr)}"
                ) from None
        report = parse_json2(text)
        statements = parse_statements(result.stdout)
        return report_metrics(
            PylintReport(report.score, report.counts, report.symbols, report.modules, statements)
        )
