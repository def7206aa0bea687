"""The coverage collector against coverage.py's own reports of a real test run."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from plimsoll.code.collectors.base import CollectorError
from plimsoll.code.collectors.coverage import (
    CoverageCollector,
    metrics_from,
    parse_cobertura,
    parse_coverage_json,
    run_arguments,
    select,
)
from plimsoll.core.config import CodeConfig, CoverageConfig
from tests.code.collectors.data_tools import (
    CAPTURED,
    context_for,
    discovered_context,
    make_project,
    python_files,
    run,
    write_tree,
)


def _config(**coverage: Any) -> CodeConfig:
    return CodeConfig(coverage=CoverageConfig(**coverage))


def _expected(totals: dict[str, Any]) -> dict[str, Any]:
    """What the collector must report for coverage.py totals from `coverage json`."""
    return {
        "line_coverage": totals["percent_covered"],
        "statement_coverage": totals["percent_statements_covered"],
        "branch_coverage": totals["percent_branches_covered"],
        "covered_lines": totals["covered_lines"],
        "num_statements": totals["num_statements"],
        "missing_lines": totals["missing_lines"],
        "branches": totals["num_branches"],
        "covered_branches": totals["covered_branches"],
        "missing_branches": totals["missing_branches"],
        "partial": totals["num_partial_branches"],
    }


def _coverage_json(root: Path, data_file: Path, *extra: str) -> dict[str, Any]:
    out = root.parent / "expected-coverage.json"
    result = run(root, "coverage", "json", f"--data-file={data_file}", "-o", str(out), *extra)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(out.read_text()))


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample project with its tests run under coverage by the collector (done once)."""
    root = make_project(tmp_path_factory.mktemp("measured"))
    metrics = CoverageCollector().collect(context_for(root, config=_config(run_tests=True)))
    assert metrics["tests_exit_code"] == 0
    assert metrics["source"] == "sqlite:.plimsoll/coverage/.coverage"
    return root


def test_cobertura_and_json_reports_of_one_run_agree() -> None:
    from_json = parse_coverage_json((CAPTURED / "coverage.json").read_text())
    from_xml = parse_cobertura((CAPTURED / "coverage.xml").read_text(), Path("/srv/sample"))
    assert set(from_xml.files) == set(from_json.files)
    paths = list(from_json.files)
    json_totals, json_files = select(from_json, paths)
    xml_totals, xml_files = select(from_xml, paths)
    as_json = metrics_from(json_totals, True, json_files, "json:coverage.json", None)
    as_xml = metrics_from(xml_totals, True, xml_files, "json:coverage.json", None)
    assert as_xml == {**as_json, "excluded_lines": None}
    assert as_json["line_coverage"] == pytest.approx(56.60377358490566)
    assert (as_json["branches"], as_json["partial"]) == (12, 2)


def test_run_arguments() -> None:
    assert run_arguments("python -m pytest -q -x") == ["-m", "pytest", "-q", "-x"]
    assert run_arguments(f"{sys.executable} -m unittest discover") == ["-m", "unittest", "discover"]
    assert run_arguments("python3.11 run_tests.py --fast") == ["run_tests.py", "--fast"]
    assert run_arguments("pytest -q") == ["-m", "pytest", "-q"]
    for bad in ("", "make test", "python -c 'print(1)'", "python 'unclosed"):
        with pytest.raises(CollectorError):
            run_arguments(bad)


def test_select_rejects_data_from_elsewhere() -> None:
    report = parse_coverage_json((CAPTURED / "coverage.json").read_text())
    with pytest.raises(CollectorError, match="none of the analysed files"):
        select(report, ["other/module.py"])


@pytest.mark.integration
def test_test_run_equals_coverage_json(measured: Path) -> None:
    data_file = measured / ".plimsoll" / "coverage" / ".coverage"
    metrics = CoverageCollector().collect(
        context_for(measured, config=_config(data_file=str(data_file.relative_to(measured))))
    )
    expected = _coverage_json(measured, data_file)
    assert {k: metrics[k] for k in _expected(expected["totals"])} == _expected(expected["totals"])
    assert metrics["excluded_lines"] == expected["totals"]["excluded_lines"]
    assert metrics["files"] == len(expected["files"])
    assert metrics["source"] == "sqlite:.plimsoll/coverage/.coverage"
    assert metrics["tests_exit_code"] is None


@pytest.mark.integration
def test_existing_data_json_and_xml_in_the_root(measured: Path) -> None:
    root = measured
    data_file = root / ".plimsoll" / "coverage" / ".coverage"
    expected = _coverage_json(root, data_file)
    want = _expected(expected["totals"])
    try:
        shutil.copyfile(data_file, root / ".coverage")
        from_data = CoverageCollector().collect(context_for(root))
        assert from_data["source"] == "sqlite:.coverage"
        assert {k: from_data[k] for k in want} == want

        (root / ".coverage").unlink()
        run(root, "coverage", "json", f"--data-file={data_file}", "-o", "coverage.json")
        from_json = CoverageCollector().collect(context_for(root))
        assert from_json["source"] == "json:coverage.json"
        assert {k: from_json[k] for k in want} == want

        (root / "coverage.json").unlink()
        run(root, "coverage", "xml", f"--data-file={data_file}", "-o", "coverage.xml")
        from_xml = CoverageCollector().collect(context_for(root))
        assert from_xml["source"] == "xml:coverage.xml"
        for key in want:
            assert from_xml[key] == pytest.approx(want[key], abs=1e-9), key
    finally:
        for name in (".coverage", "coverage.json", "coverage.xml"):
            (root / name).unlink(missing_ok=True)


@pytest.mark.integration
def test_excluded_files_equal_coverage_include(measured: Path) -> None:
    data_file = measured / ".plimsoll" / "coverage" / ".coverage"
    config = _config(data_file=str(data_file.relative_to(measured)))
    paths = [p for p in python_files(measured) if p.startswith("pkg/")]
    metrics = CoverageCollector().collect(context_for(measured, paths, config=config))
    expected = _coverage_json(measured, data_file, "--include=pkg/*")
    assert {k: metrics[k] for k in _expected(expected["totals"])} == _expected(expected["totals"])
    assert metrics["files"] == len(expected["files"]) == 2


@pytest.mark.integration
def test_missing_data_and_failing_tests(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    with pytest.raises(CollectorError, match="no coverage data"):
        CoverageCollector().collect(context_for(root))
    with pytest.raises(CollectorError, match="not found"):
        CoverageCollector().collect(context_for(root, config=_config(data_file="missing.xml")))
    tests = root / "tests" / "test_core.py"
    tests.write_text(tests.read_text() + "\n\ndef test_fails():\n    assert add(1, 1) == 3\n")
    metrics = CoverageCollector().collect(
        context_for(
            root,
            config=_config(run_tests=True, test_command="python -m pytest -q -p no:cacheprovider"),
        )
    )
    assert metrics["tests_exit_code"] == 1
    assert metrics["num_statements"] > 0


@pytest.mark.integration
def test_configured_paths_count_modules_no_test_imports(tmp_path: Path) -> None:
    """With ``paths`` narrowed, an unimported module counts as 0%, as ``--source`` makes it."""
    root = make_project(tmp_path)
    pkg = next(
        p.split("/")[0] for p in python_files(root) if "/" in p and not p.startswith("tests")
    )
    (root / pkg / "unused_module.py").write_text(
        "def never():\n    return 1\n\n\nVALUE = never()\n"
    )
    config = CodeConfig(
        paths=[pkg],
        coverage=CoverageConfig(
            run_tests=True, test_command="python -m pytest -q -p no:cacheprovider"
        ),
    )
    paths = [p for p in python_files(root) if p.startswith(pkg + "/")]
    metrics = CoverageCollector().collect(context_for(root, paths, config=config))
    by_hand = root.parent / "by-hand.coverage"
    assert (
        run(
            root,
            "coverage",
            "run",
            f"--data-file={by_hand}",
            f"--source={pkg}",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
        ).returncode
        == 0
    )
    expected = _coverage_json(root, by_hand)
    assert metrics["line_coverage"] == expected["totals"]["percent_covered"]
    assert "unused_module.py" in " ".join(expected["files"])


# --- what the project's own coverage settings select ------------------------------------------

_SMALL = {
    "pkg/__init__.py": "",
    "pkg/core.py": "def add(a, b):\n    return a + b\n",
    "scripts/tool.py": "import sys\n\n\ndef main():\n    print(sys.argv)\n    return 0\n",
    "tests/__init__.py": "",
    "tests/test_core.py": "from pkg.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}
_RUN = "python -m pytest -q -p no:cacheprovider"


def _by_hand(root: Path, *source: str) -> dict[str, Any]:
    data = root.parent / f"by-hand-{len(source)}.coverage"
    done = run(root, "coverage", "run", f"--data-file={data}", *source, "-m", "pytest", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    return _coverage_json(root, data)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pyproject.toml", '[tool.coverage.run]\nsource_pkgs = ["pkg"]\n'),
        ("tox.ini", "[coverage:run]\ninclude = pkg/*\n"),
    ],
)
def test_the_projects_own_selection_is_kept(tmp_path: Path, name: str, text: str) -> None:
    """`source_pkgs` (or `source`, `include`) selects what is measured: no --source on top."""
    root = write_tree(tmp_path / "proj", {**_SMALL, name: text})
    config = CodeConfig(
        paths=["pkg", "scripts"], coverage=CoverageConfig(run_tests=True, test_command=_RUN)
    )
    metrics = CoverageCollector().collect(discovered_context(root, config))
    expected = _by_hand(root)
    assert metrics["line_coverage"] == expected["totals"]["percent_covered"] == 100.0
    assert metrics["files"] == len(expected["files"]) == 2


@pytest.mark.integration
def test_settings_coverage_does_not_read_are_not_honoured(tmp_path: Path) -> None:
    """Coverage reads .coveragerc alone when it exists: the pyproject's source is not used."""
    files = {
        **_SMALL,
        ".coveragerc": "[run]\nbranch = false\n",
        "pyproject.toml": '[tool.coverage.run]\nsource_pkgs = ["pkg"]\n',
    }
    root = write_tree(tmp_path / "proj", files)
    config = CodeConfig(
        paths=["pkg", "scripts"], coverage=CoverageConfig(run_tests=True, test_command=_RUN)
    )
    metrics = CoverageCollector().collect(discovered_context(root, config))
    expected = _by_hand(root, "--source=pkg,scripts")
    assert metrics["line_coverage"] == expected["totals"]["percent_covered"] < 100.0


# --- a test command that cannot run its tests ---------------------------------------------------


@pytest.mark.integration
def test_a_test_command_that_cannot_start_is_an_error(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "proj", _SMALL)
    config = CodeConfig(
        paths=["pkg"],
        coverage=CoverageConfig(run_tests=True, test_command=f"{_RUN} --no-such-flag"),
    )
    with pytest.raises(CollectorError) as info:
        CoverageCollector().collect(discovered_context(root, config))
    message = str(info.value)
    assert "exit code 4" in message
    assert "unrecognized arguments: --no-such-flag" in message


@pytest.mark.integration
def test_a_collection_error_without_data_is_an_error(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "proj",
        {**_SMALL, "tests/test_core.py": "import no_such_module\n\n\ndef test_x():\n    pass\n"},
    )
    config = CodeConfig(paths=["pkg"], coverage=CoverageConfig(run_tests=True, test_command=_RUN))
    with pytest.raises(CollectorError) as info:
        CoverageCollector().collect(discovered_context(root, config))
    message = str(info.value)
    assert "exit code 2" in message
    assert "no_such_module" in message


@pytest.mark.integration
def test_pytest_interrupted_after_importing_code_is_an_error(tmp_path: Path) -> None:
    """Importing the package measured lines, but no test ran: that is no test coverage."""
    broken = "import pkg.core\nimport no_such_module\n"
    root = write_tree(tmp_path / "proj", {**_SMALL, "tests/test_core.py": broken})
    config = CodeConfig(paths=["pkg"], coverage=CoverageConfig(run_tests=True, test_command=_RUN))
    with pytest.raises(CollectorError, match=r"^the tests did not run \(pytest exit code 2"):
        CoverageCollector().collect(discovered_context(root, config))
