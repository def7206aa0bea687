"""Bandit security findings: ``bandit -f json`` over the project's files, cached per file.

Bandit checks each file on its own and its ``metrics._totals`` is the sum of the per-file
metrics, so per-file results (keyed by content hash, bandit's version and the project's bandit
configuration) add up to exactly what one whole-project run reports; only new or changed
files are scanned again.

The project's own settings are honoured: ``.bandit`` (INI, passed as ``--ini``), a
``[tool.bandit]`` table in ``pyproject.toml`` or a ``bandit.yaml``/``bandit.yml`` (passed
as ``-c``); bandit applies their excludes to files named on the command line too.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections import Counter
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
    config_fingerprint,
)

LEVELS = ("LOW", "MEDIUM", "HIGH")
# Per-file metric names bandit reports, summed into its ``_totals``.
METRIC_NAMES = (
    *(f"SEVERITY.{level}" for level in (*LEVELS, "UNDEFINED")),
    *(f"CONFIDENCE.{level}" for level in (*LEVELS, "UNDEFINED")),
    "loc",
    "nosec",
    "skipped_tests",
)


def project_config_args(root: Path) -> list[str]:
    """The bandit options that make it read the project's own configuration files in ``root``."""
    args: list[str] = []
    if (root / ".bandit").is_file():
        args += ["--ini", ".bandit"]
    pyproject = root / "pyproject.toml"
    has_pyproject_table = False
    if pyproject.is_file():
        try:
            has_pyproject_table = "bandit" in tomllib.loads(pyproject.read_text("utf-8")).get(
                "tool", {}
            )
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            has_pyproject_table = False
    if has_pyproject_table:
        args += ["-c", "pyproject.toml"]
    else:
        for name in ("bandit.yaml", "bandit.yml", ".bandit.yaml", ".bandit.yml"):
            if (root / name).is_file():
                args += ["-c", name]
                break
    return args


def parse_bandit_json(text: str) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Per-file results of one ``bandit -f json`` report, and its ``metrics._totals``.

    Each file's result holds ``metrics`` (bandit's per-file metrics), ``tests`` (issues by
    test id) and ``error`` (bandit's reason when it could not scan the file, else None).
    Paths are normalised (bandit prefixes relative paths with ``./``).
    """
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CollectorError(
            f"bandit wrote no valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    metrics = report.get("metrics", {})
    totals = {name: int(metrics.get("_totals", {}).get(name, 0)) for name in METRIC_NAMES}
    per_file: dict[str, dict[str, Any]] = {}
    for filename, values in metrics.items():
        if filename == "_totals":
            continue
        per_file[os.path.normpath(filename)] = {
            "metrics": {name: int(values.get(name, 0)) for name in METRIC_NAMES},
            "tests": {},
            "error": None,
        }
    for issue in report.get("results", []):
        entry = per_file.setdefault(
            os.path.normpath(issue["filename"]),
            {"metrics": dict.fromkeys(METRIC_NAMES, 0), "tests": {}, "error": None},
        )
        test_id = issue.get("test_id") or "unknown"
        entry["tests"][test_id] = entry["tests"].get(test_id, 0) + 1
    for error in report.get("errors", []):
        entry = per_file.setdefault(
            os.path.normpath(error["filename"]),
            {"metrics": dict.fromkeys(METRIC_NAMES, 0), "tests": {}, "error": None},
        )
        entry["error"] = str(error.get("reason", "error"))
    return per_file, totals


def summarize(per_file: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The collector's metrics from per-file results (files bandit excluded carry ``excluded``)."""
    totals: Counter[str] = Counter({name: 0 for name in METRIC_NAMES})
    tests: Counter[str] = Counter()
    errors: list[dict[str, str]] = []
    scanned = 0
    for path in sorted(per_file):
        result = per_file[path]
        if result.get("excluded"):
            continue
        scanned += 1
        totals.update(result["metrics"])
        tests.update(result["tests"])
        if result.get("error"):
            errors.append({"path": path, "error": result["error"]})
    by_severity = {level: totals[f"SEVERITY.{level}"] for level in LEVELS}
    by_confidence = {level: totals[f"CONFIDENCE.{level}"] for level in LEVELS}
    return {
        "total": sum(totals[f"SEVERITY.{level}"] for level in (*LEVELS, "UNDEFINED")),
        "by_severity": by_severity,
        "by_confidence": by_confidence,
        "by_test": dict(sorted(tests.items(), key=lambda item: (-item[1], item[0]))),
        "loc": totals["loc"],
        "nosec": totals["nosec"],
        "skipped_tests": totals["skipped_tests"],
        "files": scanned,
        "errors": errors,
    }


class BanditCollector(Collector):
    """Bandit issues by severity and confidence, total, issues by test id and lines scanned.

    ``total`` and the severity/confidence counts equal bandit's ``metrics._totals``;
    ``by_test`` counts the reported issues per test id (most frequent first; a complete
    count: a test id absent from it was reported zero times); ``errors``
    lists files bandit could not scan, with its reason.
    """

    name: ClassVar[str] = "bandit"
    key_info: ClassVar[dict[str, MetricKey]] = {
        "total": MetricKey("issues of any severity, as bandit's metrics._totals count them"),
        "by_severity": MetricKey("issues per severity", KeyKind.GROUP, LEVELS),
        "by_confidence": MetricKey("issues per confidence", KeyKind.GROUP, LEVELS),
        "by_test": MetricKey(
            "issues per test id, complete: a test id bandit can report that is absent was "
            "reported zero times (bandit.by_test.B602)",
            KeyKind.COUNTS,
            example="B602",
        ),
        "loc": MetricKey("lines of code bandit scanned"),
        "nosec": MetricKey("lines with a # nosec comment"),
        "skipped_tests": MetricKey("tests skipped by a # nosec naming them"),
        "files": MetricKey("files bandit scanned"),
        "errors": MetricKey("files bandit could not scan, each {path, error}", KeyKind.DETAIL),
    }
    keys: ClassVar[tuple[str, ...]] = tuple(key_info)
    complete_counts: ClassVar[tuple[str, ...]] = ("by_test",)
    description: ClassVar[str] = "bandit security findings (the project's bandit configuration)"
    version: ClassVar[str] = "1"

    def unavailable(self) -> str | None:
        """Why bandit cannot run here, or None."""
        return _tools.missing_reason("bandit")

    def code_source(self, key: str, root: Path) -> CodeSource | None:
        """Bandit's test ids for ``by_test``."""
        return _codes.bandit_codes(root) if key == "by_test" else None

    def cache_key(self, context: CollectContext, config_args: list[str]) -> str:
        """What a file's result depends on besides its content: bandit and the project settings."""
        contents = {}
        for arg in config_args:
            candidate = context.root / arg
            if not arg.startswith("-") and candidate.is_file():
                contents[arg] = candidate.read_bytes().decode("utf-8", errors="replace")
        fingerprint = config_fingerprint([config_args, contents, _tools.tool_version("bandit")])
        return f"{self.name}:{self.version}:{fingerprint}"

    def collect(self, context: CollectContext) -> dict[str, Any]:
        """Scan the files not already cached, then sum all per-file results."""
        config_args = project_config_args(context.root)
        key = self.cache_key(context, config_args)
        per_file: dict[str, dict[str, Any]] = {}
        stale = []
        for source in context.files:
            cached = context.cache.get(key, source.sha) if source.readable else None
            if cached is None:
                stale.append(source)
            else:
                per_file[source.path] = cached
        if stale:
            fresh = self._scan([s.path for s in stale], config_args, context)
            for source in stale:
                # A file bandit leaves out of its report was excluded by the project's settings.
                result = fresh.get(os.path.normpath(source.path), {"excluded": True})
                if source.readable:
                    context.cache.put(key, source.sha, result)
                per_file[source.path] = result
        return summarize(per_file)

    def _scan(
        self, paths: list[str], config_args: list[str], context: CollectContext
    ) -> dict[str, dict[str, Any]]:
        results: dict[str, dict[str, Any]] = {}
        timeout = _tools.timeout_for(context.config.collector_timeout_seconds)
        with tempfile.TemporaryDirectory(prefix="plimsoll-bandit-") as tmp:
            report = Path(tmp) / "bandit.json"
            for chunk in _tools.chunked(paths):
                # Exit code 1 means "issues found"; the report is complete either way.
                _tools.run_tool(
                    "bandit",
                    ["-f", "json", "-q", "-o", str(report), *config_args, *chunk],
                    cwd=context.root,
                    timeout=timeout,
                    ok_codes=(0, 1),
                )
                try:
                    text = report.read_text("utf-8")
                except OSError:
                    raise CollectorError("bandit exited without writing its JSON report") from None
                per_file, _ = parse_bandit_json(text)
                results.update(per_file)
                report.unlink()
        return results
