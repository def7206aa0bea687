"""The ``stats`` collector against ``radon raw -j`` and hand-counted docstrings, functions, classes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import radon.complexity
import radon.metrics
import radon.raw
import radon.visitors

from plimsoll.code.collectors._astutil import RAW_COST_LIMIT, parse, raw_analysis_cost
from plimsoll.code.collectors.base import CollectContext, SourceFile
from plimsoll.code.collectors.stats import COLUMNS, StatsCollector

RAW_FIELDS = ("loc", "lloc", "sloc", "comments", "multi", "blank", "single_comments")

SAMPLE = textwrap.dedent(
    '''\
    """Module docstring
    spanning three
    lines."""

    import asyncio  # a trailing comment

    # a comment line


    class Outer:
        """One-line class docstring."""

        class Inner:
            def method(self) -> int:
                """Method
                docstring."""
                return 1

        async def fetch(self) -> None:
            await asyncio.sleep(0)


    def plain(x):
        text = """not a docstring,
        just a multi-line string"""

        def nested():
            return x

        return text, nested


    async def runner():
        """Async docstring."""
        async with asyncio.timeout(1):
            pass
    '''
)


def make_context(root: Path, files: dict[str, str | bytes]) -> CollectContext:
    """Write ``files`` under ``root`` and build a context listing them in order."""
    sources = []
    for relpath, content in files.items():
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        target.write_bytes(data)
        sources.append(SourceFile(relpath, hashlib.sha256(data).hexdigest()))
    return CollectContext(root=root, files=tuple(sources))


def radon_cli(root: Path, *args: str) -> dict:
    """Run radon's own CLI in ``root`` and return its JSON output."""
    done = subprocess.run(
        [sys.executable, "-m", "radon", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def real_files() -> dict[str, str | bytes]:
    """Radon's own modules (real-world code), plus line-end and encoding variants."""
    files: dict[str, str | bytes] = {}
    for module in (radon.visitors, radon.raw, radon.complexity, radon.metrics):
        assert module.__file__ is not None
        files[f"real/{Path(module.__file__).name}"] = Path(module.__file__).read_bytes()
    files["crlf.py"] = SAMPLE.replace("\n", "\r\n").encode()
    files["empty.py"] = ""
    return files


def test_raw_counts_equal_radon_raw_cli(tmp_path: Path) -> None:
    files = {"sample.py": SAMPLE, **real_files()}
    context = make_context(tmp_path, files)
    result = StatsCollector().collect(context)
    expected = radon_cli(tmp_path, "raw", "-j", *files)

    assert result["skipped_files"] == []
    assert result["columns"] == list(COLUMNS)
    for path in files:
        row = dict(zip(result["columns"], result["per_file"][path], strict=True))
        assert {k: row[k] for k in RAW_FIELDS} == {k: expected[path][k] for k in RAW_FIELDS}, path
    for field in RAW_FIELDS:
        assert result["totals"][field] == sum(expected[p][field] for p in files)
    assert result["file_count"] == len(files)


def test_declared_encoding_is_honoured(tmp_path: Path) -> None:
    # radon's CLI reads every file as UTF-8 (it reports an error on this one), so the
    # reference here is radon's API on the text decoded as its coding line declares.
    text = "# -*- coding: latin-1 -*-\n# caf\xe9\nx = 'd\xe9j\xe0'  # \xe9t\xe9\n"
    context = make_context(tmp_path, {"latin.py": text.encode("latin-1")})
    result = StatsCollector().collect(context)
    row = dict(zip(COLUMNS, result["per_file"]["latin.py"], strict=True))
    assert {k: row[k] for k in RAW_FIELDS} == radon.raw.analyze(text)._asdict()


def test_docstrings_functions_and_classes_are_counted(tmp_path: Path) -> None:
    context = make_context(tmp_path, {"sample.py": SAMPLE})
    result = StatsCollector().collect(context)
    row = dict(zip(COLUMNS, result["per_file"]["sample.py"], strict=True))
    # Docstrings: module 3 lines + Outer 1 + Inner.method 2 + runner 1 = 7; the multi-line
    # string assigned in plain() is not a docstring.
    assert row["docstring_lines"] == 7
    # method, fetch, plain, nested, runner: nested functions and methods included.
    assert row["functions"] == 5
    # fetch and runner.
    assert row["async_functions"] == 2
    # Outer and Inner.
    assert row["classes"] == 2
    # The same source with Windows line ends gives the same counts.
    crlf = make_context(tmp_path / "crlf", {"sample.py": SAMPLE.replace("\n", "\r\n")})
    assert (
        StatsCollector().collect(crlf)["per_file"]["sample.py"] == result["per_file"]["sample.py"]
    )


def test_totals_sum_the_files(tmp_path: Path) -> None:
    context = make_context(tmp_path, {"a.py": SAMPLE, "b.py": "async def f():\n    pass\n"})
    result = StatsCollector().collect(context)
    for index, column in enumerate(COLUMNS):
        assert result["totals"][column] == sum(row[index] for row in result["per_file"].values())
    assert result["totals"]["async_functions"] == 3
    assert set(result) == set(StatsCollector.keys)
    json.dumps(result)


def test_file_that_does_not_parse_is_skipped_and_reported(tmp_path: Path) -> None:
    context = make_context(
        tmp_path, {"good.py": "x = 1\n", "bad.py": "def f(:\n    pass\n", "nul.py": "x = 1\0\n"}
    )
    result = StatsCollector().collect(context)
    skipped = {item["path"]: item["error"] for item in result["skipped_files"]}
    assert set(skipped) == {"bad.py", "nul.py"}
    assert "does not parse" in skipped["bad.py"]
    assert list(result["per_file"]) == ["good.py"]
    assert result["file_count"] == 1


def test_huge_literal_is_skipped_quickly(tmp_path: Path) -> None:
    # radon's raw analysis is quadratic in the lines of one statement: on this literal it
    # would run for minutes; the pre-check refuses it at once.
    huge = "TABLE = [\n" + "".join(f"    ({i}, {i + 1}, {i + 2}),\n" for i in range(40_000)) + "]\n"
    context = make_context(tmp_path, {"huge.py": huge, "small.py": "x = [\n    1,\n    2,\n]\n"})
    started = time.perf_counter()
    result = StatsCollector().collect(context)
    assert time.perf_counter() - started < 5
    assert [item["path"] for item in result["skipped_files"]] == ["huge.py"]
    assert "radon's raw analysis" in result["skipped_files"][0]["error"]
    assert list(result["per_file"]) == ["small.py"]


def test_raw_cost_estimate_lets_ordinary_code_through() -> None:
    for module in (radon.visitors, radon.raw):
        assert module.__file__ is not None
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert raw_analysis_cost(parse(source), source) <= RAW_COST_LIMIT
    # A statement of a few hundred short lines is still analysed.
    medium = "X = [\n" + "".join(f"    {i},\n" for i in range(300)) + "]\n"
    assert raw_analysis_cost(parse(medium), medium) <= RAW_COST_LIMIT
