"""The mypy collector against mypy's own summary and line-count report on a real project."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from plimsoll.code.collectors import _tools
from plimsoll.code.collectors.base import CollectorError
from plimsoll.code.collectors.mypy import (
    FunctionCounts,
    MypyCollector,
    count_functions,
    parse_mypy_json,
    parse_mypy_text,
    summarize_messages,
    supports_json,
    type_coverage,
)
from plimsoll.core.config import CodeConfig
from tests.code.collectors.data_tools import (
    CAPTURED,
    DictCache,
    context_for,
    make_project,
    python_files,
    run,
)


def test_parse_captured_output() -> None:
    messages = parse_mypy_json((CAPTURED / "mypy.jsonl").read_text())
    assert [(m.path, m.line, m.code) for m in messages] == [
        ("pkg/legacy.py", 64, "operator"),
        ("pkg/core.py", 23, "return-value"),
    ]
    assert summarize_messages(messages, 6) == {
        "total_errors": 2,
        "by_code": {"operator": 1, "return-value": 1},
        "notes": 0,
        "files_with_errors": 2,
        "files_checked": 6,
    }


def test_parse_skips_non_json_lines_and_counts_notes() -> None:
    text = "\n".join(
        [
            '{"file": "a.py", "line": 1, "severity": "error", "code": null, "message": "m"}',
            "Success: no issues found in 1 source file",
            '{"file": "a.py", "line": 1, "severity": "note", "code": null, "message": "see"}',
        ]
    )
    summary = summarize_messages(parse_mypy_json(text), 1)
    assert (
        summary["total_errors"] == 1 and summary["notes"] == 1 and summary["by_code"] == {"misc": 1}
    )


def test_text_output_of_older_mypy_parses_the_same() -> None:
    text = (
        'pkg/legacy.py:64: error: Unsupported operand types for + ("str" and "int")  [operator]\n'
        'pkg/core.py:23:12: error: Incompatible return value type (got "int", expected "str")  '
        "[return-value]\n"
        "pkg/core.py:30: note: See https://mypy.readthedocs.io/en/stable/x.html\n"
        'pkg/core.py:31: error: Name "x" is not defined\n'
        "Found 3 errors in 2 files (checked 6 source files)\n"
    )
    summary = summarize_messages(parse_mypy_text(text), 6)
    assert summary["by_code"] == {"misc": 1, "operator": 1, "return-value": 1}
    assert (summary["total_errors"], summary["notes"], summary["files_with_errors"]) == (3, 1, 2)
    assert supports_json("1.11.0") and supports_json("2.4.1") and supports_json("unknown")
    assert not supports_json("1.10.1")


@pytest.mark.integration
def test_text_mode_gives_the_same_counts(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = sample
    as_json = MypyCollector().collect(context_for(root))
    monkeypatch.setattr(_tools, "tool_version", lambda name: "1.10.0")
    assert MypyCollector().collect(context_for(root)) == as_json


@pytest.mark.parametrize(
    ("source", "typed", "total"),
    [
        ("def f(a, b): pass", 0, 1),
        ("def f(a: int, b): pass", 1, 1),
        ("def f() -> None: pass", 1, 1),
        ("def f(*args: int): pass", 1, 1),
        ("def f(**kw: int): pass", 1, 1),
        ("def f(a, /, b, *, c: int): pass", 1, 1),
        ("def f(a):\n    # type: (int) -> int\n    return a", 1, 1),
        ("async def f(x): pass", 0, 1),
        ("class C:\n    def m(self): pass\n    def n(self, x: int): pass", 1, 2),
        ("class C:\n    class D:\n        def m(self) -> None: pass", 1, 1),
        ("def outer():\n    def inner(x: int) -> int: return x\n    return inner", 0, 1),
        ("def outer():\n    class Local:\n        def m(self) -> None: pass", 0, 1),
        ("f = lambda x: x", 0, 0),
        ("if True:\n    def f(x: int): pass\nelse:\n    def f(x): pass", 1, 2),
        ("try:\n    def f(): pass\nexcept Exception:\n    def g() -> None: pass", 1, 2),
        ("import functools\n@functools.cache\ndef f(x): pass", 0, 1),
    ],
)
def test_count_functions_follows_mypys_notion(source: str, typed: int, total: int) -> None:
    assert count_functions(textwrap.dedent(source)) == FunctionCounts(typed, total)


def test_type_coverage_percentage() -> None:
    assert type_coverage([FunctionCounts(1, 3), FunctionCounts(1, 1)]) == {
        "typed_functions": 2,
        "total_functions": 4,
        "type_coverage": 50.0,
    }
    assert type_coverage([])["type_coverage"] is None


def _linecount_totals(root: Path, paths: list[str]) -> tuple[int, int]:
    report_dir = root.parent / "linecount"
    run(root, "mypy", "--linecount-report", str(report_dir), *paths)
    first = (report_dir / "linecount.txt").read_text().splitlines()[0].split()
    return int(first[2]), int(first[3])


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample project, shared by the tests that do not change it (mypy's cache stays warm)."""
    return make_project(tmp_path_factory.mktemp("mypy"))


@pytest.mark.integration
def test_counts_equal_mypys_own(sample: Path) -> None:
    root = sample
    paths = python_files(root)
    metrics = MypyCollector().collect(context_for(root))
    text = run(root, "mypy", *paths).stdout
    summary = re.search(
        r"Found (\d+) errors? in (\d+) files? \(checked (\d+) source files?\)", text
    )
    assert summary is not None, text
    assert metrics["total_errors"] == int(summary.group(1)) == 2
    assert metrics["files_with_errors"] == int(summary.group(2))
    assert metrics["files_checked"] == int(summary.group(3))
    codes: dict[str, int] = {}
    for code in re.findall(r": error: .*  \[([a-z-]+)\]$", text, re.MULTILINE):
        codes[code] = codes.get(code, 0) + 1
    assert metrics["by_code"] == codes
    typed, total = _linecount_totals(root, paths)
    assert (metrics["typed_functions"], metrics["total_functions"]) == (typed, total) == (13, 27)
    # Mypy's own incremental cache lives in the project, so the next run starts warm.
    assert (root / ".mypy_cache").is_dir()


@pytest.mark.integration
def test_honours_the_projects_mypy_settings(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("warn_unused_ignores = true", "disallow_untyped_defs = true")
    )
    metrics = MypyCollector().collect(context_for(root))
    assert metrics["by_code"].get("no-untyped-def", 0) > 0
    text = run(root, "mypy", *python_files(root)).stdout
    assert f"Found {metrics['total_errors']} errors" in text


@pytest.mark.integration
def test_long_file_lists_go_through_stdin(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = sample
    direct = MypyCollector().collect(context_for(root))
    monkeypatch.setattr(_tools, "ARGV_BUDGET", 0)
    assert MypyCollector().collect(context_for(root)) == direct


def _found(root: Path, *args: str) -> tuple[int, int]:
    """Errors and source files checked, from `mypy` run by hand."""
    text = run(root, "mypy", *args).stdout
    match = re.search(r"Found (\d+) errors? in \d+ files? \(checked (\d+) source files?\)", text)
    assert match is not None, text
    return int(match.group(1)), int(match.group(2))


@pytest.mark.integration
def test_a_file_that_does_not_parse_is_skipped(tmp_path: Path) -> None:
    """One broken file used to wipe out the whole result ("mypy stopped at bad.py:1")."""
    (tmp_path / "good.py").write_text("x: int = 'a'\n")
    (tmp_path / "bad.py").write_text("def broken(:\n    pass\n")
    (tmp_path / "worse.py").write_text("x = (\n")
    metrics = MypyCollector().collect(context_for(tmp_path, ["bad.py", "good.py", "worse.py"]))
    assert (metrics["total_errors"], metrics["files_checked"]) == _found(tmp_path, "good.py")
    assert metrics["by_code"] == {"assignment": 1}
    assert [s["path"] for s in metrics["skipped_files"]] == ["bad.py", "worse.py"]
    assert metrics["skipped_files"][0]["error"].startswith("does not parse: line 1 ")


@pytest.mark.integration
def test_a_broken_module_others_import_is_skipped_as_mypy_would(tmp_path: Path) -> None:
    """Mypy follows the import to the broken file: it is skipped as `follow_imports = skip`."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "broken.py").write_text("def broken(:\n    pass\n")
    (tmp_path / "pkg" / "user.py").write_text(
        "from pkg.broken import thing\n\n\ndef f(x: int) -> str:\n    return x\n"
    )
    metrics = MypyCollector().collect(context_for(tmp_path))
    assert [s["path"] for s in metrics["skipped_files"]] == ["pkg/broken.py"]
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.mypy.overrides]]\nmodule = ["pkg.broken"]\nfollow_imports = "skip"\n'
    )
    by_hand = _found(tmp_path, "pkg/__init__.py", "pkg/user.py")
    assert (metrics["total_errors"], metrics["files_checked"]) == by_hand == (1, 2)


@pytest.mark.integration
def test_a_file_that_does_not_decode_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text("x: int = 'a'\n")
    (tmp_path / "latin.py").write_bytes(b"x = '\xff\xfe'\n")
    metrics = MypyCollector().collect(context_for(tmp_path))
    assert (metrics["total_errors"], metrics["files_checked"]) == _found(tmp_path, "good.py")
    assert metrics["skipped_files"][0]["path"] == "latin.py"
    assert "decode" in metrics["skipped_files"][0]["error"]


@pytest.mark.integration
def test_other_blocking_errors_still_stop_the_collector(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "conftest.py").write_text("x = 1\n")
    with pytest.raises(
        CollectorError, match=r'^mypy stopped at .*Duplicate module named "conftest"'
    ):
        MypyCollector().collect(context_for(tmp_path))


@pytest.mark.integration
def test_function_counts_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.py").write_text(
        "def f(x: int) -> int:\n    return x\n\n\ndef g(y):\n    return y\n"
    )
    cache = DictCache()
    first = MypyCollector().collect(context_for(tmp_path, cache=cache))
    assert (first["typed_functions"], first["total_functions"], first["total_errors"]) == (1, 2, 0)

    def refuse(source: str) -> Any:
        raise AssertionError("counted again")

    monkeypatch.setattr("plimsoll.code.collectors.mypy.count_functions", refuse)
    assert MypyCollector().collect(context_for(tmp_path, cache=cache)) == first
    assert cache.hits == 1


@pytest.mark.integration
def test_a_configured_folder_without_python_files_is_left_to_the_others(tmp_path: Path) -> None:
    """`mypy pkg docs` refuses docs/ ("no .py[i] files"); it has nothing to check anyway."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x: int = 'a'\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# docs\n")
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "old.py").write_text("y: int = 'b'\n")
    config = CodeConfig(paths=["pkg", "docs", "legacy"], exclude=["legacy"])
    metrics = MypyCollector().collect(context_for(tmp_path, ["pkg/a.py"], config=config))
    assert (metrics["total_errors"], metrics["files_checked"]) == _found(tmp_path, "pkg") == (1, 1)
