"""Test coverage from coverage.py: its data file, its JSON or Cobertura XML report, or a test run.

Where the numbers come from, in order:

1. ``code.coverage.run_tests``: the configured test command runs under ``coverage run`` in the
   project's root (data in ``code.coverage.data_file`` or ``.plimsoll/coverage/.coverage``),
   then the data is reported as in 2. The project's own selection of what to measure
   (``source``, ``source_pkgs``, ``source_dirs``, ``include``, wherever coverage.py reads them)
   stands; without one, ``code.paths`` are passed as ``--source``. A run that recorded no
   executed line, or a pytest run that did not run the tests (exit codes 2 to 5), is an error
   quoting the end of the command's output; failing tests (exit code 1) keep their coverage;
2. a coverage.py data file (``code.coverage.data_file``, else ``.coverage`` in the root):
   ``coverage json`` runs in the root, so the project's ``[tool.coverage]``/``.coveragerc``
   report settings (omit, exclude_lines, partial_branches) apply;
3. a ``coverage json`` report (``coverage.json``) or a Cobertura report (``coverage.xml``).

The totals are coverage.py's: ``line_coverage`` is its ``percent_covered`` (statements and,
with branch measurement, branches together, as ``coverage report`` shows). Files of the report
that plimsoll excludes from analysis are left out and the totals recomputed with coverage.py's
arithmetic, which then equals ``coverage json --include`` over the remaining files.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from plimsoll.code.collectors import _tools
from plimsoll.code.collectors.base import (
    CollectContext,
    Collector,
    CollectorError,
    KeyKind,
    MetricKey,
)

DEFAULT_RUN_DATA = ".plimsoll/coverage/.coverage"
SETTINGS_DRIVER = "plimsoll.code.collectors._coverage_settings"
# Pytest's exit codes for a run that did not run the tests as a suite; any data is at most
# what importing the test modules executed. 1 (tests failed) keeps its coverage.
PYTEST_DID_NOT_RUN = {
    2: "interrupted, e.g. by errors collecting the tests",
    3: "internal error",
    4: "usage error",
    5: "no tests collected",
}
# How much of the test command's output an error quotes.
TAIL_LINES = 12
MAX_LINE = 300
# Exit status of `coverage json` when the project's fail_under is not met; the report is written.
FAIL_UNDER = 2
_PYTHON = re.compile(r"python(\d+(\.\d+)*)?(\.exe)?")
_CONDITION = re.compile(r"\((\d+)/(\d+)\)")


@dataclass(frozen=True)
class FileNumbers:
    """Coverage counts of one file, named as in coverage.py's JSON report."""

    num_statements: int = 0
    covered_lines: int = 0
    missing_lines: int = 0
    excluded_lines: int | None = 0
    num_branches: int = 0
    covered_branches: int = 0
    missing_branches: int = 0
    num_partial_branches: int = 0


@dataclass(frozen=True)
class CoverageReport:
    """A coverage report: per-file counts, the tool's own totals, whether branches were measured."""

    files: dict[str, FileNumbers]
    totals: Mapping[str, Any]
    branch: bool


def pc(numerator: int, denominator: int) -> float:
    """A percentage as coverage.py computes it (100 when there is nothing to measure)."""
    return 100.0 * numerator / denominator if denominator > 0 else 100.0


def _numbers(summary: Mapping[str, Any]) -> FileNumbers:
    return FileNumbers(
        num_statements=int(summary.get("num_statements", 0)),
        covered_lines=int(summary.get("covered_lines", 0)),
        missing_lines=int(summary.get("missing_lines", 0)),
        excluded_lines=int(summary.get("excluded_lines", 0)),
        num_branches=int(summary.get("num_branches", 0)),
        covered_branches=int(summary.get("covered_branches", 0)),
        missing_branches=int(summary.get("missing_branches", 0)),
        num_partial_branches=int(summary.get("num_partial_branches", 0)),
    )


def parse_coverage_json(text: str) -> CoverageReport:
    """Read a ``coverage json`` report."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CollectorError(
            f"coverage JSON report is not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    if not isinstance(data, dict) or "files" not in data or "totals" not in data:
        raise CollectorError(
            "coverage JSON report has no 'files' and 'totals' (not made by `coverage json`?)"
        )
    files = {name: _numbers(entry.get("summary", {})) for name, entry in data["files"].items()}
    branch = bool(data.get("meta", {}).get("branch_coverage", False))
    return CoverageReport(files, dict(data["totals"]), branch)


def parse_cobertura(text: str, root: Path) -> CoverageReport:
    """Read a Cobertura XML report as ``coverage xml`` writes it (paths relative to ``root``)."""
    try:
        tree = ET.fromstring(text)
    except ET.ParseError as exc:
        raise CollectorError(f"coverage XML report does not parse: {exc}") from None
    sources = [Path(s.text.strip()) for s in tree.iter("source") if s.text and s.text.strip()]
    files: dict[str, FileNumbers] = {}
    branch = int(tree.get("branches-valid", "0") or 0) > 0
    for cls in tree.iter("class"):
        filename = cls.get("filename")
        if not filename:
            continue
        statements = covered = branches = covered_branches = partial = 0
        for line in cls.iter("line"):
            statements += 1
            hits = int(line.get("hits", "0") or 0)
            covered += hits > 0
            if line.get("branch") == "true":
                match = _CONDITION.search(line.get("condition-coverage", ""))
                if match:
                    taken, total = int(match.group(1)), int(match.group(2))
                    branches += total
                    covered_branches += taken
                    # Coverage.py calls a branch line partial when it ran but not every exit did.
                    partial += hits > 0 and taken < total
        name = _xml_path(filename, sources, root)
        previous = files.get(name, FileNumbers(excluded_lines=None))
        files[name] = FileNumbers(
            num_statements=previous.num_statements + statements,
            covered_lines=previous.covered_lines + covered,
            missing_lines=previous.missing_lines + statements - covered,
            excluded_lines=None,
            num_branches=previous.num_branches + branches,
            covered_branches=previous.covered_branches + covered_branches,
            missing_branches=previous.missing_branches + branches - covered_branches,
            num_partial_branches=previous.num_partial_branches + partial,
        )
    numbers = add_up(files.values())
    totals = {**totals_of(numbers, branch), "excluded_lines": None}
    return CoverageReport(files, totals, branch)


def _xml_path(filename: str, sources: list[Path], root: Path) -> str:
    for source in sources:
        candidate = source / filename
        relative = _under(candidate, root)
        if relative is not None:
            return relative
    return _under(Path(filename), root) or Path(filename).as_posix()


def _under(path: Path, root: Path) -> str | None:
    full = path if path.is_absolute() else root / path
    try:
        return Path(os.path.normpath(full)).relative_to(os.path.normpath(root.resolve())).as_posix()
    except ValueError:
        try:
            return Path(os.path.normpath(full)).relative_to(os.path.normpath(root)).as_posix()
        except ValueError:
            return None


def relativize(report: CoverageReport, root: Path) -> CoverageReport:
    """The report with file names under ``root`` made relative to it, as ``coverage json`` does."""
    files = {(_under(Path(name), root) or name): numbers for name, numbers in report.files.items()}
    return CoverageReport(files, report.totals, report.branch)


def add_up(files: Iterable[FileNumbers]) -> FileNumbers:
    """The sum of per-file counts (excluded lines unknown when any file's are)."""
    total = FileNumbers()
    excluded: int | None = 0
    for item in files:
        excluded = (
            None
            if excluded is None or item.excluded_lines is None
            else excluded + item.excluded_lines
        )
        total = replace(
            total,
            num_statements=total.num_statements + item.num_statements,
            covered_lines=total.covered_lines + item.covered_lines,
            missing_lines=total.missing_lines + item.missing_lines,
            num_branches=total.num_branches + item.num_branches,
            covered_branches=total.covered_branches + item.covered_branches,
            missing_branches=total.missing_branches + item.missing_branches,
            num_partial_branches=total.num_partial_branches + item.num_partial_branches,
        )
    return replace(total, excluded_lines=excluded)


def totals_of(numbers: FileNumbers, branch: bool) -> dict[str, Any]:
    """Totals in the shape of ``coverage json``'s, computed as coverage.py does."""
    statements_run = numbers.num_statements - numbers.missing_lines
    branches_run = numbers.num_branches - numbers.missing_branches
    totals: dict[str, Any] = {
        "covered_lines": numbers.covered_lines,
        "num_statements": numbers.num_statements,
        "missing_lines": numbers.missing_lines,
        "excluded_lines": numbers.excluded_lines,
        "percent_covered": pc(
            statements_run + branches_run, numbers.num_statements + numbers.num_branches
        ),
        "percent_statements_covered": pc(statements_run, numbers.num_statements),
    }
    if branch:
        totals.update(
            num_branches=numbers.num_branches,
            covered_branches=numbers.covered_branches,
            missing_branches=numbers.missing_branches,
            num_partial_branches=numbers.num_partial_branches,
            percent_branches_covered=pc(branches_run, numbers.num_branches),
        )
    return totals


def select(report: CoverageReport, analysed: Iterable[str]) -> tuple[dict[str, Any], int]:
    """Totals over the report's files that plimsoll analyses, and how many files that is.

    When every file of the report is analysed, these are the tool's own totals unchanged.
    """
    wanted = {os.path.normpath(p) for p in analysed}
    kept = {name: n for name, n in report.files.items() if os.path.normpath(name) in wanted}
    if report.files and not kept:
        example = next(iter(report.files))
        raise CollectorError(
            f"coverage data names none of the analysed files (first: {example}); "
            "was it made in another checkout?"
        )
    if len(kept) == len(report.files):
        return dict(report.totals), len(kept)
    return totals_of(add_up(kept.values()), report.branch), len(kept)


def metrics_from(
    totals: Mapping[str, Any], branch: bool, files: int, source: str, exit_code: int | None
) -> dict[str, Any]:
    """The collector's metrics from coverage.py-shaped totals."""
    has_branches = branch and "num_branches" in totals
    return {
        "line_coverage": float(totals["percent_covered"]),
        "statement_coverage": float(
            totals.get(
                "percent_statements_covered",
                pc(
                    int(totals["num_statements"]) - int(totals["missing_lines"]),
                    int(totals["num_statements"]),
                ),
            )
        ),
        "branch_coverage": float(
            totals.get(
                "percent_branches_covered",
                pc(
                    int(totals["num_branches"]) - int(totals["missing_branches"]),
                    int(totals["num_branches"]),
                ),
            )
        )
        if has_branches
        else None,
        "covered_lines": int(totals["covered_lines"]),
        "num_statements": int(totals["num_statements"]),
        "missing_lines": int(totals["missing_lines"]),
        "excluded_lines": None
        if totals.get("excluded_lines") is None
        else int(totals["excluded_lines"]),
        "branches": int(totals["num_branches"]) if has_branches else None,
        "covered_branches": int(totals["covered_branches"]) if has_branches else None,
        "missing_branches": int(totals["missing_branches"]) if has_branches else None,
        "partial": int(totals["num_partial_branches"]) if has_branches else None,
        "files": files,
        "source": source,
        "tests_exit_code": exit_code,
    }


def run_arguments(test_command: str) -> list[str]:
    """The ``coverage run`` arguments that run ``test_command`` (a Python module or script)."""
    try:
        tokens = shlex.split(test_command)
    except ValueError as exc:
        raise CollectorError(f"code.coverage.test_command does not parse: {exc}") from None
    if not tokens:
        raise CollectorError("code.coverage.test_command is empty")
    first = tokens[0]
    if _PYTHON.fullmatch(os.path.basename(first)) or first == sys.executable:
        rest = tokens[1:]
        if len(rest) >= 2 and rest[0] == "-m":
            return ["-m", *rest[1:]]
        if rest and not rest[0].startswith("-"):
            return rest
    elif re.fullmatch(r"[A-Za-z_][\w.]*", first) and _importable(first):
        # `pytest -q` is `python -m pytest -q` for a tool that is also an importable module.
        return ["-m", *tokens]
    raise CollectorError(
        "code.coverage.test_command must run Python: "
        "'python -m <module> ...' or 'python <script> ...' "
        f"(got {test_command!r})"
    )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class CoverageCollector(Collector):
    """Line, statement and branch coverage with coverage.py's counts, from its data or a test run.

    ``line_coverage`` is coverage.py's total percentage (``coverage report``'s TOTAL);
    ``statement_coverage`` counts statements only; ``branch_coverage`` and the branch counts
    are None without branch data; ``source`` says which data was read (``kind:path``);
    ``tests_exit_code`` is the test command's exit status when plimsoll ran the tests.
    """

    name: ClassVar[str] = "coverage"
    key_info: ClassVar[dict[str, MetricKey]] = {
        "line_coverage": MetricKey(
            "coverage.py's total percentage (statements and, when measured, branches): the "
            "TOTAL of `coverage report`"
        ),
        "statement_coverage": MetricKey("statements run over statements, in percent"),
        "branch_coverage": MetricKey(
            "branches taken over branches, in percent (null without branch measurement)"
        ),
        "covered_lines": MetricKey("statements run"),
        "num_statements": MetricKey("statements measured"),
        "missing_lines": MetricKey("statements not run"),
        "excluded_lines": MetricKey("lines excluded from measurement (null when not known)"),
        "branches": MetricKey("branches measured (null without branch measurement)"),
        "covered_branches": MetricKey("branches taken (null without branch measurement)"),
        "missing_branches": MetricKey("branches not taken (null without branch measurement)"),
        "partial": MetricKey("partially taken branch points (null without branch measurement)"),
        "files": MetricKey("analysed files the coverage data covers"),
        "source": MetricKey(
            "where the data came from, as kind:path (sqlite:.coverage, json:coverage.json, "
            "xml:coverage.xml)",
            KeyKind.TEXT,
        ),
        "tests_exit_code": MetricKey(
            "exit code of the configured test run (null when the tests were not run)"
        ),
    }
    keys: ClassVar[tuple[str, ...]] = tuple(key_info)
    description: ClassVar[str] = "test coverage from coverage.py data or a test run"

    def unavailable(self) -> str | None:
        """Why coverage.py cannot run here, or None."""
        return _tools.missing_reason("coverage")

    def collect(self, context: CollectContext) -> dict[str, Any]:
        """Run the tests when configured, then read the coverage data."""
        settings = context.config.coverage
        timeout = _tools.timeout_for(context.config.collector_timeout_seconds)
        exit_code: int | None = None
        if settings.run_tests:
            data = (
                settings.data_file
                if settings.data_file and _kind(settings.data_file) == "sqlite"
                else None
            )
            data_path = context.root / (data or DEFAULT_RUN_DATA)
            exit_code = self._run_tests(context, data_path, timeout)
            kind, path = "sqlite", data_path
        else:
            kind, path = self._find_data(context)
        if kind == "sqlite":
            report = self._report_sqlite(context, path, timeout)
        elif kind == "json":
            report = parse_coverage_json(path.read_text("utf-8"))
        else:
            report = parse_cobertura(path.read_text("utf-8"), context.root)
        totals, files = select(relativize(report, context.root), context.paths)
        return metrics_from(
            totals, report.branch, files, f"{kind}:{_display(path, context.root)}", exit_code
        )

    def _find_data(self, context: CollectContext) -> tuple[str, Path]:
        configured = context.config.coverage.data_file
        if configured:
            path = context.root / configured
            if not path.is_file():
                raise CollectorError(
                    f"coverage data file {configured} not found (code.coverage.data_file)"
                )
            return _kind(configured), path
        for name in (".coverage", "coverage.json", "coverage.xml"):
            if (context.root / name).is_file():
                return _kind(name), context.root / name
        raise CollectorError(
            "no coverage data (.coverage, coverage.json or coverage.xml) in the project root; "
            "set code.coverage.data_file or code.coverage.run_tests"
        )

    def _run_tests(self, context: CollectContext, data_path: Path, timeout: float | None) -> int:
        args = run_arguments(context.config.coverage.test_command)
        data_path.parent.mkdir(parents=True, exist_ok=True)
        data_arg = f"--data-file={data_path}"
        # Stale data or parallel pieces from an earlier run must not mix into this one.
        _tools.run_tool("coverage", ["erase", data_arg], cwd=context.root, timeout=timeout)
        paths = context.config.paths
        narrowed = paths != ["."] and not project_selection(context.root, timeout)
        source = [f"--source={','.join(paths)}"] if narrowed else []
        result = _tools.run_tool(
            "coverage",
            ["run", data_arg, *source, *args],
            cwd=context.root,
            timeout=timeout,
            ok_codes=range(256),
        )
        pieces = list(data_path.parent.glob(data_path.name + ".*"))
        if pieces:
            # The project runs coverage in parallel mode: one data file per process to combine.
            _tools.run_tool("coverage", ["combine", data_arg], cwd=context.root, timeout=timeout)
        if not has_measurements(data_path):
            raise CollectorError(
                f"the test command produced no coverage data (exit code {result.returncode})"
                f"{output_tail(result)}"
            )
        if args[:2] == ["-m", "pytest"] and result.returncode in PYTEST_DID_NOT_RUN:
            raise CollectorError(
                f"the tests did not run (pytest exit code {result.returncode}: "
                f"{PYTEST_DID_NOT_RUN[result.returncode]}){output_tail(result)}"
            )
        return result.returncode

    def _report_sqlite(
        self, context: CollectContext, path: Path, timeout: float | None
    ) -> CoverageReport:
        with tempfile.TemporaryDirectory(prefix="plimsoll-coverage-") as tmp:
            out = Path(tmp) / "coverage.json"
            _tools.run_tool(
                "coverage",
                ["json", f"--data-file={path}", "-o", str(out)],
                cwd=context.root,
                timeout=timeout,
                ok_codes=(0, FAIL_UNDER),
            )
            try:
                return parse_coverage_json(out.read_text("utf-8"))
            except OSError:
                raise CollectorError("coverage json wrote no report") from None


def project_selection(root: Path, timeout: float | None = None) -> dict[str, Any]:
    """The project's coverage.py settings that select what is measured (``source``,
    ``source_pkgs``, ``source_dirs``, ``include``), as coverage.py itself reads them in ``root``.

    When there is none, the configured paths are passed as ``--source``: without it,
    coverage.py only counts files the tests imported, so a module no test touches would not
    lower the percentage; with it, such a module counts as 0% covered. When there is one,
    ``--source`` would widen (``source``, ``source_pkgs``) or void (``include``) it, so the
    project's own selection stands, as ``coverage run`` alone would measure.
    """
    result = _tools.run_tool(SETTINGS_DRIVER, [], cwd=root, timeout=timeout)
    try:
        found = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise CollectorError(
            f"could not read the project's coverage settings: {_tools.one_line(result.stdout)}"
        ) from None
    return dict(found) if isinstance(found, dict) else {}


def has_measurements(data_path: Path) -> bool:
    """Whether the coverage data file at ``data_path`` recorded any executed line.

    With ``--source``, coverage.py lists the files it found but never ran, with no lines;
    such data says nothing about the tests.
    """
    if not data_path.is_file():
        return False
    from coverage import CoverageData

    data = CoverageData(basename=str(data_path))
    try:
        data.read()
    except Exception:  # noqa: BLE001 - a data file coverage.py cannot read holds no data
        return False
    return any(data.lines(name) for name in data.measured_files())


def output_tail(result: _tools.ToolResult, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines the test command printed (stdout, then stderr), for an error."""
    kept: list[str] = []
    for text in (result.stdout, result.stderr):
        kept += [line.rstrip() for line in text.splitlines() if line.strip()]
    # Coverage.py's own warning about the missing data adds nothing to the test command's words.
    kept = [line for line in kept if "CoverageWarning" not in line and "_warn(" not in line]
    if not kept:
        return "; it printed nothing"
    tail = "\n".join(f"  {line[:MAX_LINE]}" for line in kept[-lines:])
    return f"; its output ended with:\n{tail}"


def _kind(name: str) -> str:
    if name.endswith(".json"):
        return "json"
    if name.endswith(".xml"):
        return "xml"
    return "sqlite"


def _display(path: Path, root: Path) -> str:
    return _under(path, root) or str(path)
