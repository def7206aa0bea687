"""Stub files (``.pyi``): mypy, pylint and ruff see them as when run by hand on the folder.

A ``.pyi`` beside a ``.py`` is what mypy checks for that module (given a folder; given both
files it stops on a duplicate module), and ``pylint <folder>`` lints both files (the stub from
the module's source). Each collector here must equal the tool run by hand on the configured
paths, with plimsoll's excludes still applied.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from plimsoll.code.collectors.mypy import MypyCollector
from plimsoll.code.collectors.pylint import PylintCollector, pylint_targets
from plimsoll.code.collectors.ruff import RuffCollector
from plimsoll.core.config import CodeConfig
from tests.code.collectors.data_tools import DictCache, discovered_context, run, write_tree

PROJECT = {
    "pyproject.toml": "[tool.mypy]\ndisallow_untyped_defs = true\n",
    "pkg/__init__.py": '"""Package."""\n',
    # Untyped, but its stub is typed: mypy checks the stub only.
    "pkg/m.py": "def f(x):\n    return x\n\n\ndef g(y):\n    return y + 1\n",
    "pkg/m.pyi": "def f(x: int) -> int: ...\ndef g(y: int) -> int: ...\n",
    # A stub without a module: an untyped def and an unused import.
    "pkg/only.pyi": "import os\n\ndef h(x): ...\n",
    # Uses the stub's types: f returns int, not str.
    "pkg/user.py": "from pkg.m import f\n\n\ndef use() -> str:\n    return f(1)\n",
    # Left out by plimsoll's exclude; would add an error of each tool.
    "vendor/v.pyi": "import sys\ndef w(a): ...\n",
}
CONFIG = CodeConfig(exclude=["vendor"])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "proj", PROJECT)


def _mypy_by_hand(root: Path, *args: str) -> tuple[int, int, int]:
    text = run(root, "mypy", *args).stdout
    found = re.search(r"Found (\d+) errors? in (\d+) files? \(checked (\d+) source files?\)", text)
    assert found is not None, text
    return int(found.group(1)), int(found.group(2)), int(found.group(3))


def _linecount(root: Path, *args: str) -> tuple[int, int]:
    report = root.parent / "linecount"
    run(root, "mypy", "--linecount-report", str(report), *args)
    first = (report / "linecount.txt").read_text().split()
    return int(first[2]), int(first[3])


@pytest.mark.integration
def test_mypy_checks_the_stub_instead_of_the_module(tmp_path: Path) -> None:
    """The reviewer's case: `mypy pkg` finds no issue in 2 source files; so must plimsoll."""
    root = write_tree(
        tmp_path / "proj",
        {key: PROJECT[key] for key in ("pyproject.toml", "pkg/__init__.py", "pkg/m.py")}
        | {"pkg/m.pyi": PROJECT["pkg/m.pyi"]},
    )
    assert "Success: no issues found in 2 source files" in run(root, "mypy", "pkg").stdout
    metrics = MypyCollector().collect(discovered_context(root, CodeConfig(paths=["pkg"])))
    assert (metrics["total_errors"], metrics["files_checked"]) == (0, 2)
    assert (metrics["typed_functions"], metrics["total_functions"]) == _linecount(root, "pkg")


@pytest.mark.integration
def test_mypy_equals_mypy_on_the_folder_with_our_excludes(project: Path) -> None:
    metrics = MypyCollector().collect(discovered_context(project, CONFIG))
    errors, files, checked = _mypy_by_hand(project, "--exclude", "vendor/", ".")
    assert (metrics["total_errors"], metrics["files_with_errors"]) == (errors, files) == (2, 2)
    assert metrics["files_checked"] == checked == 4
    assert metrics["by_code"] == {"no-untyped-def": 1, "return-value": 1}
    typed_total = _linecount(project, "--exclude", "vendor/", ".")
    assert (metrics["typed_functions"], metrics["total_functions"]) == typed_total
    assert metrics["skipped_files"] == []


@pytest.mark.integration
def test_mypy_honours_the_projects_own_exclude(project: Path) -> None:
    """`mypy <folder>` applies the project's exclude: files passed one by one escaped it."""
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'exclude = ["only\\\\.pyi$"]\n')
    metrics = MypyCollector().collect(discovered_context(project, CONFIG))
    assert (metrics["total_errors"], metrics["files_checked"]) == _mypy_by_hand(project, "pkg")[::2]
    assert metrics["files_checked"] == 3


@pytest.mark.integration
def test_mypy_checks_the_module_when_we_exclude_its_stub(project: Path) -> None:
    """As mypy's own exclude does it: the crawl no longer sees the stub, so the .py counts."""
    config = CodeConfig(exclude=["vendor", "m.pyi"])
    metrics = MypyCollector().collect(discovered_context(project, config))
    by_hand = _mypy_by_hand(project, "--exclude", "vendor/|m\\.pyi$", ".")
    assert (metrics["total_errors"], metrics["files_with_errors"], metrics["files_checked"]) == (
        by_hand
    )
    assert metrics["by_code"]["no-untyped-def"] == 3


@pytest.mark.integration
def test_mypy_function_counts_follow_the_stub(project: Path) -> None:
    cache = DictCache()
    first = MypyCollector().collect(discovered_context(project, CONFIG, cache))
    stub = project / "pkg" / "m.pyi"
    stub.write_text(stub.read_text() + "def k(z): ...\n")
    second = MypyCollector().collect(discovered_context(project, CONFIG, cache))
    assert second["total_functions"] == first["total_functions"] + 1
    assert (second["typed_functions"], second["total_functions"]) == _linecount(
        project, "--exclude", "vendor/", "."
    )


def _pylint_by_hand(root: Path, *args: str) -> dict[str, object]:
    done = run(root, "pylint", "--output-format=json2", *args)
    return dict(json.loads(done.stdout)["statistics"])


def _assert_equal(metrics: dict[str, object], plain: dict[str, object]) -> None:
    assert metrics["score"] == plain["score"]
    assert metrics["by_type"] == plain["messageTypeCount"]
    assert metrics["modules"] == plain["modulesLinted"]


@pytest.mark.integration
def test_pylint_lints_stubs_as_pylint_on_the_folder(project: Path) -> None:
    metrics = PylintCollector().collect(discovered_context(project, CONFIG))
    _assert_equal(metrics, _pylint_by_hand(project, "--ignore=vendor", "."))
    assert metrics["top_symbols"]["unused-import"] == 1  # only.pyi's `import os`
    assert metrics["linted_files"] == 5


@pytest.mark.integration
def test_pylint_cache_follows_a_stub_and_its_module(project: Path) -> None:
    """A stub is linted from its module's source: editing either must re-lint both."""
    cache = DictCache()
    PylintCollector().collect(discovered_context(project, CONFIG, cache))
    module = project / "pkg" / "m.py"
    module.write_text(module.read_text() + "\n\ndef unused(a, b):\n    x = 1\n    return a\n")
    edited = PylintCollector().collect(discovered_context(project, CONFIG, cache))
    _assert_equal(edited, _pylint_by_hand(project, "--ignore=vendor", "."))
    assert edited["linted_files"] >= 2  # m.py and m.pyi, and what imports them
    stub = project / "pkg" / "m.pyi"
    stub.write_text(stub.read_text() + "import json\n")
    again = PylintCollector().collect(discovered_context(project, CONFIG, cache))
    _assert_equal(again, _pylint_by_hand(project, "--ignore=vendor", "."))


@pytest.mark.integration
def test_pylint_on_a_package_leaves_out_folders_that_are_no_package(project: Path) -> None:
    write_tree(project, {"pkg/scripts/tool.py": "import os\n", "pkg/sub/__init__.py": "x = 1\n"})
    config = CodeConfig(paths=["pkg"])
    context = discovered_context(project, config)
    assert "pkg/scripts/tool.py" not in pylint_targets(context)
    assert "pkg/sub/__init__.py" in pylint_targets(context)
    metrics = PylintCollector().collect(context)
    _assert_equal(metrics, _pylint_by_hand(project, "pkg"))


@pytest.mark.integration
def test_ruff_checks_stubs(project: Path) -> None:
    metrics = RuffCollector().collect(discovered_context(project, CONFIG))
    done = run(project, "ruff", "check", "--output-format", "json", "--exit-zero", "pkg")
    by_hand = json.loads(done.stdout)
    assert metrics["total"] == len(by_hand) > 0
    assert any(entry["filename"].endswith("only.pyi") for entry in by_hand)
